import { DYNAMIC_SHIFT } from '../meter/cost-rules.js'
import { METER_EXPORTS } from '../meter/meter-control.js'

/** What a WASI call that the budget cannot pay throws: the counter is below zero, so it is FUEL_EXHAUSTED. */
export const OUT_OF_FUEL = (): Error => new WebAssembly.RuntimeError('fuel exhausted in a WASI call')

/** Most iovecs one read or write takes (Linux's IOV_MAX): more is EINVAL. */
export const MAX_IOVECS = 1024

/** Bytes per fuel unit when WASI moves bytes: the meter's rate for `memory.copy`. */
const BYTES_PER_FUEL = 2 ** -DYNAMIC_SHIFT.memoryBytes

/**
 * WASI calls that move bytes or wait, charged against the call's fuel like the guest's own
 * instructions: one import call is a few instructions to the meter, but one `fd_write` over a
 * thousand iovecs of 16 MiB copies 16 GB, and a `poll_oneoff` sleep on the caller's thread
 * (an inline sandbox) blocks it. The charge comes off the meter's counter before the work;
 * a budget that cannot pay leaves the counter below zero, which the guest's next metered
 * instruction (or the classification of the error thrown here) reports as FUEL_EXHAUSTED.
 */
export class WasiFuel {
  private fuel: { value: bigint } | null = null

  /** Connects to the instance's fuel counter (absent for a module metered without it). */
  bind(exports: Record<string, unknown>): void {
    this.fuel = (exports[METER_EXPORTS.fuel] as { value: bigint } | undefined) ?? null
  }

  /** Charges moving `bytes`; false (and the counter below zero) when the budget cannot pay. */
  chargeBytes(bytes: number): boolean {
    return this.charge(BigInt(Math.ceil(bytes / BYTES_PER_FUEL)))
  }

  /** Charges waiting `ns` nanoseconds on the caller's thread: 1 fuel per nanosecond (~1e9 instructions a second). */
  chargeWait(ns: bigint): boolean {
    return this.charge(ns)
  }

  private charge(units: bigint): boolean {
    const fuel = this.fuel
    if (!fuel || units === 0n) return true
    const left = fuel.value - units
    fuel.value = left < 0n ? -1n : left
    return left >= 0n
  }
}

/** The total length of the `count` iovecs at `ptr` (8 bytes each: u32 pointer, u32 length). */
export function iovecBytes(view: DataView, ptr: number, count: number): number {
  let total = 0
  for (let i = 0; i < count; i++) total += view.getUint32(ptr + i * 8 + 4, true)
  return total
}

declare const WebAssembly: { RuntimeError: new (message: string) => Error }
