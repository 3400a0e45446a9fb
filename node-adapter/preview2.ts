import type { Preview2Shim } from '../core/component/index.js'

/**
 * The preview2 shim's browser build, in Node too: it is plain JavaScript with per-instance
 * state, where the Node build reaches for the real file system and network (see
 * core/component). Its package exports only the Node build to Node, so the browser files
 * are found next to it.
 */
let shim: Promise<Preview2Shim> | null = null
export function loadPreview2(): Promise<Preview2Shim> {
  const browserBuild = new URL('../browser/', import.meta.resolve('@bytecodealliance/preview2-shim'))
  shim ??= Promise.all(['cli', 'io', 'clocks', 'random', 'filesystem', 'sockets', 'http'].map((name) => import(new URL(`${name}.js`, browserBuild).href)))
    .then(([cli, io, clocks, random, filesystem, sockets, http]) => ({ cli, io, clocks, random, filesystem, sockets, http }) as Preview2Shim)
  return shim
}
