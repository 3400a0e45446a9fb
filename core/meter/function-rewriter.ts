import { Reader } from './reader.js'
import type { Writer } from './writer.js'
import { STATIC_COST } from './cost-rules.js'
import { skipBlockType, skipFcImmediates, skipFdImmediates, skipFeImmediates, skipMemarg, skipValueType } from './immediates.js'
import type { Injector } from './injection.js'
import { checkEngineLimit } from './engine-limits.js'
import { prefixedCanTrap, STORE_BEFORE_EXACT, STORE_BEFORE_FAST } from './fuel-observers.js'

/** What the rewriter needs to know about the function whose body it rewrites. */
export interface FunctionContext {
  /** Function index (imports first), for error messages. */
  index: number
  /** Number of parameters (locals are numbered after them). */
  params: number
  /** Block type bytes for the function's results (used to wrap the body for depth counting). */
  resultBlockType: number[]
  inject: Injector
  /** Maximum call depth, or null when depth is not limited. */
  stackDepth: number | null
  /** Scratch space for the rewritten body, reused across functions. */
  body: Writer
  /** Profile counter globals of this function, when profiling. */
  profile: { calls: number; fuel: number } | null
  /** Fast metering: the counter is not stored before instructions that can only trap (see `fuel-observers.ts`). */
  fast: boolean
}

// Control frame kinds.
const BLOCK = 0, LOOP = 1, IF = 2, TRY = 3, FUNCTION = 4

// Edit kinds: what to insert at a position of the original body.
const CHARGE = 0 // fuel for segment `arg`
const RELOAD_FUEL = 1
const DYNAMIC_MEMORY = 2 // bulk memory: 1 per 64 bytes
const DYNAMIC_TABLE = 3 // bulk table: 1 per element
const DYNAMIC_PAGES = 4 // memory.grow: 1024 per page
const DENIED_MEMORY_GROW = 5 // arg: memory index
const DENIED_TABLE_GROW = 6 // arg: table index
const ENTER_FRAME = 7 // depth++ and the wrapping block
const LEAVE_FRAME = 8
const END_AND_LEAVE = 9 // the wrapping block's end, then depth--
const RESTORE_FRAME = 10
const COUNT_CALL = 11 // profiling: this function's call counter
const CAUGHT_LOOP_CHARGE = 12 // a loop header a try_table handler branches to: restore, reload, then CHARGE
const STORE_FUEL = 13 // the local copy of the counter to the global

/**
 * Rewrites one function body (`r` positioned at its local declarations, ending at the body's
 * end) into `out` as a size-prefixed body.
 *
 * Fuel is charged per metered segment: a maximal run of instructions that always execute
 * together. A segment starts at function entry, at a loop header (so every iteration pays),
 * at the start of each `if`/`else` arm and exception handler, after a branch, return or
 * throw, and after the `end` of a construct that control can reach other than by falling
 * through (an `if`, a `try`, or a `block` some branch targets). A plain `block` nobody
 * branches to, and the end of a `loop`, do not split a segment: that merge is what keeps
 * the overhead low. A call does not end a segment either, except inside a try body, where
 * the callee may throw to a handler in this function: there the code after the call is
 * charged after it returns. (Frames an exception unwinds have paid for the rest of their
 * current segment, as a trap's frame has.) The charge for a segment is only known at its end, so the pass records
 * edits (position, kind, argument) and then splices them into a copy of the body: one
 * decoding pass, linear in the body size.
 */
