/**
 * The native body rewriter in Chromium, on the page's main thread: loaded there (after
 * `prepareNativeRewriter()`, what Sandbox.create awaits, for a browser that refuses to compile
 * it synchronously), and giving the TypeScript rewriter's bytes in Chromium's engine too:
 * SQLite, and the try_table fixture Node 20 cannot read.
 */
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { launchChromium, serveStatic } from './chromium.mjs'

const root = join(import.meta.dirname, '../..')

it('on the main thread: native after prepareNativeRewriter(), with the TypeScript rewriter\'s bytes', async () => {
  const browser = await launchChromium()
  const { url, server } = await serveStatic(root, false)
  try {
    const page = await browser.newPage()
    await page.goto(`${url}package.json`)
    // Page code as text: vitest would rewrite a dynamic import() inside a function.
    const out = await page.evaluate(`(async () => {
      const { meter } = await import('${url}dist/core/meter/index.js')
      const native = await import('${url}dist/core/meter/native-rewriter.js')
      const load = async (path) => new Uint8Array(await (await fetch('${url}' + path)).arrayBuffer())
      const modules = [await load('node_modules/sql.js/dist/sql-wasm.wasm'), await load('test/fixtures/wasm/try-table-loop.wasm')]
      const options = [{ fuel: 1e9 }, { fuel: 1e9, stackDepth: 1000, profile: true }, { fuel: 1e9, metering: 'fast', sharedFuel: true }]
      const hex = async (bytes) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))).map((b) => b.toString(16).padStart(2, '0')).join('')
      const run = async () => { const out = []; for (const m of modules) for (const o of options) out.push(await hex(meter(m, o).bytes)); return out }
      native.useNativeRewriter(false)
      const before = await run()
      native.useNativeRewriter(true)
      await native.prepareNativeRewriter()
      const loadedAfter = native.nativeRewriterLoaded()
      const after = await run()
      return { loadedAfter, before, after, stillLoaded: native.nativeRewriterLoaded() }
    })()`) as { loadedAfter: boolean; stillLoaded: boolean; before: string[]; after: string[] }
    expect(out.loadedAfter).toBe(true)
    expect(out.stillLoaded).toBe(true) // its memory stayed small enough to keep
    expect(out.after).toEqual(out.before)
    expect(out.after).toHaveLength(6)
  } finally {
    server.close()
    await browser.close()
  }
}, 120_000)
