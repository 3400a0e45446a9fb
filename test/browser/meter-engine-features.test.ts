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
import { getWabt } from '../core/meter/helpers.js'
import { WABT_FEATURES } from '../../core/sandbox/wat-to-wasm.js'

const root = join(import.meta.dirname, '../..')

it('a try_table handler that branches to a loop header refunds nothing, and restores the call depth', async () => {
  // Page code as text: vitest would rewrite a dynamic import() inside a function.
  const out = await inPage((url) => `(async () => {
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
}, 120_000)

// Red team (fuel passing): a try_table handler leaving a function that takes the counter as a
// parameter returned its stale local copy, refunding what the unwound callee charged; such a
// module is now metered without passing. Node 20 cannot run try_table, so it is checked here.
it('a try_table handler leaving a function only called directly refunds nothing its callee charged', async () => {
  const bytes = await watUnchecked(`(module
    (tag $e)
    (func $work (export "work") (param i32) (local i32)
      (loop $l (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
      (throw $e))
    (func $catcher (param i32) (try_table (catch_all 0) (call $work (local.get 0))))
    (func (export "run") (param i32) (result i32) (call $catcher (local.get 0)) (call $catcher (local.get 0)) (i32.const 1)))`)
  const out = await inPage((url) => `(async () => {
      const { meter } = await import('${url}dist/core/meter/index.js')
      const bytes = new Uint8Array(${JSON.stringify(Array.from(bytes))})
      const m = meter(bytes, { fuel: 'unlimited' })
      const instance = (await WebAssembly.instantiate(m.bytes)).instance
      const fuel = m.fuel(instance)
      const used = []
      for (const n of [10, 1000]) { fuel.set(10n ** 9n); instance.exports.run(n); used.push(Number(fuel.used())) }
      return used
    })()`) as number[]
  // Each of the 2 x n loop iterations costs several fuel: with the refund, both were 11.
  expect(out[0]).toBeGreaterThan(2 * 10 * 5)
  expect(out[1]).toBeGreaterThan(2 * 1000 * 5)
}, 120_000)

/** wat to a binary without the Node engine's validation (which does not know try_table). */
async function watUnchecked(text: string): Promise<Uint8Array> {
  const mod = (await getWabt()).parseWat('unchecked.wat', text, { ...WABT_FEATURES })
  try {
    mod.resolveNames()
    return new Uint8Array(mod.toBinary({}).buffer)
  } finally {
    mod.destroy()
  }
}

/** Evaluates the page code `script(url)` gives, in Chromium, on a page of the repository served at `url`. */
async function inPage(script: (url: string) => string): Promise<unknown> {
  const browser = await launchChromium()
  const { url, server } = await serveStatic(root, false)
  try {
    const page = await browser.newPage()
    await page.goto(`${url}test/fixtures/wasm/try-table-loop.wat`)
    return await page.evaluate(script(url))
  } finally {
    server.close()
    await browser.close()
  }
}
