import { availableParallelism } from 'node:os'
import type { Platform } from '../core/index.js'
import { loadSource } from './load-source.js'
import { readManifestFile } from './manifest-file.js'
import { prepareWorker, spawnWorker } from './spawn-worker.js'
import { nodeComponentTools } from './component-tools.js'
import { nodeGuestEngine } from './guest-engine.js'
import { nodeCompileCache } from './cache-store.js'
import { watToWasm } from '../core/index.js'

/** The Node.js implementation of core's {@link Platform}. */
export const nodePlatform: Platform = {
  loadSource,
  watToWasm,
  compile: (bytes) => WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>),
  moduleExports: (module) => WebAssembly.Module.exports(module as WebAssembly.Module),
  spawnWorker,
  prepareWorker,
  guestEngine: () => nodeGuestEngine,
  readManifestFile,
  componentTools: nodeComponentTools,
  persistentCache: nodeCompileCache,
  sharedMemory: true,
  hostMounts: true,
  parallelism: availableParallelism(),
  now: () => performance.now(),
  setTimer: (callback, ms, background) => {
    const timer = setTimeout(callback, ms)
    if (background) timer.unref()
    return timer
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
}
