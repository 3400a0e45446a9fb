import { SandboxError } from '../errors/index.js'
import { checkRange } from './bytes-abi.js'
import { missingExport } from './guest-instance.js'
import { createMeterControl, MAX_FUEL } from '../meter/meter-control.js'
import type { GuestSettings } from '../protocol/messages.js'
import { classifyError } from './classify-error.js'

// What a host function's `ctx` does to the guest, the same from a worker's mailbox
// (host-imports.ts) and inline (inline-host.ts): every access checked against its memory.

type Exports = Record<string, unknown>

function memoryOf(exports: Exports): ArrayBuffer {
  return (exports.memory as { buffer: ArrayBuffer } | undefined)?.buffer ?? new ArrayBuffer(0)
}

/** The guest's memory size in bytes (0 without one). */
export function guestMemorySize(exports: Exports): number {
  return memoryOf(exports).byteLength
}

/** A view of `len` bytes at `ptr` of the guest's memory, for `what` (out of range: TRAP). */
export function guestRange(what: string, exports: Exports, ptr: number, len: number): Uint8Array {
  const memory = memoryOf(exports)
  checkRange(what, 'the range', ptr, len, memory.byteLength)
  return new Uint8Array(memory, ptr, len)
}

/**
 * `len` bytes from the guest's `alloc`, checked against its memory. `enter` runs the guest
 * code (a worker marks it nested first: it may call imports of its own).
 */
export function guestAlloc(exports: Exports, len: number, enter: <T>(run: () => T) => T = (run) => run()): number {
  const alloc = exports.alloc
  if (typeof alloc !== 'function') throw new SandboxError('NO_SUCH_EXPORT', 'ctx.alloc needs the guest to export alloc(len) -> ptr', { export: 'alloc' })
  const ptr = enter(() => reentered(exports, () => (alloc as (len: number) => number)(len) >>> 0))
  checkRange('alloc', 'alloc() returned a buffer', ptr, len, memoryOf(exports).byteLength)
  return ptr
}

/**
 * `ctx.call`: another export of the same instance, re-entrantly, under the running call's
 * budget. A failure is a SandboxError told apart as at the top of a call (a depth or fuel
 * trap is STACK_OVERFLOW or FUEL_EXHAUSTED, not the meter's `unreachable`).
 */
export function callExport(exports: Exports, fn: string, args: unknown[], settings: GuestSettings): unknown {
  const f = exports[fn]
  if (typeof f !== 'function') throw missingExport(fn, 'ctx.call: the module')
  return reentered(exports, () => f(...args), { settings, fn })
}

/**
 * Runs guest code re-entrantly (`ctx.call`, `ctx.alloc`). As at the top of a call
 * (GuestInstance.run), an engine stack overflow, and with fast metering any trap, charges the
 * running call's whole budget: the frames it unwound may not have stored the counter (fuel
 * passing). A host function that catches the error cannot hide that work: its caller runs
 * out of fuel at its next charge. With `classify`, the error is first told apart from the
 * meter's state, as a call's would be.
 */
function reentered<T>(exports: Exports, run: () => T, classify?: { settings: GuestSettings; fn: string }): T {
  try {
    return run()
  } catch (error) {
    const control = createMeterControl({ exports }, classify?.settings.fuel ?? MAX_FUEL, classify?.settings.stackDepth ?? null)
    const failure = classify ? classifyError(error, control, classify.settings, classify.fn) : error
    control.noteTrap(error)
    throw failure
  }
}
