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

/**
 * An instruction sequence built in place (no allocation once made): the per-function
 * templates are rebuilt for every body, whose scratch local indices differ.
 */
class Template {
  readonly buf = new Uint8Array(48)
  length = 0

  reset(): this {
    this.length = 0
    return this
  }

  op(...bytes: number[]): this {
    for (const b of bytes) this.buf[this.length++] = b
    return this
  }

  /** One opcode and its unsigned LEB128 immediate. */
  with(opcode: number, index: number): this {
    this.buf[this.length++] = opcode
    while (index >= 0x80) { this.buf[this.length++] = (index & 0x7f) | 0x80; index >>>= 7 }
    this.buf[this.length++] = index
    return this
  }
}

/** Locals the rewrite adds to every function (see `Injector.forFunction`). */
export const SCRATCH_LOCAL_COUNT = 5

const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22, GLOBAL_GET = 0x23, GLOBAL_SET = 0x24

export class Injector {
  // Per function: indices of the scratch locals.
  private operand = 0
  private result = 0
  private savedDepth = 0
  private prevDepth = 0
  private fuelLocal = 0
  /** `local.get f; i64.const` : then the cost : then a tail */
  private readonly chargeHead = new Template()
  /** `i64.sub; local.tee f; i64.const 0; i64.lt_s; if { local.get f; global.set g; unreachable }` */
  private readonly chargeTail = new Template()
  /** `i64.sub; local.tee f; global.set g; local.get f; i64.const 0; i64.lt_s; if { unreachable }` */
  private readonly chargeStoreTail = new Template()
  private readonly reload = new Template()
  private readonly store = new Template()
  private readonly push = new Template()
  private readonly take = new Template()

  constructor(private readonly globals: InjectionGlobals) {}

  /** A passing function's depth parameter (its caller's depth), or -1. */
  private depthParam = -1

  /**
   * Scratch locals start at `base`: operand, result, savedDepth (i32), fuel (i64), prevDepth
   * (i32: a passing function's global depth on entry, restored on exit). The copy
   * of the counter is `fuelLocal`: that fuel local, or a passing function's parameter;
   * `depthParam` is a passing function's depth parameter when depth is limited (else -1).
   */
  forFunction(base: number, fuelLocal: number, depthParam: number): void {
    this.depthParam = depthParam
    this.operand = base
    this.result = base + 1
    this.savedDepth = base + 2
    this.prevDepth = base + 4
    const f = this.fuelLocal = fuelLocal
    const g = this.globals.fuel
    this.chargeHead.reset().with(LOCAL_GET, f).op(0x42)
    this.chargeTail.reset().op(0x7d).with(LOCAL_TEE, f).op(0x42, 0x00, 0x53 /* i64.lt_s */, 0x04, 0x40)
      .with(LOCAL_GET, f).with(GLOBAL_SET, g).op(0x00 /* unreachable */, 0x0b)
    this.chargeStoreTail.reset().op(0x7d)
    this.storeAndCheck(this.chargeStoreTail)
    this.reload.reset().with(GLOBAL_GET, g).with(LOCAL_SET, f)
    this.store.reset().with(LOCAL_GET, f).with(GLOBAL_SET, g)
    this.push.reset().with(LOCAL_GET, f)
    this.take.reset().with(LOCAL_SET, f)
  }

  /** Stores the new count (on the stack) to the local and the global, then checks it. */
  private storeAndCheck(t: Template): Template {
    return t.with(LOCAL_TEE, this.fuelLocal).with(GLOBAL_SET, this.globals.fuel).with(LOCAL_GET, this.fuelLocal)
      .op(0x42, 0x00, 0x53 /* i64.lt_s */, 0x04, 0x40, 0x00 /* unreachable */, 0x0b)
  }

  /**
   * `local.fuel -= cost; if (local.fuel < 0) { global.fuel = local.fuel; unreachable }`, and
   * with `store`, `global.fuel = local.fuel` on the common path too.
   */
  charge(out: Writer, cost: number, store: boolean): void {
    out.template(this.chargeHead)
    out.s64(cost)
    out.template(store ? this.chargeStoreTail : this.chargeTail)
  }

  /** `global.fuel = local.fuel`: before anything that can observe the global. */
  storeFuel(out: Writer): void {
    out.template(this.store)
  }

  /** Profiling: `global += amount` on an i64 counter. */
  addToGlobal(out: Writer, global: number, amount: number): void {
    out.byte(GLOBAL_GET); out.u32(global)
    out.byte(0x42); out.s64(amount)
    out.byte(0x7c) // i64.add
    out.byte(GLOBAL_SET); out.u32(global)
  }

