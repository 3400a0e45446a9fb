import type { CacheCodec } from '../sandbox/compile-cache.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import type { ComponentExport } from './component-exports.js'

/** What transpiling a component gives the worker besides its core modules. */
export interface ComponentGlue {
  /** jco's glue (JavaScript the worker evaluates: verified like the rest before a cached one is used). */
  glue: string
  exports: ComponentExport[]
  imports: string[]
  run: string[] | null
}

/** A component ready for the worker: glue, and every core module metered and compiled (by file name). */
export interface MeteredComponent {
  transpiled: ComponentGlue
  modules: Record<string, unknown>
  /** The metered bytes of `modules` (what is stored). */
  meteredFiles: Record<string, Uint8Array>
}

const GLUE = 'component.js'
const CORE = 'core/'

export function meteredComponentCodec(): CacheCodec<MeteredComponent> {
  return {
    kind: 'component',
    pack: ({ transpiled: { glue, exports, imports, run }, meteredFiles }) => ({
      meta: { exports, imports, run },
      blobs: { [GLUE]: encodeUtf8(glue), ...Object.fromEntries(Object.entries(meteredFiles).map(([file, bytes]) => [CORE + file, bytes])) },
    }),
    async unpack({ meta, blobs }, compiled) {
      const parts = meta as Omit<ComponentGlue, 'glue'>
      const glue = blobs[GLUE]
      if (!glue || !Array.isArray(parts?.exports) || !Array.isArray(parts.imports) || !(parts.run === null || Array.isArray(parts.run))) throw new Error('incomplete component entry')
      const files = Object.entries(compiled).filter(([name]) => name.startsWith(CORE)).map(([name, value]) => [name.slice(CORE.length), value] as const)
      if (files.length !== Object.keys(compiled).length) throw new Error('a module outside core/ in a component entry')
      return {
        transpiled: { ...parts, glue: decodeUtf8(glue) },
        modules: Object.fromEntries(files.map(([file, { module }]) => [file, module])),
        meteredFiles: Object.fromEntries(files.map(([file, { bytes }]) => [file, bytes])),
      }
    },
  }
}
