import { encodeUtf8 } from '../text/index.js'
import { SandboxError } from '../errors/index.js'

type Wabt = Awaited<ReturnType<typeof import('wabt')>>
let wabt: Promise<Wabt> | null = null

/** wabt's feature flags: every feature Node 20 runs, so any module it can run can be written (or printed) as text. */
export const WABT_FEATURES = {
  exceptions: true, mutable_globals: true, sat_float_to_int: true, sign_extension: true, simd: true,
  threads: true, multi_value: true, tail_call: true, bulk_memory: true, reference_types: true,
  multi_memory: true,
}

/**
 * WebAssembly text to binary with wabt (loaded on first use). Errors become INVALID_MODULE
 * with the 1-based `line` and wabt's message.
 */
export async function watToWasm(text: string): Promise<Uint8Array> {
  wabt ??= import('wabt').then((m) => m.default())
  const lib = await wabt
  let module: ReturnType<Wabt['parseWat']> | undefined
  try {
    // As UTF-8 bytes: given a JS string, wabt reads it byte by byte and refuses any name
    // outside ASCII ("quoted string has an invalid utf-8 encoding").
    module = lib.parseWat('module.wat', encodeUtf8(text), WABT_FEATURES)
    module.resolveNames()
    module.validate()
    return module.toBinary({ write_debug_names: true }).buffer // names feed profile()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const at = /module\.wat:(\d+):(\d+): error: ([^\n]*)/.exec(message)
    const line = at ? Number(at[1]) : undefined
    throw new SandboxError('INVALID_MODULE', at ? `invalid WebAssembly text at line ${at[1]}, column ${at[2]}: ${at[3]}` : `invalid WebAssembly text: ${message}`, { line, cause: error })
  } finally {
    module?.destroy()
  }
}
