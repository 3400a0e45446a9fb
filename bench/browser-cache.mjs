// The persistent compile cache in the browser (issue 19), in Chromium, per module:
// 1. the options, raw: what a page does without a cache on every load (meter() + compile),
//    against reading the metered bytes back from IndexedDB and compiling them, against a
//    Response in Cache Storage handed to WebAssembly.compileStreaming (which lets Chromium
//    cache the compiled code itself: compared with a Response put just before, which it cannot
//    have), and the same with what the library does on a hit: the Response teed, one half
//    compiled, the other hashed (SHA-256);
// 2. Sandbox.create on a fresh page load with `cacheDir` (a hit) against without (meter +
//    compile), rounds alternating, on the Vite-built page e2e/compile-cache.
// Each number is measured on a fresh page load, over several loads; medians.
// Run after a build: `npx tsc && node bench/browser-cache.mjs`.
import { readFileSync } from 'node:fs'
import { writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'vite'
import { launchChromium, serveStatic } from '../test/browser/chromium.mjs'

const root = join(import.meta.dirname, '..')
const LOADS = 5
const MODULES = [
  ['sql.js', 'node_modules/sql.js/dist/sql-wasm.wasm'],
  ['esbuild-wasm', 'node_modules/esbuild-wasm/esbuild.wasm'],
]

const PAGE = `<!doctype html><script type="module">
import { meter } from '/dist/core/meter/meter.js'
const params = new URLSearchParams(location.search)
const src = params.get('src'), phase = params.get('phase')
const OPTIONS = { fuel: 1000000000n, stackDepth: 10000, memory: 256 * 1024 * 1024, deferStart: true }
const idb = () => new Promise((resolve, reject) => {
  const open = indexedDB.open('cache-probe', 1)
  open.onupgradeneeded = () => open.result.createObjectStore('entries')
  open.onsuccess = () => resolve(open.result); open.onerror = () => reject(open.error)
})
const tx = (db, mode, run) => new Promise((resolve, reject) => {
  const t = db.transaction('entries', mode); const req = run(t.objectStore('entries'))
  t.oncomplete = () => resolve(req.result); t.onerror = () => reject(t.error)
})
const r = {}
try {
  const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer())
  if (phase === 'write') {
    const metered = meter(bytes, OPTIONS).bytes
    await tx(await idb(), 'readwrite', (s) => s.put(metered, src))
    const cache = await caches.open('cache-probe')
    await cache.put(new Request('/metered/' + encodeURIComponent(src)), new Response(metered, { headers: { 'content-type': 'application/wasm' } }))
  } else {
    let t = performance.now()
    const metered = meter(bytes, OPTIONS).bytes
    r.meterMs = performance.now() - t
    t = performance.now(); await WebAssembly.compile(metered); r.compileMs = performance.now() - t
    t = performance.now()
    const stored = await tx(await idb(), 'readonly', (s) => s.get(src))
    r.idbReadMs = performance.now() - t
    t = performance.now(); await WebAssembly.compile(stored); r.idbCompileMs = performance.now() - t
    const cache = await caches.open('cache-probe')
    // A Response put just now, never compiled before: no code cache can exist for it.
    await cache.put('/fresh/' + encodeURIComponent(src), new Response(metered, { headers: { 'content-type': 'application/wasm' } }))
    t = performance.now()
    await WebAssembly.compileStreaming(await cache.match('/fresh/' + encodeURIComponent(src)))
    r.freshStreamingMs = performance.now() - t
    t = performance.now()
    const response = await cache.match('/metered/' + encodeURIComponent(src))
    await WebAssembly.compileStreaming(response)
    r.cacheStreamingMs = performance.now() - t
    t = performance.now()
    const teed = await cache.match('/metered/' + encodeURIComponent(src))
    const copy = teed.clone()
    const [, buffer] = await Promise.all([WebAssembly.compileStreaming(teed), copy.arrayBuffer()])
    await crypto.subtle.digest('SHA-256', buffer)
    r.cacheVerifiedMs = performance.now() - t
  }
} catch (e) { r.error = String(e?.stack ?? e) }
window.__r = r
</script>`

/**
 * Section 2: Sandbox.create on fresh page loads of e2e/compile-cache (cross-origin isolated:
 * the modules' imports are granted as stub host functions), with `cacheDir` and without.
 */
async function sandboxCreate(browser) {
  await build({ configFile: join(root, 'e2e/compile-cache/vite.config.ts'), logLevel: 'error' })
  const { url, server } = await serveStatic(root, true)
  const context = await browser.newContext()
  try {
    const createOnce = async (request) => {
      const tab = await context.newPage()
      try {
        await tab.goto(`${url}e2e/compile-cache/dist/index.html`)
        await tab.waitForFunction(() => 'cacheProbe' in globalThis, undefined, { timeout: 60_000 })
        return await tab.evaluate((r) => globalThis.cacheProbe.create(r), request)
      } finally {
        await tab.close()
      }
    }
    console.log(`\n== Sandbox.create on a fresh page load, with cacheDir (Cache Storage hit) vs without (${LOADS} rounds, alternating; medians)`)
    // What a create costs besides its module (the worker's start, instantiation): a one-function module.
    const floor = []
    for (let i = 0; i < LOADS; i++) floor.push((await createOnce({ source: ADD_BYTES })).createMs)
    console.log(`\nfloor: a one-function module, no cacheDir  ${median(floor).toFixed(1).padStart(7)} ms  (loads: ${floor.map((x) => x.toFixed(0)).join(', ')})`)
    for (const [name, src] of MODULES) {
      const module = new WebAssembly.Module(readFileSync(join(root, src)))
      const stubs = WebAssembly.Module.imports(module).map((i) => [i.module, i.name])
      const request = { source: `/${src}`, fetch: true, stubs }
      const first = await createOnce({ ...request, cacheDir: 'bench' }) // writes the entry
      if (first.events[0]?.outcome !== 'miss' || !first.events[0].stored) throw new Error(`${name}: expected a stored miss, got ${JSON.stringify(first.events)}`)
      const cached = [], plain = []
      for (let i = 0; i < LOADS; i++) {
        const hit = await createOnce({ ...request, cacheDir: 'bench' })
        if (hit.events[0]?.outcome !== 'hit') throw new Error(`${name}: expected a hit, got ${JSON.stringify(hit.events)}`)
        cached.push(hit.createMs)
        plain.push((await createOnce(request)).createMs)
      }
      const c = median(cached), p = median(plain)
      console.log(`\n${name}`)
      console.log(`  without cacheDir (meter + compile)  ${p.toFixed(1).padStart(7)} ms  (loads: ${plain.map((x) => x.toFixed(0)).join(', ')})`)
      console.log(`  cacheDir, hit                       ${c.toFixed(1).padStart(7)} ms  (loads: ${cached.map((x) => x.toFixed(0)).join(', ')}; first load, a miss: ${first.createMs.toFixed(0)})`)
      console.log(`  ratio                               ${(c / p).toFixed(2).padStart(7)}x`)
    }
  } finally {
    await context.close()
    server.close()
  }
}

/** (module (func (export "add") (param i32 i32) (result i32) ...)) as bytes: text would load wabt. */
const ADD_BYTES = [0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3, 97, 100, 100, 0, 0, 10, 9, 1, 7, 0, 32, 0, 32, 1, 106, 11]

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }

