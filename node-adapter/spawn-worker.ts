import { Worker } from 'node:worker_threads'
import type { WorkerHandle } from '../core/index.js'

/**
 * Node's V8 limits for a sandbox worker. Guest linear memory is not V8 heap (the meter caps
 * it); these bound what the worker's own JavaScript may use and give deep wasm recursion
 * enough native stack for the `stackDepth` limit to be reached first.
 */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 8 }

const WORKER_URL = new URL('./worker.js', import.meta.url)

/**
 * A worker started ahead of need: starting a thread and loading the guest runner takes
 * ~30 ms here, most of `Sandbox.create`. One spare is kept (unref'd, so it never keeps the
 * process alive) and replaced whenever it is taken.
 */
let spare: Worker | null = null

function startWorker(): Worker {
  const worker = new Worker(WORKER_URL, { resourceLimits: RESOURCE_LIMITS })
  worker.unref()
  const dropSpare = () => { if (spare === worker) spare = null }
  worker.once('error', dropSpare)
  worker.once('exit', dropSpare)
  return worker
}

/** Starts the spare now if there is none, so its boot overlaps whatever comes before `spawnWorker`. */
export function prepareWorker(): void {
  spare ??= startWorker()
}

/** One `worker_threads` worker running `worker.ts`. */
export function spawnWorker(): WorkerHandle {
  const worker = spare ?? startWorker()
  spare = null
  worker.ref()
  setImmediate(() => { spare ??= startWorker() })
  let terminating = false
  return {
    post: (message, transfer) => worker.postMessage(message, transfer as never),
    onMessage: (handler) => void worker.on('message', handler),
    onExit(handler) {
      worker.on('error', (error) => { if (!terminating) handler(error) })
      worker.on('exit', (code) => { if (!terminating) handler(new Error(`worker exited with code ${code}`)) })
    },
    keepAlive: (on) => void (on ? worker.ref() : worker.unref()),
    async terminate() {
      terminating = true
      await worker.terminate()
    },
  }
}