export function rewriteFunction(r: Reader, end: number, ctx: FunctionContext, out: Writer): void {
  const code = r.bytes
  // Local declarations: copied as they are, plus our scratch locals.
  const groups = r.u32()
  const groupsStart = r.pos
  let locals = ctx.params
  for (let i = 0; i < groups; i++) {
    locals += r.u32()
    skipValueType(r)
  }
  const localsEnd = r.pos
  checkEngineLimit('functionLocals', locals + SCRATCH_LOCAL_COUNT, `function ${ctx.index}`, groupsStart)
  const inject = ctx.inject
  inject.forFunction(locals)
  const depthLimited = ctx.stackDepth !== null

  // Scratch arrays, reused across functions.
  const { editPos, editKind, editArg, segmentCost, segmentStores, kinds, targeted, caught, tryBody, headerEdit } = SCRATCH
  editPos.length = editKind.length = editArg.length = segmentCost.length = segmentStores.length = 0
  kinds.length = targeted.length = caught.length = tryBody.length = headerEdit.length = 0
  kinds.push(FUNCTION); targeted.push(false); caught.push(false); tryBody.push(false); headerEdit.push(-1)
  // How many enclosing try bodies (legacy try before its first catch, or try_table) there
  // are: a call inside one may throw to a handler here, so it ends its segment.
  let tryDepth = 0
  let segment = -1
  let cost = 0
  // Whether the local copy of the counter has been charged since the global was last written.
  // A segment has one entry (its start), so a linear scan tells it exactly within a segment.
  let unstored = false
  const storeBefore = ctx.fast ? STORE_BEFORE_FAST : STORE_BEFORE_EXACT
  const insert = (pos: number, kind: number, arg = 0): void => {
    editPos.push(pos); editKind.push(kind); editArg.push(arg)
  }
  const startSegment = (pos: number): void => {
    if (segment >= 0) segmentCost[segment] = cost
    segment = segmentCost.length
    segmentCost.push(0)
    segmentStores.push(0)
    cost = 0
    insert(pos, CHARGE, segment)
    unstored = true
  }
  /** The global must be exact before the instruction at `pos`. */
  const store = (pos: number): void => {
    if (unstored) { insert(pos, STORE_FUEL, segment); segmentStores[segment] = 1; unstored = false }
  }
  const reload = (pos: number): void => {
    insert(pos, RELOAD_FUEL)
    unstored = false
  }

  // Control stack: kind, whether a forward branch targets its end, and whether a try_table
  // handler does (control then arrives from an unwound callee).
  /** @returns whether the branch leaves the function (targets its own label) */
  const markTarget = (depth: number, handler = false): boolean => {
    const index = kinds.length - 1 - depth
    if (index < 0) r.fail(`branch depth ${depth} out of range`)
    targeted[index] = true
    if (handler) caught[index] = true
    // A handler that branches to a loop lands on its header, which charges from this frame's
    // copy of the counter: reload it first (the unwound callees charged the global), or the
    // header's store would refund their fuel; and restore the call depth they left behind.
    if (handler && kinds[index] === LOOP) editKind[headerEdit[index]!] = CAUGHT_LOOP_CHARGE
    return index === 0
  }
  const push = (kind: number, body = false): void => {
    kinds.push(kind); targeted.push(false); caught.push(false); tryBody.push(body); headerEdit.push(-1)
    if (body) tryDepth++
  }
  /** Leaves the try body of the innermost frame, if it is in one. */
  const leaveTryBody = (): void => {
    if (tryBody[tryBody.length - 1]) { tryBody[tryBody.length - 1] = false; tryDepth-- }
  }
  const pop = (): void => { leaveTryBody(); kinds.pop(); targeted.pop(); caught.pop(); tryBody.pop(); headerEdit.pop() }

  if (depthLimited) insert(r.pos, ENTER_FRAME)
  reload(r.pos)
  if (ctx.profile) insert(r.pos, COUNT_CALL)
  startSegment(r.pos)

  for (;;) {
    const at = r.pos
    if (at >= end) r.fail('function body ends without end', at)
    const op = code[r.pos++]!
    cost += STATIC_COST[op]!
    if (storeBefore[op]) store(at)
    switch (op) {
      case 0x02: skipBlockType(r); push(BLOCK); break // block
      case 0x03: // loop: the header pays each iteration
        skipBlockType(r); push(LOOP)
        headerEdit[headerEdit.length - 1] = editPos.length
        startSegment(r.pos)
        break
      case 0x04: skipBlockType(r); push(IF); startSegment(r.pos); break // if
      case 0x06: skipBlockType(r); push(TRY, true); break // try (legacy exception handling)
      case 0x05: startSegment(r.pos); break // else
      case 0x07: // catch tag
      case 0x19: // catch_all
        if (op === 0x07) r.u32()
        leaveTryBody() // a handler's own calls throw past this try
        if (depthLimited) insert(r.pos, RESTORE_FRAME)
        reload(r.pos) // the frames the exception unwound charged the global
        startSegment(r.pos)
        break
      case 0x18: // delegate label: ends the try
        r.u32(); pop(); startSegment(r.pos); break
      case 0x1f: { // try_table bt catch*: handlers branch to enclosing labels
        skipBlockType(r)
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const kind = r.byte()
          if (kind <= 1) r.u32() // catch / catch_ref carry a tag
          else if (kind > 3) r.fail(`unknown catch kind ${kind}`)
          markTarget(r.u32(), true)
        }
        push(BLOCK, true)
        break
      }
      case 0x0b: { // end
        const kind = kinds[kinds.length - 1]!
        const joins = targeted[targeted.length - 1]!
        const handlerTarget = caught[caught.length - 1]!
        pop()
        if (kind === FUNCTION) {
          if (r.pos !== end) r.fail('code after the end of a function body', r.pos)
          store(at)
          if (depthLimited) insert(at, END_AND_LEAVE)
          segmentCost[segment] = cost
          return emit()
        }
        if (kind === IF || kind === TRY || (kind === BLOCK && joins)) {
          if (handlerTarget) { // a try_table handler lands here from unwound frames
            if (depthLimited) insert(r.pos, RESTORE_FRAME)
            reload(r.pos)
          }
          startSegment(r.pos)
        }
        break
      }
      case 0x0c: // br
      case 0x0d: // br_if
      case 0xd5: // br_on_null
      case 0xd6: // br_on_non_null
        if (markTarget(r.u32())) store(at)
        startSegment(r.pos); break
      case 0x0e: { // br_table
        const n = r.u32()
        let leaves = false
        for (let i = 0; i <= n; i++) leaves = markTarget(r.u32()) || leaves
        if (leaves) store(at)
        startSegment(r.pos)
        break
      }
      case 0x0f: // return
        if (depthLimited) insert(at, LEAVE_FRAME)
        startSegment(r.pos); break
      case 0x12: // return_call f
      case 0x13: // return_call_indirect type table
      case 0x15: // return_call_ref type
        r.u32()
        if (op === 0x13) r.u32()
        if (depthLimited) insert(at, LEAVE_FRAME)
        startSegment(r.pos); break
      case 0x00: // unreachable
      case 0x0a: // throw_ref
        startSegment(r.pos); break
      case 0x08: // throw tag
      case 0x09: // rethrow label
        r.u32(); startSegment(r.pos); break
      case 0x10: // call f
      case 0x14: // call_ref type
      case 0x11: // call_indirect type table
        r.u32()
        if (op === 0x11) r.u32()
        reload(r.pos) // the callee charged the global
        if (tryDepth > 0) startSegment(r.pos) // the callee may throw to a handler of ours
        break
      case 0x40: // memory.grow mem
        insert(at, DYNAMIC_PAGES); unstored = false
        insert(r.pos + lebLength(code, r.pos), DENIED_MEMORY_GROW, r.u32())
        break
      case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26: case 0x3f: case 0xd2:
        r.u32(); break // one index
      case 0x1c: { // select t*
        const n = r.u32()
        for (let i = 0; i < n; i++) skipValueType(r)
        break
      }
      case 0x41: case 0x42: r.skipLeb(); break // i32/i64.const
      case 0x43: r.skip(4); break // f32.const
      case 0x44: r.skip(8); break // f64.const
      case 0xd0: r.s33(); break // ref.null heaptype
      case 0xfc: { // dynamic charges store the counter themselves
        const sub = r.u32()
        if (sub === 8 || sub === 10 || sub === 11) { insert(at, DYNAMIC_MEMORY); unstored = false }
        else if (sub === 12 || sub === 14 || sub === 17) { insert(at, DYNAMIC_TABLE); unstored = false }
        else if (sub === 15) { // table.grow t
          insert(at, DYNAMIC_TABLE); unstored = false
          const table = new Reader(code, r.pos, end).u32()
          skipFcImmediates(r, sub)
          insert(r.pos, DENIED_TABLE_GROW, table)
          break
        }
        if (!ctx.fast && prefixedCanTrap(op, sub)) store(at)
        skipFcImmediates(r, sub)
        break
      }
      case 0xfd: case 0xfe: {
        const sub = r.u32()
        if (!ctx.fast && prefixedCanTrap(op, sub)) store(at)
        if (op === 0xfd) skipFdImmediates(r, sub)
        else skipFeImmediates(r, sub)
        break
      }
      default:
        if (op >= 0x28 && op <= 0x3e) skipMemarg(r)
        else if (!((op >= 0x45 && op <= 0xc4) || op === 0x01 || op === 0x1a || op === 0x1b ||
                   op === 0xd1 || op === 0xd3 || op === 0xd4)) {
          r.fail(`unknown instruction 0x${op.toString(16)}`, at)
        }
    }
  }

  function emit(): void {
    const body = ctx.body
    body.clear()
    // Local declarations: the original groups, plus our scratch locals (3 x i32, 1 x i64).
    body.u32(groups + 2)
    body.copy(code, groupsStart, localsEnd)
    body.bytes(SCRATCH_LOCALS)
    let from = localsEnd
    for (let i = 0; i < editPos.length; i++) {
      const pos = editPos[i]!
      if (pos > from) { body.copy(code, from, pos); from = pos }
      const arg = editArg[i]!
      switch (editKind[i]) {
        case CAUGHT_LOOP_CHARGE:
          if (depthLimited) inject.restoreFrame(body)
          inject.loadFuel(body)
          // falls through
        case CHARGE:
          if (segmentCost[arg]! > 0) {
            // A segment's store (at most one: see `store`) joins its charge: the local does not
            // change in between, and the global is written once either way.
            inject.charge(body, segmentCost[arg]!, segmentStores[arg] === 1)
            if (ctx.profile) inject.addToGlobal(body, ctx.profile.fuel, segmentCost[arg]!)
          }
          break
        case STORE_FUEL: if (segmentCost[arg] === 0) inject.storeFuel(body); break
        case RELOAD_FUEL: inject.loadFuel(body); break
        case DYNAMIC_MEMORY: inject.dynamicCharge(body, 'memoryBytes'); break
        case DYNAMIC_TABLE: inject.dynamicCharge(body, 'tableElements'); break
        case DYNAMIC_PAGES: inject.dynamicCharge(body, 'memoryPages'); break
        case DENIED_MEMORY_GROW: inject.recordDeniedGrow(body, 'memory', arg); break
        case DENIED_TABLE_GROW: inject.recordDeniedGrow(body, 'table', arg); break
        case ENTER_FRAME: inject.enterFrame(body, ctx.stackDepth!); body.byte(0x02); body.bytes(ctx.resultBlockType); break
        case COUNT_CALL: inject.addToGlobal(body, ctx.profile!.calls, 1); break
        case LEAVE_FRAME: inject.leaveFrame(body); break
        case END_AND_LEAVE: body.byte(0x0b); inject.leaveFrame(body); break
        case RESTORE_FRAME: inject.restoreFrame(body); break
      }
    }
    body.copy(code, from, end)
    checkEngineLimit('functionBodyBytes', body.length, `function ${ctx.index}`, localsEnd)
    out.sized(body)
  }
}

const SCRATCH_LOCALS = [0x03, 0x7f, 0x01, 0x7e]
const SCRATCH_LOCAL_COUNT = 4

const SCRATCH = {
  editPos: [] as number[], editKind: [] as number[], editArg: [] as number[], segmentCost: [] as number[],
  /** Per segment: 1 when the global is stored somewhere in it (then with its charge). */
  segmentStores: [] as number[],
  kinds: [] as number[], targeted: [] as boolean[], caught: [] as boolean[], tryBody: [] as boolean[],
  /** Per frame: the index of a loop's header CHARGE edit (-1 for other frames). */
  headerEdit: [] as number[],
}

/** Byte length of the LEB128 at `pos`. */
function lebLength(code: Uint8Array, pos: number): number {
  let n = 1
  while (code[pos + n - 1]! & 0x80) n++
  return n
}