const page = join(root, 'dist', 'browser-cache-probe.html')
await writeFile(page, PAGE)
const browser = await launchChromium()
const { url, server } = await serveStatic(root, false)
try {
  const context = await browser.newContext()
  const tab = await context.newPage()
  const load = async (src, phase) => {
    await tab.goto(`${url}dist/browser-cache-probe.html?src=/${src}&phase=${phase}`)
    await tab.waitForFunction(() => window.__r !== undefined, undefined, { timeout: 120_000 })
    const r = await tab.evaluate(() => window.__r)
    if (r.error) throw new Error(r.error)
    return r
  }
  console.log(`== Browser compile cache, measured (Chromium ${browser.version()}; ${LOADS} page loads, medians)`)
  for (const [name, src] of MODULES) {
    await load(src, 'write')
    const runs = []
    for (let i = 0; i < LOADS; i++) runs.push(await load(src, 'read'))
    const m = (k) => median(runs.map((r) => r[k]))
    console.log(`\n${name}`)
    console.log(`  today: meter() + compile           ${(m('meterMs') + m('compileMs')).toFixed(1).padStart(7)} ms  (meter ${m('meterMs').toFixed(1)}, compile ${m('compileMs').toFixed(1)})`)
    console.log(`  IndexedDB read + compile           ${(m('idbReadMs') + m('idbCompileMs')).toFixed(1).padStart(7)} ms  (read ${m('idbReadMs').toFixed(1)}, compile ${m('idbCompileMs').toFixed(1)})`)
    console.log(`  Cache Storage + compileStreaming   ${m('cacheStreamingMs').toFixed(1).padStart(7)} ms  (loads: ${runs.map((r) => r.cacheStreamingMs.toFixed(0)).join(', ')})`)
    console.log(`  the same, a Response never compiled ${m('freshStreamingMs').toFixed(1).padStart(6)} ms  (no code cache possible)`)
    console.log(`  the same, teed + SHA-256 checked   ${m('cacheVerifiedMs').toFixed(1).padStart(7)} ms  (loads: ${runs.map((r) => r.cacheVerifiedMs.toFixed(0)).join(', ')})`)
  }
  await context.close()
  await sandboxCreate(browser)
} finally {
  server.close()
  await browser.close()
  await rm(page, { force: true })
}
