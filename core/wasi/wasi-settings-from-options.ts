import { configError } from '../policy/normalize.js'
import type { WasiOptions } from '../policy/options.js'
import { encodeUtf8 } from '../text/index.js'
import type { PreopenSettings, WasiSettings } from '../protocol/wasi-settings.js'

/** Checks `wasi` options and turns them into {@link WasiSettings} (CONFIG errors name the field). */
export function wasiSettings(options: WasiOptions | null, hostMounts: boolean): WasiSettings | null {
  if (!options) return null
  const preopens: PreopenSettings[] = Object.entries(options.preopens ?? {}).map(([guestPath, spec]) => {
    const field = `wasi.preopens[${JSON.stringify(guestPath)}]`
    if (!guestPath || guestPath.includes('\0')) throw configError(field, 'the guest path must be a non-empty string without NUL', "use e.g. '/data'")
    if (typeof spec !== 'object' || spec === null) throw configError(field, 'expected { files?, host?, readonly? }')
    if (spec.readonly !== undefined && typeof spec.readonly !== 'boolean') throw configError(`${field}.readonly`, 'expected true or false')
    if (spec.host !== undefined) {
      if (typeof spec.host !== 'string' || spec.host === '') throw configError(`${field}.host`, 'expected a directory path')
      if (!hostMounts) throw configError(`${field}.host`, 'host directories can only be mounted in Node', 'use an in-memory `files` map in the browser')
      if (spec.files !== undefined) throw configError(field, 'give either `host` or `files`, not both')
    }
    const files: Record<string, Uint8Array> = {}
    for (const [path, data] of Object.entries(spec.files ?? {})) {
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw configError(`${field}.files[${JSON.stringify(path)}]`, 'expected a string or a Uint8Array')
      if (path.split('/').includes('..') || path.startsWith('/') || path.includes('\0')) throw configError(`${field}.files[${JSON.stringify(path)}]`, 'file paths are relative to the preopen, without .. or NUL')
      files[path] = typeof data === 'string' ? encodeUtf8(data) : data
    }
    return { guestPath, files, readonly: spec.readonly ?? false, ...(spec.host !== undefined ? { host: spec.host } : {}) }
  })
  const stdin = options.stdin
  return {
    args: options.args ?? [],
    env: options.env ?? {},
    stdin: stdin === undefined ? new Uint8Array() : typeof stdin === 'string' ? encodeUtf8(stdin) : stdin,
    preopens,
    clock: options.clock ?? false,
    random: options.random ?? false,
  }
}
