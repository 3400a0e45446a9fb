/// <reference lib="webworker" />
import { serveGuest } from '../core/guest/index.js'
import type { Endpoint, HostMessage, WorkerMessage } from '../core/protocol/index.js'
import { browserGuestEngine } from './guest-engine.js'

const scope = self as unknown as DedicatedWorkerGlobalScope
const endpoint: Endpoint<HostMessage, WorkerMessage> = {
  post: (message, transfer) => scope.postMessage(message, (transfer ?? []) as Transferable[]),
  onMessage: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
}

serveGuest(endpoint, browserGuestEngine)
