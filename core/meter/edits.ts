import type { Writer } from './writer.js'
import type { Injector } from './injection.js'
import type { IntList } from './int-list.js'
import type { FunctionInfo } from './module-types.js'

/** Edit kinds: what the rewriter inserts at a position of the original body. */
export const Edit = {
  /** fuel for segment `arg` */
  CHARGE: 0,
  RELOAD_FUEL: 1,
  /** bulk memory: 1 per 64 bytes */
  DYNAMIC_MEMORY: 2,
  /** bulk table: 1 per element */
  DYNAMIC_TABLE: 3,
  /** memory.grow: 1024 per page */
  DYNAMIC_PAGES: 4,
  /** arg: memory index */
  DENIED_MEMORY_GROW: 5,
  /** arg: table index */
  DENIED_TABLE_GROW: 6,
  /** depth++ (when depth is limited) and the block wrapping the body */
  ENTER_FRAME: 7,
  LEAVE_FRAME: 8,
  /** the wrapping block's end, then depth-- and a passing function's counter */
  END_AND_LEAVE: 9,
  RESTORE_FRAME: 10,
  /** profiling: this function's call counter */
  COUNT_CALL: 11,
  /** a loop header a try_table handler branches to: restore, reload, then CHARGE */
  CAUGHT_LOOP_CHARGE: 12,
  /** the local copy of the counter to the global (arg: its segment) */
  STORE_FUEL: 13,
  /** a cancelled edit (the header charge of a loop nothing branches to) */
  NONE: 14,
  /** a local or global index that moved (arg: the new index), replacing the old immediate */
  RENUMBER_INDEX: 15,
  /** the local copy of the counter onto the stack: a passing function's last result */
  PUSH_FUEL: 16,
  /** the counter a passing call returned (its last result) into the local */
  TAKE_FUEL: 17,
  /** the local copy of the counter to the global, here (not joined to the segment's charge) */
  STORE_FUEL_HERE: 18,
  /** a passing call's last arguments: the counter, and with depth limited this function's depth */
  PASS_COUNTERS: 19,
} as const

/** Bits of a segment's flags (see `segments.ts`). */
export const SegmentFlag = {
  /** the charge stores the counter to the global too */
  STORES: 1,
  /** outside loops in a passing function: STORES or not once the body is scanned (`settleStores`) */
  STORES_IF_LOOPS_TOUCH_GLOBAL: 2,
  /** a call in the segment passed the counter, after which the local is not what the charge left */
  PASSES: 4,
} as const

export interface EmitContext {
  inject: Injector
  fn: FunctionInfo
  stackDepth: number | null
  segmentCost: Int32Array
  segmentFlags: Int32Array
  /** With depth limited, the body writes the depth global (all but some passing bodies: see FunctionRewriter) */
  writesDepth: boolean
}

/**
 * Splices the edits (position, kind, argument triples, in position order) into a copy of
 * `code[from, end)`: the runs between edits are copied as they are, then the one-byte local
 * indices at the positions in `bumps` (in order) move up one in the copy (a passing
 * function's locals, `fuel-passing.ts`; globals after an imported counter, `sharedFuel`):
 * cheaper than an edit each, and runs stay whole.
 */
export function emitEdits(code: Uint8Array, from: number, end: number, edits: IntList, bumps: IntList, bumpBy: IntList, ctx: EmitContext, body: Writer): void {
  const { inject, fn, segmentCost, segmentFlags } = ctx
  const list = edits.data, bumped = bumps.data, by = bumpBy.data
  let bump = 0
  for (let i = 0; i <= edits.length; i += 3) {
    const pos = i < edits.length ? list[i]! : end
    if (pos > from) {
      const at = body.length
      body.copy(code, from, pos)
      if (bump < bumps.length && bumped[bump]! < pos) {
        const out = body.room(0)
        do { const i = at + bumped[bump]! - from; out[i] = out[i]! + by[bump]!; bump++ }
        while (bump < bumps.length && bumped[bump]! < pos)
      }
      from = pos
    }
    if (i === edits.length) break
    const arg = list[i + 2]!
    switch (list[i + 1]) {
      case Edit.CAUGHT_LOOP_CHARGE:
        if (ctx.stackDepth !== null) inject.restoreFrame(body)
        inject.loadFuel(body)
        // falls through
      case Edit.CHARGE:
        if (segmentCost[arg]! > 0) {
          // A segment's store (at most one) joins its charge: the local does not change in
          // between, and the global is written once either way.
          inject.charge(body, segmentCost[arg]!, (segmentFlags[arg]! & SegmentFlag.STORES) !== 0)
          if (fn.profile) inject.addToGlobal(body, fn.profile.fuel, segmentCost[arg]!)
        }
        break
      case Edit.STORE_FUEL: if (segmentCost[arg] === 0) inject.storeFuel(body); break
      case Edit.STORE_FUEL_HERE: inject.storeFuel(body); break
      case Edit.RENUMBER_INDEX: body.u32(arg); while (code[from]! & 0x80) from++; from++; break // the new index, past the old
      case Edit.PUSH_FUEL: inject.pushFuel(body); break
      case Edit.PASS_COUNTERS: inject.pushFuel(body); if (ctx.stackDepth !== null) inject.pushDepth(body); break
      case Edit.TAKE_FUEL: inject.takeFuel(body); break
      case Edit.RELOAD_FUEL: inject.loadFuel(body); break
      case Edit.DYNAMIC_MEMORY: inject.dynamicCharge(body, 'memoryBytes'); break
      case Edit.DYNAMIC_TABLE: inject.dynamicCharge(body, 'tableElements'); break
      case Edit.DYNAMIC_PAGES: inject.dynamicCharge(body, 'memoryPages'); break
      case Edit.DENIED_MEMORY_GROW: inject.recordDeniedGrow(body, 'memory', arg); break
      case Edit.DENIED_TABLE_GROW: inject.recordDeniedGrow(body, 'table', arg); break
      case Edit.ENTER_FRAME: // the depth check, and the block wrapping the body
        if (ctx.stackDepth !== null) inject.enterFrame(body, ctx.stackDepth, ctx.writesDepth)
        body.byte(0x02); body.bytes(fn.resultBlockType); break
      case Edit.COUNT_CALL: inject.addToGlobal(body, fn.profile!.calls, 1); break
      case Edit.LEAVE_FRAME: if (ctx.writesDepth) inject.leaveFrame(body); break
      case Edit.END_AND_LEAVE:
        body.byte(0x0b)
        if (ctx.stackDepth !== null && ctx.writesDepth) inject.leaveFrame(body)
        if (fn.passing) inject.pushFuel(body)
        break
      case Edit.RESTORE_FRAME: inject.restoreFrame(body); break
    }
  }
}
