import { unsigned } from './leb128.js'
import { DYNAMIC_SHIFT, type DynamicCharge } from './cost-rules.js'
import type { Writer } from './writer.js'

/**
 * The injection mechanism: the instruction sequences the rewriter inserts. Fuel lives in a
 * mutable i64 global counting down; a charge subtracts and traps (`unreachable`) once the
 * count goes negative, so the host tells fuel exhaustion from a guest `unreachable` by
 * reading the counter. Every sequence is stack-neutral, so it is valid anywhere, including
 * unreachable code.
 *
 * Each function keeps a copy of the counter in an i64 local: loaded on entry and after
 * every call (the callee charged the global), decremented in place by each charge, and
 * stored back to the global only where something can observe it (`storeFuel`): before a
 * call, a return or a throw, and, in exact mode, before any instruction that can trap; a
 * charge that exhausts the budget stores it on its own (cold) path before trapping. So the
 * global is exact wherever it can be read, while a loop whose body cannot trap pays only a
 * register subtraction and a compare. The store per charge this replaces was most of the
 * overhead left (sieve 1.5x with it); reading the global back in loops instead of keeping a
 * local was worse still (store-to-load forwarding on every iteration: 1.87x on the kernels).
 *
 * Byte templates are built once per module (globals) and per function (locals), so
 * emitting an insertion is a few short copies.
 */
export interface InjectionGlobals {
  /** i64: fuel remaining (negative once exhausted) */
  fuel: number
  /** i32: current wasm call depth (present when depth is limited) */
  depth: number
  /** i64: total pages asked for by the last memory.grow that failed */
  growDenied: number
  /** i64: total elements asked for by the last table.grow that failed */
  tableGrowDenied: number
}

const TRAP_IF_NEGATIVE = [0x42, 0x00, 0x53 /* i64.lt_s */, 0x04, 0x40, 0x00 /* unreachable */, 0x0b]

export class Injector {
  private readonly fuelGlobal: number[]
  private readonly depthGlobal: number[]
  private readonly growGlobal: number[]
  private readonly tableGrowGlobal: number[]
  // Per-function: encoded indices of the scratch locals.
  private operand: number[] = []
  private result: number[] = []
  private savedDepth: number[] = []
  private fuelLocal: number[] = []
  /** `local.get f; i64.const` : then the cost : then a tail */
  private chargeHead: Uint8Array = new Uint8Array()
  /** `i64.sub; local.tee f; if (f < 0) { global.set g (f); unreachable }` */
  private chargeTail: Uint8Array = new Uint8Array()
  /** `i64.sub; local.tee f; global.set g; if (f < 0) unreachable` */
  private chargeStoreTail: Uint8Array = new Uint8Array()
  private reload: Uint8Array = new Uint8Array()
  private store: Uint8Array = new Uint8Array()

  constructor(globals: InjectionGlobals) {
    this.fuelGlobal = unsigned(globals.fuel)
    this.depthGlobal = unsigned(globals.depth)
    this.growGlobal = unsigned(globals.growDenied)
    this.tableGrowGlobal = unsigned(globals.tableGrowDenied)
  }

  /** Scratch locals start at `base`: operand, result, savedDepth (i32), fuel (i64). */
  forFunction(base: number): void {
    this.operand = unsigned(base)
    this.result = unsigned(base + 1)
    this.savedDepth = unsigned(base + 2)
    this.fuelLocal = unsigned(base + 3)
    this.chargeHead = Uint8Array.from([0x20, ...this.fuelLocal, 0x42])
    this.chargeTail = Uint8Array.from([0x7d, 0x22, ...this.fuelLocal, 0x42, 0x00, 0x53 /* i64.lt_s */, 0x04, 0x40,
      0x20, ...this.fuelLocal, 0x24, ...this.fuelGlobal, 0x00 /* unreachable */, 0x0b])
    this.chargeStoreTail = Uint8Array.from([0x7d, ...this.storeAndCheck()])
    this.reload = Uint8Array.from([0x23, ...this.fuelGlobal, 0x21, ...this.fuelLocal])
    this.store = Uint8Array.from([0x20, ...this.fuelLocal, 0x24, ...this.fuelGlobal])
  }

