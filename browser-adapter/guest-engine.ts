import type { GuestEngine } from '../core/guest/index.js'
import { loadPreview2 } from './preview2.js'

/** How a browser runs guests: in a sandbox's Web Worker, or on the page's thread for an inline sandbox. */
export const browserGuestEngine: GuestEngine = {
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
}