  /** `local.get fuel`: the counter as a passing call's last argument or a passing function's last result. */
  pushFuel(out: Writer): void {
    out.template(this.push)
  }

  /** This function's depth, as a passing call's last argument. */
  pushDepth(out: Writer): void {
    out.template(this.scratch.reset().with(LOCAL_GET, this.savedDepth))
  }

  /** `local.set fuel`: the counter a passing call returned. */
  takeFuel(out: Writer): void {
    out.template(this.take)
  }

  /** `local.fuel = global.fuel`: on entry, and after anything that may have charged. */
  loadFuel(out: Writer): void {
    out.template(this.reload)
  }

  private readonly scratch = new Template()

  /** Charges from the i32 operand on top of the stack, leaving it there. */
  dynamicCharge(out: Writer, kind: DynamicCharge): void {
    const shift = DYNAMIC_SHIFT[kind]
    const t = this.scratch.reset().with(LOCAL_TEE, this.operand).with(LOCAL_GET, this.fuelLocal).with(LOCAL_GET, this.operand).op(0xad /* i64.extend_i32_u */)
    if (shift > 0) t.op(0x42, shift, 0x86) // i64.shl
    if (shift < 0) t.op(0x42, -shift, 0x88) // i64.shr_u
    out.template(this.storeAndCheck(t.op(0x7d)))
  }

  /**
   * After `memory.grow m` / `table.grow t` (operand saved by `dynamicCharge`): when the grow
   * returned -1, records the total size asked for, so a later trap can be reported as the
   * limit it really was.
   */
  recordDeniedGrow(out: Writer, target: 'memory' | 'table', index: number): void {
    const t = this.scratch.reset().with(LOCAL_TEE, this.result).op(0x41, 0x7f, 0x46 /* i32.eq -1 */, 0x04, 0x40)
    if (target === 'memory') t.with(0x3f, index) // memory.size
    else t.op(0xfc).with(16, index) // table.size
    t.op(0xad).with(LOCAL_GET, this.operand).op(0xad, 0x7c) // (size + n) as i64
    t.with(GLOBAL_SET, target === 'memory' ? this.globals.growDenied : this.globals.tableGrowDenied).op(0x0b).with(LOCAL_GET, this.result)
    out.template(t)
  }

  /**
   * Function entry: `depth += 1; if (depth > limit) unreachable`, remembering the new depth.
   * In a passing function (a depth parameter: its caller did not store the counter) the trap
   * stores it first, so the fuel of the trapped call is exact.
   */
  enterFrame(out: Writer, limit: number, writesGlobal: boolean): void {
    const depth = this.globals.depth
    // A passing function counts from its depth parameter, and leaves the global alone unless
    // it has to write it (`writesGlobal`: see FunctionRewriter.writesDepth) or traps.
    const t = this.scratch.reset()
    // A passing function that writes the global puts back what it found (its caller may be a
    // passing function that does not write it, and the global its writer ancestor's depth).
    if (this.depthParam >= 0 && writesGlobal) t.with(GLOBAL_GET, depth).with(LOCAL_SET, this.prevDepth)
    if (this.depthParam >= 0) t.with(LOCAL_GET, this.depthParam)
    else t.with(GLOBAL_GET, depth)
    t.op(0x41, 0x01, 0x6a).with(LOCAL_TEE, this.savedDepth)
    if (writesGlobal) t.with(GLOBAL_SET, depth).with(LOCAL_GET, this.savedDepth)
    out.template(t.op(0x41))
    out.s64(limit)
    out.template(this.scratch.reset().op(0x4b, 0x04, 0x40)) // i32.gt_u; if
    if (this.depthParam >= 0) { // the counter, and the global the host tells a depth trap by
      out.template(this.store)
      this.restoreFrame(out)
    }
    out.template(this.scratch.reset().op(0x00, 0x0b)) // unreachable end
  }

  /** Function exit (fallthrough, `return`, before a tail call): `depth = saved - 1`. */
  leaveFrame(out: Writer): void {
    if (this.depthParam >= 0) out.template(this.scratch.reset().with(LOCAL_GET, this.prevDepth).with(GLOBAL_SET, this.globals.depth)) // see enterFrame
    else out.template(this.scratch.reset().with(LOCAL_GET, this.savedDepth).op(0x41, 0x01, 0x6b).with(GLOBAL_SET, this.globals.depth))
  }

  /** Entering an exception handler: the frames the exception unwound are gone. */
  restoreFrame(out: Writer): void {
    out.template(this.scratch.reset().with(LOCAL_GET, this.savedDepth).with(GLOBAL_SET, this.globals.depth))
  }
}
