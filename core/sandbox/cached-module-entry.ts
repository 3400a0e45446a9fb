import type { ModuleInfo } from '../meter/module-types.js'
import type { CacheCodec } from './compile-cache.js'

/** A metered core module as the compile cache keeps it: the metered bytes and what the meter learned. */
export interface MeteredModule {
  module: unknown
  info: ModuleInfo
  /** The metered bytes (what is stored; the module is compiled from them again on a hit). */
  bytes: Uint8Array
}

const WASM = 'metered.wasm'

export function meteredModuleCodec(): CacheCodec<MeteredModule> {
  return {
    kind: 'module',
    pack: ({ info, bytes }) => ({ meta: { ...info, functionNames: [...info.functionNames] }, blobs: { [WASM]: bytes } }),
    async unpack({ meta }, modules) {
      const stored = meta as Omit<ModuleInfo, 'functionNames'> & { functionNames: [number, string][] }
      const compiled = modules[WASM]
      if (!compiled || !Array.isArray(stored?.imports) || !Array.isArray(stored.exports) || !Array.isArray(stored.functionNames)) throw new Error('incomplete module entry')
      const info: ModuleInfo = { ...stored, functionNames: new Map(stored.functionNames) }
      return { module: compiled.module, info, bytes: compiled.bytes }
    },
  }
}
