// Driven by test/browser/compile-cache.test.ts and bench/browser-cache.mjs through
// `window.cacheProbe`: each page load is a fresh page (nothing in memory), Cache Storage stays.
import { Sandbox, type CompileCacheEvent } from 'wasm-sandbox'

interface CreateRequest {
  /** WebAssembly text, a URL to fetch, or bytes (as a plain array). */
  source: string | number[]
  fetch?: boolean
  cacheDir?: string
  /** Host functions to grant as stubs returning 0: [module, name][] (for real-world modules). */
  stubs?: [string, string][]
  call?: { fn: string; args: number[] }
}

const probe = {
  /** One create (timed) and optionally one call: its result, fuel and the compile-cache events. */
  async create(request: CreateRequest) {
    const source = Array.isArray(request.source) ? new Uint8Array(request.source)
      : request.fetch ? new Uint8Array(await (await fetch(request.source)).arrayBuffer()) : request.source
    const imports: Record<string, Record<string, () => number>> = {}
    for (const [module, name] of request.stubs ?? []) (imports[module] ??= {})[name] = () => 0
    const events: CompileCacheEvent[] = []
    const start = performance.now()
    const sandbox = await Sandbox.create(source, {
      fuel: 1e9, memory: '256MB', imports, ...(request.cacheDir ? { cacheDir: request.cacheDir } : {}),
      onEvent: (e) => { if (e.type === 'compile-cache') events.push(e) },
    })
    const createMs = performance.now() - start
    try {
      const result = request.call ? await sandbox.call(request.call.fn, ...request.call.args) : null
      return { createMs, result, fuel: request.call ? String(sandbox.lastUsage?.fuelUsed) : null, events }
    } finally {
      await sandbox.close()
    }
  },
  /** Names of the caches in Cache Storage, and the request URLs in each. */
  async storage() {
    const out: Record<string, string[]> = {}
    for (const name of await caches.keys()) out[name] = (await (await caches.open(name)).keys()).map((r) => r.url)
    return out
  },
  /** The bytes Cache Storage holds at `url`. */
  async read(cacheName: string, url: string) {
    const response = await (await caches.open(cacheName)).match(url)
    return response ? Array.from(new Uint8Array(await response.arrayBuffer())) : null
  },
  /** Overwrites what Cache Storage holds at `url` with other bytes (a tampered entry). */
  async overwrite(cacheName: string, url: string, bytes: number[], contentType: string) {
    await (await caches.open(cacheName)).put(url, new Response(new Uint8Array(bytes), { headers: { 'content-type': contentType } }))
  },
}

;(globalThis as unknown as { cacheProbe: typeof probe }).cacheProbe = probe
