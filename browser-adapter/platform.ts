import type { Platform } from '../core/index.js'
import { loadSource } from './load-source.js'
import { spawnWorker } from './spawn-worker.js'
import { browserComponentTools } from './component-tools.js'
import { browserGuestEngine } from './guest-engine.js'
import { watToWasm } from '../core/index.js'
import { cacheStorageCompileCache, hasCacheStorage } from './cache-store.js'

/** The browser implementation of core's {@link Platform}. */
export const browserPlatform: Platform = {
  loadSource,
  watToWasm,
  compile: (bytes) => WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>),
  moduleExports: (module) => WebAssembly.Module.exports(module as WebAssembly.Module),
  spawnWorker,
  guestEngine: () => browserGuestEngine,
  componentTools: browserComponentTools,
  // `cacheDir` names a cache in Cache Storage. Its keys include the hash of the code this
  // module reaches by static imports (all of core, the meter among it): see build-fingerprint.ts.
  // No Cache Storage (an insecure origin): no persistent cache, as in Node without Web Crypto.
  persistentCache: hasCacheStorage() ? (dir) => cacheStorageCompileCache(dir, import.meta.url) : undefined,
  // SharedArrayBuffer (host functions, the fast call path) needs a cross-origin-isolated page.
  get sharedMemory() {
    return globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined'
  },
  hostMounts: false,
  parallelism: globalThis.navigator?.hardwareConcurrency || 2,
  now: () => performance.now(),
  setTimer: (callback, ms) => setTimeout(callback, ms),
  clearTimer: (handle) => clearTimeout(handle as number),
}
