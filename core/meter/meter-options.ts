import { SandboxError } from '../errors/index.js'
import { MAX_FUEL } from './meter-control.js'

const PAGE = 65536

export interface MeterOptions {
  /**
   * Fuel budget in force while the module is instantiated (its start function is metered
   * too); later budgets are set through `fuel(instance).set()`. Default 0: nothing runs
   * unmetered by accident.
   */
  fuel?: number | bigint | 'unlimited'
  /** Maximum nested wasm calls; exceeding it traps (reported as `STACK_OVERFLOW`). */
  stackDepth?: number
  /**
   * Cap on every memory, in bytes: maxima are clamped to it. (A byte count: unit strings
   * like '64MB' are the sandbox options' business; `parseBytes` from the policy turns one
   * into bytes.)
   */
  memory?: number
  /** Cap on the elements of every table: maxima are clamped to it. */
  tableElements?: number
  /**
   * Per-function profiling: each defined function counts its calls and the fuel of its
   * segments in globals of its own (`__wasm_sandbox_profile_*`); read them with
   * `readProfile(instance)`. Costs a counter update per call and per segment.
   */
  profile?: boolean
  /**
   * Removes the start section and exports the start function as `__wasm_sandbox_start`
   * instead, for hosts that call it after instantiation so that its traps can be told
   * apart (fuel, depth) through the instance's meter state. Default false.
   */
  deferStart?: boolean
  /**
   * `'exact'` (default): the fuel a call reports is exact whether it returns or traps.
   * `'fast'`: exact when the call returns or throws; a call that ends in a wasm trap is
   * charged its whole budget (the host reports the trap through `noteTrap()` of the
   * instance's control), so trapping never hides work. Cheaper in loops that touch memory.
   */
  metering?: 'exact' | 'fast'
  /**
   * Imports the fuel counter (`(import "__wasm_sandbox" "__wasm_sandbox_fuel" (global (mut i64)))`)
   * instead of defining it, so that instances linked to one `WebAssembly.Global` draw on one
   * budget (a component's core instances do). The module's own globals move up one. A
   * module whose constant expressions read a global it defines is refused (`CONFIG`).
   * Default false.
   */
  sharedFuel?: boolean
}

export interface MeterSettings {
  initialFuel: bigint
  stackDepth: number | null
  memoryPages: number | null
  tableElements: number | null
  profile: boolean
  fast: boolean
  sharedFuel: boolean
}

/** Checks the options (CONFIG errors name the field) and turns them into settings. */
export function normalizeMeterOptions(options: MeterOptions): MeterSettings {
  const { fuel, stackDepth, memory, tableElements, profile, metering, sharedFuel } = options
  let initialFuel = 0n
  if (fuel === 'unlimited') initialFuel = MAX_FUEL
  else if (typeof fuel === 'bigint' || (typeof fuel === 'number' && Number.isSafeInteger(fuel))) {
    if (BigInt(fuel) < 0n || BigInt(fuel) > MAX_FUEL) throw config('fuel', 'must be between 0 and 2^63-1')
    initialFuel = BigInt(fuel)
  } else if (fuel !== undefined) throw config('fuel', "must be a whole number, a bigint or 'unlimited'")
  if (stackDepth !== undefined && !(Number.isSafeInteger(stackDepth) && stackDepth > 0 && stackDepth < 2 ** 31)) {
    throw config('stackDepth', 'must be a positive whole number')
  }
  if (tableElements !== undefined && !(Number.isSafeInteger(tableElements) && tableElements >= 0 && tableElements < 2 ** 32)) {
    throw config('tableElements', 'must be a whole number below 2^32')
  }
  if (profile !== undefined && typeof profile !== 'boolean') throw config('profile', 'must be true or false')
  if (metering !== undefined && metering !== 'exact' && metering !== 'fast') throw config('metering', "must be 'exact' or 'fast'")
  if (sharedFuel !== undefined && typeof sharedFuel !== 'boolean') throw config('sharedFuel', 'must be true or false')
  return {
    initialFuel,
    stackDepth: stackDepth ?? null,
    memoryPages: memory === undefined ? null : memoryPages(memory),
    tableElements: tableElements ?? null,
    profile: profile ?? false,
    fast: metering === 'fast',
    sharedFuel: sharedFuel ?? false,
  }
}

/** A 32-bit memory has at most 65536 pages (4 GiB): a larger cap could not be written as a maximum. */
function memoryPages(memory: unknown): number {
  if (typeof memory !== 'number' || !Number.isSafeInteger(memory) || memory < 0) {
    throw config('memory', `must be a whole number of bytes, got ${typeof memory === 'string' ? JSON.stringify(memory) : String(memory)}`,
      "meter() takes bytes: convert a size like '64MB' with parseBytes() from 'wasm-sandbox/core' first")
  }
  const pages = Math.floor(memory / PAGE)
  if (pages > 65536) throw config('memory', 'must be at most 4GB (65536 pages of 64 KiB), the most a 32-bit memory can hold')
  return pages
}

function config(field: string, message: string, suggestion?: string): SandboxError {
  return new SandboxError('CONFIG', `${field}: ${message}`, { field, suggestion })
}

