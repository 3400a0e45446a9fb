import { SandboxError } from '../errors/index.js'

/**
 * The engine's own validator, run on the caller's bytes before the meter rewrites them.
 *
 * Why the engine's and not ours: the meter appends state (its fuel global, scratch locals)
 * after the module's own, so an index that is out of range in an invalid module would name the
 * meter's state once rewritten — a fuel bypass. Only a full validator closes that class, and
 * `WebAssembly.validate` is in every runtime we target, is what will compile the module anyway,
 * and runs several times faster than the rewrite itself (see README, "Metering").
 */
interface EngineGlobals {
  WebAssembly: {
    validate(bytes: Uint8Array): boolean
    Module: new (bytes: Uint8Array) => unknown
  }
}
const engine = (globalThis as unknown as EngineGlobals).WebAssembly

/** @throws SandboxError `INVALID_MODULE` with the engine's reason and byte offset. */
export function validateModule(bytes: Uint8Array): void {
  if (engine.validate(bytes)) return
  // validate() says only "no": compiling says why and where (only on this failure path).
  let reason = 'the engine rejects it'
  try {
    new engine.Module(bytes)
  } catch (error) {
    // Only a CompileError says why (a browser's main thread refuses to compile large modules
    // synchronously with a RangeError that says nothing about the module).
    if ((error as Error)?.name === 'CompileError') reason = (error as Error).message.replace(/^WebAssembly\.\w+\(\): /, '')
  }
  const at = /@\+(\d+)|at offset (\d+)|at byte offset (\d+)/.exec(reason)
  const offset = at ? Number(at[1] ?? at[2] ?? at[3]) : undefined
  throw new SandboxError('INVALID_MODULE', `invalid module: ${reason.slice(0, 1000)}`, { offset })
}
