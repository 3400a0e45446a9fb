import { SandboxError } from '../errors/index.js'

/** The largest fuel budget: the counter is an i64. `fuel: 'unlimited'` sets this. */
export const MAX_FUEL = 2n ** 63n - 1n

/** Names of the exports the meter appends; a module may not use the prefix itself. */
export const METER_EXPORTS = {
  prefix: '__wasm_sandbox_',
  fuel: '__wasm_sandbox_fuel',
  growDenied: '__wasm_sandbox_grow_denied',
  tableGrowDenied: '__wasm_sandbox_table_grow_denied',
  depth: '__wasm_sandbox_depth',
  memory: '__wasm_sandbox_memory',
  start: '__wasm_sandbox_start',
  /** Fast metering (`metering: 'fast'`): the fuel global exported again under this name, as a mark. */
  fast: '__wasm_sandbox_fast_fuel',
  profileCalls: '__wasm_sandbox_profile_calls_',
  profileFuel: '__wasm_sandbox_profile_fuel_',
} as const

/** Where a module metered with `sharedFuel` imports its counter from. */
export const METER_IMPORT = { module: '__wasm_sandbox', name: '__wasm_sandbox_fuel' } as const

/** Fuel of one instance of a metered module. */
export interface FuelControl {
  /**
   * Starts a new budget: fuel left becomes `limit` (a whole number of instructions, as a
   * number or a bigint, up to 2^63-1), and the call depth is reset to 0.
   */
  set(limit: bigint | number): void
  /** Fuel consumed since the last `set` (or instantiation); at most the limit. */
  used(): bigint
  /** Whether the budget ran out: the last trap, if any, was the meter's. */
  exhausted(): boolean
  /**
   * Tells the meter that the call just made ended in `error`. With `metering: 'fast'` a wasm
   * trap (a `WebAssembly.RuntimeError`) charges the whole budget: the counter was not kept
   * exact up to the trapping instruction. In both modes so does the engine's own stack
   * overflow: functions that pass the counter as a parameter (`fuel-passing.ts`) had not
   * stored it when the engine gave up, and how deep an engine gets differs between engines
   * and threads anyway, so no exact figure there would be the same everywhere. (The
   * `stackDepth` limit is exact.) Anything else changes nothing.
   */
  noteTrap(error: unknown): void
}

/** {@link FuelControl} plus the other limit state the meter keeps. */
export interface MeterControl extends FuelControl {
  /** The budget in force. */
  limit(): bigint
  /** Whether the call-depth limit was exceeded (the last trap was the meter's). */
  stackExceeded(): boolean
  /** Total bytes the last refused `memory.grow` asked for, or 0. */
  deniedGrowBytes(): number
  /** Total elements the last refused `table.grow` asked for, or 0. */
  deniedTableElements(): number
  /** Current size of memory 0 in bytes, or null without a memory. */
  memoryBytes(): number | null
}

interface GlobalLike { value: unknown }

/** V8's RangeError and SpiderMonkey's InternalError for a call stack that ran out. */
export function isEngineStackOverflow(error: unknown): boolean {
  const e = error as Error | null
  return (e?.name === 'RangeError' || e?.name === 'InternalError') && /call stack|recursion/i.test(String(e.message))
}

/** A budget as the i64 counter holds it; anything else is CONFIG rather than a wrapped counter. */
export function fuelBudget(value: bigint | number): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value)) value = BigInt(value)
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_FUEL) return value
  throw new SandboxError('CONFIG', `fuel: a budget is a whole number of instructions from 0 to 2^63-1, got ${String(value)}`, { field: 'fuel' })
}

export function createMeterControl(instance: { exports: object }, initialFuel: bigint, stackDepth: number | null): MeterControl {
  const exports = instance.exports as Record<string, unknown>
  const fast = METER_EXPORTS.fast in exports
  const fuel = exports[METER_EXPORTS.fuel] as GlobalLike | undefined
  const growDenied = exports[METER_EXPORTS.growDenied] as GlobalLike
  const tableGrowDenied = exports[METER_EXPORTS.tableGrowDenied] as GlobalLike
  const depth = exports[METER_EXPORTS.depth] as GlobalLike | undefined
  const memory = exports[METER_EXPORTS.memory] as { buffer: { byteLength: number } } | undefined
  if (!fuel) throw new TypeError('fuel(): this instance is not of a module metered by meter()')
  let limit = initialFuel
  const remaining = () => fuel.value as bigint
  return {
    set(value) {
      value = fuelBudget(value)
      limit = value
      fuel.value = value
      growDenied.value = 0n
      tableGrowDenied.value = 0n
      if (depth) depth.value = 0
    },
    used() {
      // Within [0, limit] whatever the counter holds: validation keeps guests off it, and
      // this keeps a figure that could refund a tenant from ever leaving the worker.
      const used = limit - remaining()
      return used > limit ? limit : used < 0n ? 0n : used
    },
    exhausted: () => remaining() < 0n,
    noteTrap(error) {
      // 0 left: used() is the whole budget, and exhausted() still tells a fuel trap apart.
      if ((isEngineStackOverflow(error) || (fast && (error as Error | null)?.name === 'RuntimeError')) && remaining() > 0n) fuel.value = 0n
    },
    limit: () => limit,
    stackExceeded: () => depth !== undefined && stackDepth !== null && (depth.value as number) > stackDepth,
    deniedGrowBytes: () => Number(growDenied.value as bigint) * 65536,
    deniedTableElements: () => Number(tableGrowDenied.value as bigint),
    memoryBytes: () => (memory ? memory.buffer.byteLength : null),
  }
}

/** One function's counters from a module metered with `profile: true`. */
export interface FunctionProfile {
  /** Function index (imports first, as in the binary). */
  index: number
  calls: bigint
  /** Fuel of the function's own segments (not its callees'), without bulk-operation charges. */
  fuel: bigint
}

/** Reads the profile counters of an instance, hottest (most fuel) first; [] without profiling. */
export function readProfile(instance: { exports: object }): FunctionProfile[] {
  const exports = instance.exports as Record<string, { value: bigint } | undefined>
  const out: FunctionProfile[] = []
  for (const name of Object.keys(exports)) {
    if (!name.startsWith(METER_EXPORTS.profileCalls)) continue
    const index = Number(name.slice(METER_EXPORTS.profileCalls.length))
    const calls = exports[name]!.value
    const fuel = exports[METER_EXPORTS.profileFuel + index]?.value ?? 0n
    if (calls > 0n || fuel > 0n) out.push({ index, calls, fuel })
  }
  return out.sort((a, b) => (b.fuel > a.fuel ? 1 : b.fuel < a.fuel ? -1 : a.index - b.index))
}
