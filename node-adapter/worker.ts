import { parentPort } from 'node:worker_threads'
import { serveGuest } from '../core/guest/index.js'
import type { Endpoint, HostMessage, WorkerMessage } from '../core/protocol/index.js'
import { nodeGuestEngine } from './guest-engine.js'

const port = parentPort!
const endpoint: Endpoint<HostMessage, WorkerMessage> = {
  post: (message, transfer) => port.postMessage(message, transfer as never),
  onMessage: (handler) => void port.on('message', handler),
}

serveGuest(endpoint, nodeGuestEngine)
