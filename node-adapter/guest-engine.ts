import type { GuestEngine } from '../core/guest/index.js'
import { mountHostDirectory } from './host-directory.js'
import { loadPreview2 } from './preview2.js'

/** How Node runs guests: in a sandbox's worker, or on the caller's thread for an inline sandbox. */
export const nodeGuestEngine: GuestEngine = {
  instantiate: (module, imports) => WebAssembly.instantiate(module as WebAssembly.Module, imports as WebAssembly.Imports),
  mountHostDirectory,
  importModule: (source) => import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`),
  preview2: loadPreview2,
}
