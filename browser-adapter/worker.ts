/// <reference lib="webworker" />
import { serveGuest } from '../core/guest/index.js'
import type { Endpoint, HostMessage, WorkerMessage } from '../core/protocol/index.js'
import type { Preview2Shim } from '../core/component/index.js'

const scope = self as unknown as DedicatedWorkerGlobalScope
const endpoint: Endpoint<HostMessage, WorkerMessage> = {
  post: (message, transfer) => scope.postMessage(message, (transfer ?? []) as Transferable[]),
  onMessage: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
}

serveGuest(endpoint, {
  instantiate: (module, imports) => WebAssembly.instantiate(module as WebAssembly.Module, imports as WebAssembly.Imports),
  async importModule(source) {
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }))
    try {
      return await import(/* @vite-ignore */ url)
    } finally {
      URL.revokeObjectURL(url)
    }
  },
  preview2: loadPreview2,
})

let preview2: Promise<Preview2Shim> | null = null
function loadPreview2(): Promise<Preview2Shim> {
  preview2 ??= Promise.all([
    import('@bytecodealliance/preview2-shim/cli'), import('@bytecodealliance/preview2-shim/io'), import('@bytecodealliance/preview2-shim/clocks'),
    import('@bytecodealliance/preview2-shim/random'), import('@bytecodealliance/preview2-shim/filesystem'), import('@bytecodealliance/preview2-shim/sockets'),
    import('@bytecodealliance/preview2-shim/http'),
  ]).then(([cli, io, clocks, random, filesystem, sockets, http]) => ({ cli, io, clocks, random, filesystem, sockets, http }) as unknown as Preview2Shim)
  return preview2
}
