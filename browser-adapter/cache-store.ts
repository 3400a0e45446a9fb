import type { CompileCacheStore } from '../core/index.js'
import { buildFingerprint } from './build-fingerprint.js'

/**
 * The persistent compile cache in a browser: Cache Storage, in the cache named by `cacheDir`,
 * under request URLs of the page's origin that are never fetched:
 *
 *   /.wasm-sandbox/compile-cache/<build>/<key>            the entry (header, meta, glue; signed)
 *   /.wasm-sandbox/compile-cache/<build>/<key>/<module>   each metered module, application/wasm
 *
 * Modules are their own Responses so that they are compiled with
 * `WebAssembly.compileStreaming` straight from Cache Storage: Chromium then keeps the compiled
 * code next to the Response and a later page load skips compiling. The stream is teed: core
 * hashes the copy and compares it with the SHA-256 the verified entry records before the
 * module is used. `<build>` is the start of the build fingerprint: writing an entry deletes
 * those of other builds (after a deploy, say), which no key can reach any more.
 */
export function cacheStorageCompileCache(name: string, fingerprintRoot: string): CompileCacheStore {
  const fingerprint = () => buildFingerprint(fingerprintRoot)
  const open = () => caches.open(name)
  const base = async () => new URL(`${PREFIX}${(await fingerprint()).slice(0, 16)}/`, globalThis.location.href).href
  const entryUrl = async (key: string) => `${await base()}${key}`
  const moduleUrl = async (key: string, module: string) => `${await base()}${key}/${encodeURIComponent(module)}`
  return {
    fingerprint,
    async read(key) {
      const response = await (await open()).match(await entryUrl(key))
      return response ? new Uint8Array(await response.arrayBuffer()) : null
    },
    async write(key, bytes) {
      const cache = await open()
      await cache.put(await entryUrl(key), new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }))
      await deleteOtherBuilds(cache, await base()).catch(() => {}) // best effort: another tab may be at it too
    },
    modules: {
      async write(key, module, bytes) {
        await (await open()).put(await moduleUrl(key, module), new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/wasm' } }))
      },
      async compile(key, module) {
        const response = await (await open()).match(await moduleUrl(key, module))
        if (!response) return null
        // Both halves of one tee: the bytes core verifies are the bytes the engine compiled.
        const copy = response.clone()
        const [compiled, buffer] = await Promise.all([WebAssembly.compileStreaming(response), copy.arrayBuffer()])
        return { module: compiled, bytes: new Uint8Array(buffer) }
      },
    },
  }
}

const PREFIX = '/.wasm-sandbox/compile-cache/'

/** Whether this context has Cache Storage (secure origins: https, localhost); elsewhere there is no persistent cache. */
export function hasCacheStorage(): boolean {
  return typeof globalThis.caches?.open === 'function'
}

async function deleteOtherBuilds(cache: Cache, current: string): Promise<void> {
  const ours = new URL(PREFIX, current).href
  for (const request of await cache.keys()) {
    if (request.url.startsWith(ours) && !request.url.startsWith(current)) await cache.delete(request)
  }
}
