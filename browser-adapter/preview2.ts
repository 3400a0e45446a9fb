import type { Preview2Shim } from '../core/component/index.js'

/** The preview2 shim's browser build (see node-adapter/preview2.ts for its Node twin). */
let shim: Promise<Preview2Shim> | null = null
export function loadPreview2(): Promise<Preview2Shim> {
  shim ??= Promise.all([
    import('@bytecodealliance/preview2-shim/cli'), import('@bytecodealliance/preview2-shim/io'), import('@bytecodealliance/preview2-shim/clocks'),
    import('@bytecodealliance/preview2-shim/random'), import('@bytecodealliance/preview2-shim/filesystem'), import('@bytecodealliance/preview2-shim/sockets'),
    import('@bytecodealliance/preview2-shim/http'),
  ]).then(([cli, io, clocks, random, filesystem, sockets, http]) => ({ cli, io, clocks, random, filesystem, sockets, http }) as unknown as Preview2Shim)
  return shim
}