  /** Stores the new count (on the stack) to the local and the global, then checks it. */
  private storeAndCheck(): number[] {
    return [0x22, ...this.fuelLocal, 0x24, ...this.fuelGlobal, 0x20, ...this.fuelLocal, ...TRAP_IF_NEGATIVE]
  }

  /**
   * `local.fuel -= cost; if (local.fuel < 0) { global.fuel = local.fuel; unreachable }`, and
   * with `store`, `global.fuel = local.fuel` on the common path too.
   */
  charge(out: Writer, cost: number, store: boolean): void {
    out.bytes(this.chargeHead)
    out.s64(cost)
    out.bytes(store ? this.chargeStoreTail : this.chargeTail)
  }

  /** `global.fuel = local.fuel`: before anything that can observe the global. */
  storeFuel(out: Writer): void {
    out.bytes(this.store)
  }

  /** Profiling: `global += amount` on an i64 counter. */
  addToGlobal(out: Writer, global: number, amount: number): void {
    out.byte(0x23); out.u32(global)
    out.byte(0x42); out.s64(amount)
    out.byte(0x7c) // i64.add
    out.byte(0x24); out.u32(global)
  }

  /** `local.fuel = global.fuel`: on entry, and after anything that may have charged. */
  loadFuel(out: Writer): void {
    out.bytes(this.reload)
  }

  /** Charges from the i32 operand on top of the stack, leaving it there. */
  dynamicCharge(out: Writer, kind: DynamicCharge): void {
    const shift = DYNAMIC_SHIFT[kind]
    out.bytes([0x22, ...this.operand, 0x20, ...this.fuelLocal, 0x20, ...this.operand, 0xad /* i64.extend_i32_u */])
    if (shift > 0) out.bytes([0x42, shift, 0x86]) // i64.shl
    if (shift < 0) out.bytes([0x42, -shift, 0x88]) // i64.shr_u
    out.bytes([0x7d, ...this.storeAndCheck()])
  }

  /**
   * After `memory.grow m` / `table.grow t` (operand saved by `dynamicCharge`): when the grow
   * returned -1, records the total size asked for, so a later trap can be reported as the
   * limit it really was.
   */
  recordDeniedGrow(out: Writer, target: 'memory' | 'table', index: number): void {
    out.bytes([0x22, ...this.result, 0x41, 0x7f, 0x46 /* i32.eq -1 */, 0x04, 0x40])
    out.bytes(target === 'memory' ? [0x3f] : [0xfc, 16]) // memory.size / table.size
    out.u32(index)
    out.bytes([0xad, 0x20, ...this.operand, 0xad, 0x7c]) // (size + n) as i64
    out.bytes([0x24, ...(target === 'memory' ? this.growGlobal : this.tableGrowGlobal), 0x0b, 0x20, ...this.result])
  }

  /** Function entry: `depth += 1; if (depth > limit) unreachable`, remembering the new depth. */
  enterFrame(out: Writer, limit: number): void {
    out.bytes([0x23, ...this.depthGlobal, 0x41, 0x01, 0x6a, 0x22, ...this.savedDepth, 0x24, ...this.depthGlobal, 0x20, ...this.savedDepth, 0x41])
    out.s64(limit)
    out.bytes([0x4b, 0x04, 0x40, 0x00, 0x0b]) // i32.gt_u; if unreachable end
  }

  /** Function exit (fallthrough, `return`, before a tail call): `depth = saved - 1`. */
  leaveFrame(out: Writer): void {
    out.bytes([0x20, ...this.savedDepth, 0x41, 0x01, 0x6b, 0x24, ...this.depthGlobal])
  }

  /** Entering an exception handler: the frames the exception unwound are gone. */
  restoreFrame(out: Writer): void {
    out.bytes([0x20, ...this.savedDepth, 0x24, ...this.depthGlobal])
  }
}
