import { parentPort } from 'node:worker_threads'
import { mountHostDirectory } from './host-directory.js'
import { serveGuest } from '../core/guest/index.js'
import type { Endpoint, HostMessage, WorkerMessage } from '../core/protocol/index.js'

const port = parentPort!
const endpoint: Endpoint<HostMessage, WorkerMessage> = {
  post: (message, transfer) => port.postMessage(message, transfer as never),
  onMessage: (handler) => void port.on('message', handler),
}

serveGuest(endpoint, {
  instantiate: (module, imports) => WebAssembly.instantiate(module as WebAssembly.Module, imports as WebAssembly.Imports),
  mountHostDirectory,
})
