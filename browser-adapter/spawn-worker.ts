import type { WorkerHandle } from '../core/index.js'

/** One module Web Worker running `worker.ts`. */
export function spawnWorker(): WorkerHandle {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'wasm-sandbox' })
  let terminating = false
  return {
    post: (message, transfer) => worker.postMessage(message, (transfer ?? []) as Transferable[]),
    onMessage: (handler) => worker.addEventListener('message', (event) => handler(event.data)),
    onExit(handler) {
      worker.addEventListener('error', (event) => {
        if (!terminating) handler(new Error(event.message || 'the worker failed to start'))
      })
      worker.addEventListener('messageerror', () => { if (!terminating) handler(new Error('a message could not be deserialized')) })
    },
    async terminate() {
      terminating = true
      worker.terminate()
    },
  }
}
