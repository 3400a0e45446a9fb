import { parentPort } from 'node:worker_threads'
import { mountHostDirectory } from './host-directory.js'
import { serveGuest } from '../core/guest/index.js'
import type { Endpoint, HostMessage, WorkerMessage } from '../core/protocol/index.js'
import type { Preview2Shim } from '../core/component/index.js'

const port = parentPort!
const endpoint: Endpoint<HostMessage, WorkerMessage> = {
  post: (message, transfer) => port.postMessage(message, transfer as never),
  onMessage: (handler) => void port.on('message', handler),
}

serveGuest(endpoint, {
  instantiate: (module, imports) => WebAssembly.instantiate(module as WebAssembly.Module, imports as WebAssembly.Imports),
  mountHostDirectory,
  importModule: (source) => import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`),
  preview2: loadPreview2,
})

/** The shim's browser build (plain JavaScript, per-instance state) in Node too: see core/component. */
let preview2: Promise<Preview2Shim> | null = null
function loadPreview2(): Promise<Preview2Shim> {
  const base = import.meta.resolve('@bytecodealliance/preview2-shim').replace(/\/nodejs\/index\.js$/, '/browser/')
  preview2 ??= Promise.all(['cli', 'io', 'clocks', 'random', 'filesystem', 'sockets', 'http'].map((name) => import(`${base}${name}.js`)))
    .then(([cli, io, clocks, random, filesystem, sockets, http]) => ({ cli, io, clocks, random, filesystem, sockets, http }) as Preview2Shim)
  return preview2
}
