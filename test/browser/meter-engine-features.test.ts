/**
 * The meter on features Chromium runs and Node 20 does not (so only here can they be
 * validated and run): try_table, whose handler may branch to a loop header. The fixture's
 * `burn` charges fuel and throws to a catch_all that targets the caller's loop; the header
 * must charge on top of what `burn` charged, never from a stale copy (which would refund it).
 * Built from test/fixtures/wasm/try-table-loop.wat (wabt with exceptions; kept as a binary).
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { launchChromium, serveStatic } from './chromium.mjs'

const root = join(import.meta.dirname, '../..')

it('a try_table handler that branches to a loop header refunds nothing, and restores the call depth', async () => {
  const browser = await launchChromium()
  const { url, server } = await serveStatic(root, false)
  try {
    const page = await browser.newPage()
    await page.goto(`${url}test/fixtures/wasm/try-table-loop.wat`)
    // Page code as text: vitest would rewrite a dynamic import() inside a function.
    const out = await page.evaluate(`(async () => {
      const { meter } = await import('${url}dist/core/meter/index.js')
      const bytes = new Uint8Array(await (await fetch('${url}test/fixtures/wasm/try-table-loop.wasm')).arrayBuffer())
      const result = { validates: WebAssembly.validate(bytes) }
      for (const stackDepth of [undefined, 1000]) {
        const m = meter(bytes, { fuel: 100000, stackDepth })
        const instance = (await WebAssembly.instantiate(m.bytes)).instance
        const fuel = m.fuel(instance)
        const run = instance.exports.run
        // 1000 rounds of 5000 iterations: far over a budget of 100,000.
        let outcome
        try { outcome = run(1000, 5000) } catch (e) { outcome = String(e) }
        result['big ' + stackDepth] = { outcome, exhausted: fuel.exhausted(), used: String(fuel.used()) }
        // Small enough to finish: the same result as the original, fuel for every round.
        const fresh = (await WebAssembly.instantiate(m.bytes)).instance
        const freshFuel = m.fuel(fresh)
        freshFuel.set(10n ** 9n)
        const expected = (await WebAssembly.instantiate(bytes)).instance.exports.run(2000, 1)
        result['small ' + stackDepth] = { value: fresh.exports.run(2000, 1), expected, used: String(freshFuel.used()) }
      }
      return result
    })()`) as Record<string, unknown>
    expect(out.validates).toBe(true)
    for (const depth of ['undefined', '1000']) {
      expect(out[`big ${depth}`]).toMatchObject({ exhausted: true, used: '100000' })
      const small = out[`small ${depth}`] as { value: number; expected: number; used: string }
      expect(small.value).toBe(small.expected) // 2000 rounds of depth 1 under stackDepth 1000: no overflow
      expect(Number(small.used)).toBeGreaterThan(2000 * 5)
    }
  } finally {
    server.close()
    await browser.close()
  }
}, 120_000)
