// Would a persistent compile cache help in the browser? (issue 19, measured, not built)
// In Chromium, per module: what a page does today on every load (meter() + compile), against
// reading the metered bytes back from IndexedDB and compiling them, and against a Response
// in Cache Storage handed to WebAssembly.compileStreaming (which lets Chromium cache the
// compiled code itself). Each "read" is measured on a fresh page load (the page is reloaded),
// over several loads; medians. Run after a build: `node bench/browser-cache.mjs`.
import { writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
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
    t = performance.now()
    const response = await cache.match('/metered/' + encodeURIComponent(src))
    await WebAssembly.compileStreaming(response)
    r.cacheStreamingMs = performance.now() - t
  }
} catch (e) { r.error = String(e?.stack ?? e) }
window.__r = r
</script>`

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
  }
} finally {
  server.close()
  await browser.close()
  await rm(page, { force: true })
}
