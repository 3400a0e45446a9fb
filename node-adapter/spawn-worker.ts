import { Worker } from 'node:worker_threads'
import type { WorkerHandle } from '../core/index.js'

/**
 * Node's V8 limits for a sandbox worker. Guest linear memory is not V8 heap (the meter caps
 * it); these bound what the worker's own JavaScript may use and give deep wasm recursion
 * enough native stack for the `stackDepth` limit to be reached first.
 */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 8 }

const WORKER_URL = new URL('./worker.js', import.meta.url)

/** One `worker_threads` worker running `worker.ts`. */
export function spawnWorker(): WorkerHandle {
  const worker = new Worker(WORKER_URL, { resourceLimits: RESOURCE_LIMITS })
  let terminating = false
  return {
    post: (message, transfer) => worker.postMessage(message, transfer as never),
    onMessage: (handler) => void worker.on('message', handler),
    onExit(handler) {
      worker.on('error', (error) => { if (!terminating) handler(error) })
      worker.on('exit', (code) => { if (!terminating) handler(new Error(`worker exited with code ${code}`)) })
    },
    async terminate() {
      terminating = true
      await worker.terminate()
    },
  }
}
