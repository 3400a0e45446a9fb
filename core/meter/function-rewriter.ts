import type { Reader } from './reader.js'
import type { FunctionInfo, RewriterOptions } from './module-types.js'
import { Writer } from './writer.js'
import { STATIC_COST } from './cost-rules.js'
import { skipBlockType, skipFcImmediates, skipFdImmediates, skipFeImmediates, skipMemarg, skipValueType } from './immediates.js'
import { SCRATCH_LOCAL_COUNT, type Injector } from './injection.js'
import { checkEngineLimit, ENGINE_LIMITS } from './engine-limits.js'
import { prefixedCanTrap, STORE_BEFORE_EXACT, STORE_BEFORE_FAST } from './fuel-observers.js'
import { IntList } from './int-list.js'
import { UnstoredPaths } from './unstored-paths.js'
import { Edit, emitEdits, type EmitContext } from './edits.js'
import { SegmentLedger } from './segments.js'
import { PassingNotPossible } from './fuel-passing.js'

// Control frame kinds, and flags kept with them in one entry of the control stack.
const BLOCK = 0, LOOP = 1, IF = 2, TRY = 3, FUNCTION = 4
const KIND_MASK = 7
/** A forward branch targets the frame's end. */
const TARGETED = 8
/** A try_table handler branches to it (control then arrives from unwound callees). */
const CAUGHT = 16
/** Inside the frame's try body (legacy try before its first catch, or try_table). */
const TRY_BODY = 32
/** An `if` whose `else` has been seen. */
const HAS_ELSE = 64
/** Some path reaches the frame's end with the counter unstored in a way not linked (see `pending`). */
const PENDING_UNKNOWN = 128

/**
 * Rewrites function bodies; one instance serves a whole module and reuses its lists, so a
 * body allocates nothing.
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
 * current segment, as a trap's frame has.) The charge for a segment is only known at its
 * end, so the pass records edits (position, kind, argument) and then splices them into a
 * copy of the body: one decoding pass, linear in the body size.
 */
export class FunctionRewriter extends SegmentLedger {
  private readonly frames = new IntList() // kind | flags
  /** Per frame: the edit index of a loop's header charge (-1 for other frames). */
  private readonly headerEdit = new IntList()
  /** Per frame: for a loop, the segment its `loop` instruction belongs to; for an `if`, the segment of the `if` when it left the counter unstored. */
  private readonly loopOuterSegment = new IntList()
  private readonly unstoredPaths = new UnstoredPaths()
  private readonly body = new Writer(1 << 16)
  /** Where the counter must be stored; `call` decides per callee, and passing functions do not store to return. */
  private readonly storeBefore: Uint8Array
  private readonly storeBeforeInPassing: Uint8Array
  private readonly depthLimited: boolean

  // Per body.
  private tryDepth = 0
  /** This body takes and returns the counter. */
  private passingBody = false
  /** With depth limited, the body writes the depth global on entry and exit: all but passing bodies that call only passing functions and handle no exceptions. */
  private writesDepth = false

  constructor(private readonly inject: Injector, private readonly options: RewriterOptions) {
    super()
    this.storeBefore = (options.fast ? STORE_BEFORE_FAST : STORE_BEFORE_EXACT).slice()
    this.storeBefore[CALL] = 0
    this.storeBeforeInPassing = this.storeBefore.slice()
    this.storeBeforeInPassing[RETURN] = 0
    this.depthLimited = options.stackDepth !== null
  }

  /** Rewrites the body at `r` (positioned at its local declarations, ending at `end`) into `out`, size-prefixed. */
  rewrite(r: Reader, end: number, fn: FunctionInfo, out: Writer): void {
    const code = r.bytes
    const groups = r.u32()
    const groupsStart = r.pos
    let locals = fn.params
    for (let i = 0; i < groups; i++) {
      locals += r.u32()
      skipValueType(r)
    }
    const localsEnd = r.pos
    // A passing function's counter (and, with depth limited, its caller's depth) are the
    // parameters after its own: its declared locals move up one (two).
    const passing = fn.passing
    const added = passing ? (this.depthLimited ? 2 : 1) : 0
    locals += added
    if (locals + SCRATCH_LOCAL_COUNT > ENGINE_LIMITS.functionLocals) checkEngineLimit('functionLocals', locals + SCRATCH_LOCAL_COUNT, `function ${fn.index}`, groupsStart)
    this.inject.forFunction(locals, passing ? fn.params : locals + 3, passing && this.depthLimited ? fn.params + 1 : -1)
    this.clearSegments(!passing)
    this.frames.clear(); this.headerEdit.clear(); this.loopOuterSegment.clear(); this.unstoredPaths.clear()
    this.tryDepth = 0; this.passingBody = passing; this.writesDepth = !passing
    this.push(FUNCTION, false)
    // A passing body is wrapped in a block, so branches to the function's label keep their
    // types; its end then adds the counter to the results (`END_AND_LEAVE`).
    if (this.depthLimited || passing) this.insert(r.pos, Edit.ENTER_FRAME)
    if (!passing) this.reload(r.pos)
    if (fn.profile) this.insert(r.pos, Edit.COUNT_CALL)
    this.startSegment(r.pos)
    this.scan(r, end, passing ? fn.params : Number.MAX_SAFE_INTEGER, added)
    this.segmentCost.data[this.segment] = this.cost
    this.settleStores()

    const body = this.body
    body.clear()
    // Local declarations: the original groups, plus our scratch locals (3 x i32, 1 x i64, 1 x i32).
    body.u32(groups + 3)
    body.copy(code, groupsStart, localsEnd)
    body.bytes(SCRATCH_LOCALS)
    const ctx: EmitContext = { inject: this.inject, fn, stackDepth: this.options.stackDepth, segmentCost: this.segmentCost.data, segmentFlags: this.segmentFlags.data, writesDepth: this.writesDepth }
    emitEdits(code, localsEnd, end, this.edits, this.bumps, this.bumpBy, ctx, body)
    if (body.length > ENGINE_LIMITS.functionBodyBytes) checkEngineLimit('functionBodyBytes', body.length, `function ${fn.index}`, localsEnd)
    out.sized(body)
  }

  /**
   * Decodes the instructions, recording edits, up to and including the body's final `end`.
   * Local indices from `renumberFrom` on move up one (a passing body's).
   */
  private scan(r: Reader, end: number, renumberFrom: number, added: number): void {
    const code = r.bytes
    const storeBefore = this.passingBody ? this.storeBeforeInPassing : this.storeBefore
    const passing = this.options.passing
    const globalsFrom = this.options.globalsFrom
    const depthLimited = this.depthLimited
    const fast = this.options.fast
    for (;;) {
      const at = r.pos
      if (at >= end) r.fail('function body ends without end', at)
      const op = code[r.pos++]!
      this.cost += STATIC_COST[op]!
      if (storeBefore[op]) this.store(at)
      // The common cases first: numeric instructions (no immediate) and local/global access.
      if (op >= 0x45 && op <= 0xc4) continue
      if (op >= 0x20 && op <= 0x24) {
        const immediate = r.pos
        const index = code[immediate]! < 0x80 && immediate < end ? code[r.pos++]! : r.u32()
        // A passing function's local, or a global after an imported counter, moves up one.
        if (op <= 0x22 ? index >= renumberFrom : index >= globalsFrom) this.moveUp(immediate, index, r.pos === immediate + 1, op <= 0x22 ? added : 1)
        continue
      }
      if ((op >= 0x28 && op <= 0x3e) || op === 0x41 || op === 0x42) { // loads, stores: memarg; constants
        let p = r.pos
        if (op <= 0x3e) { // a one-byte alignment without a memory index
          const align = code[p]!
          if (align >= 0x40 || p >= end) { skipMemarg(r); continue }
          p++
        }
        // the offset or the constant: a LEB128 of up to 10 bytes
        const limit = Math.min(end, p + 10)
        while (p < limit && code[p]! & 0x80) p++
        if (p >= limit) { r.pos = p; r.fail(p >= end ? 'unexpected end' : 'LEB128 integer too long') }
        r.pos = p + 1
        continue
      }
      switch (op) {
        case 0x02: skipBlockType(r); this.push(BLOCK, false); break // block
        case 0x03: // loop: the header pays each iteration (see `endLoop` for a loop nothing branches to)
          skipBlockType(r); this.push(LOOP, false); this.loopDepth++
          this.headerEdit.data[this.headerEdit.length - 1] = this.dead ? -1 : this.edits.length
          this.loopOuterSegment.data[this.loopOuterSegment.length - 1] = this.segment
          this.startSegment(r.pos)
          break
        case 0x04: // if: without an else, the false path goes from here to the end
          skipBlockType(r); this.push(IF, false)
          this.loopOuterSegment.data[this.loopOuterSegment.length - 1] = this.unstored && !this.dead ? this.segment : -1
          this.startSegment(r.pos)
          break
        case 0x06: skipBlockType(r); this.push(TRY, true); this.writesDepth = true; break // try (legacy exception handling)
        case 0x05: { // else
          const top = this.frames.length - 1
          this.pending(top) // the then arm falls through to the end
          this.frames.data[top] = this.frames.data[top]! | HAS_ELSE
          this.liveAt(this.frames.length); this.startSegment(r.pos); break
        }
        case 0x07: // catch tag
        case 0x19: // catch_all
          if (op === 0x07) r.u32()
          this.liveAt(this.frames.length)
          this.leaveTryBody() // a handler's own calls throw past this try
          if (depthLimited) this.insert(r.pos, Edit.RESTORE_FRAME)
          this.reload(r.pos) // the frames the exception unwound charged the global
          this.startSegment(r.pos)
          break
        case 0x18: // delegate label: ends the try
          r.u32(); this.pop(); this.liveAt(this.frames.length + 1); this.startSegment(r.pos); break
        case 0x1f: { // try_table bt catch*: handlers branch to enclosing labels
          skipBlockType(r)
          const n = r.u32()
          for (let i = 0; i < n; i++) {
            const kind = r.byte()
            if (kind <= 1) r.u32() // catch / catch_ref carry a tag
            else if (kind > 3) r.fail(`unknown catch kind ${kind}`)
            this.markTarget(r, r.u32(), true)
          }
          this.push(BLOCK, true)
          this.writesDepth = true // its handlers restore the depth global
          break
        }
        case 0x0b: { // end
          const headerEdit = this.headerEdit.top(), outer = this.loopOuterSegment.top()
          const top = this.frames.length - 1
          this.pending(top) // falling through to the end
          if ((this.frames.data[top]! & (KIND_MASK | HAS_ELSE)) === IF && outer >= 0) this.link(top, outer) // the false path
          const links = this.unstoredPaths.topList()
          const frame = this.pop()
          const kind = frame & KIND_MASK
          if (kind === LOOP) this.loopDepth--
          this.liveAt(this.frames.length + 1)
          if (kind === LOOP && (frame & TARGETED) === 0 && headerEdit >= 0) this.endLoop(headerEdit, outer)
          if (kind === FUNCTION) {
            if (r.pos !== end) r.fail('code after the end of a function body', r.pos)
            if (this.passingBody) { this.insert(at, Edit.END_AND_LEAVE); return } // returns the counter: nothing to store
            if (!(this.cost === 0 && this.storeOnIncomingPaths(this.unstoredPaths))) this.store(at)
            if (depthLimited) this.insert(at, Edit.END_AND_LEAVE)
            return
          }
          if (kind === IF || kind === TRY || (kind === BLOCK && (frame & TARGETED) !== 0)) {
            if (frame & CAUGHT) { // a try_table handler lands here from unwound frames
              if (depthLimited) this.insert(r.pos, Edit.RESTORE_FRAME)
              this.reload(r.pos)
            }
            this.startSegment(r.pos)
            if (kind !== TRY && (frame & (CAUGHT | PENDING_UNKNOWN)) === 0) this.mergeLinks = links
          }
          break
        }
        case 0x0c: // br
        case 0x0d: // br_if
        case 0xd5: // br_on_null
        case 0xd6: // br_on_non_null
          if (this.markTarget(r, r.u32(), false) && !this.passingBody) this.store(at)
          if (op === 0x0c) this.die(this.frames.length)
          this.startSegment(r.pos); break
        case 0x0e: { // br_table
          const n = r.u32()
          let leaves = false
          for (let i = 0; i <= n; i++) leaves = this.markTarget(r, r.u32(), false) || leaves
          if (leaves && !this.passingBody) this.store(at)
          this.die(this.frames.length)
          this.startSegment(r.pos)
          break
        }
        case 0x0f: // return
          if (depthLimited) this.insert(at, Edit.LEAVE_FRAME)
          if (this.passingBody) this.always(at, Edit.PUSH_FUEL)
          this.die(this.frames.length)
          this.startSegment(r.pos); break
        case 0x12: // return_call f
        case 0x13: // return_call_indirect type table
        case 0x15: { // return_call_ref type
          const target = r.u32() // the function, or the type
          if (op === 0x13) r.u32()
          // A tail call returns the callee's results as the caller's: both must pass the
          // counter or neither. Not worth the bookkeeping (tail calls are rare): the module is
          // metered again without passing.
          if (passing !== null && (this.passingBody || (op === 0x12 && passing[target] === 1))) throw new PassingNotPossible()
          if (depthLimited) this.insert(at, Edit.LEAVE_FRAME)
          this.die(this.frames.length)
          this.startSegment(r.pos); break
        }
        case 0x00: // unreachable
        case 0x0a: // throw_ref
          this.die(this.frames.length)
          this.startSegment(r.pos); break
        case 0x08: // throw tag
        case 0x09: // rethrow label
          r.u32(); this.die(this.frames.length); this.startSegment(r.pos); break
        case 0x10: { // call f
          const callee = r.u32()
          if (passing !== null && passing[callee] === 1) { // the counter (and depth) go in as the last arguments, the counter comes back as the last result
            this.always(at, Edit.PASS_COUNTERS)
            this.always(r.pos, Edit.TAKE_FUEL)
            this.passedCounter()
          } else {
            this.store(at)
            this.writesDepth = true
            // After host code, this function's depth back into the global: a host function may
            // swallow a depth trap of its ctx.call, whose frames never put the global back.
            if (depthLimited && callee < this.options.importedFuncs) this.insert(r.pos, Edit.RESTORE_FRAME)
            this.reload(r.pos) // the callee charged the global
          }
          if (this.tryDepth > 0) this.startSegment(r.pos) // the callee may throw to a handler of ours
          break
        }
        case 0x14: // call_ref type
        case 0x11: // call_indirect type table
          r.u32()
          if (op === 0x11) r.u32()
          this.writesDepth = true
          if (depthLimited) this.insert(r.pos, Edit.RESTORE_FRAME) // the callee may be an import (see `call`)
          this.reload(r.pos) // the callee charged the global
          if (this.tryDepth > 0) this.startSegment(r.pos) // the callee may throw to a handler of ours
          break
        case 0x40: { // memory.grow mem (dynamic charges store the counter themselves)
          this.insert(at, Edit.DYNAMIC_PAGES); this.wroteGlobal()
          const memory = r.u32()
          this.insert(r.pos, Edit.DENIED_MEMORY_GROW, memory)
          break
        }
        case 0x25: case 0x26: case 0x3f: case 0xd2: // (local and global access, loads, stores and integer constants are decoded above)
          r.u32(); break // one index
        case 0x1c: { // select t*
          const n = r.u32()
          for (let i = 0; i < n; i++) skipValueType(r)
          break
        }
        case 0x43: r.skip(4); break // f32.const
        case 0x44: r.skip(8); break // f64.const
        case 0xd0: r.s33(); break // ref.null heaptype
        case 0xfc: { // dynamic charges store the counter themselves
          const sub = r.u32()
          if (sub === 8 || sub === 10 || sub === 11) { this.insert(at, Edit.DYNAMIC_MEMORY); this.wroteGlobal() }
          else if (sub === 12 || sub === 14 || sub === 17) { this.insert(at, Edit.DYNAMIC_TABLE); this.wroteGlobal() }
          else if (sub === 15) { // table.grow t
            this.insert(at, Edit.DYNAMIC_TABLE); this.wroteGlobal()
            const table = r.u32()
            this.insert(r.pos, Edit.DENIED_TABLE_GROW, table)
            break
          }
          if (!fast && prefixedCanTrap(op, sub)) this.store(at)
          skipFcImmediates(r, sub)
          break
        }
        case 0xfd: case 0xfe: {
          const sub = r.u32()
          if (!fast && prefixedCanTrap(op, sub)) this.store(at)
          if (op === 0xfd) skipFdImmediates(r, sub)
          else skipFeImmediates(r, sub)
          break
        }
        default:
          if (!(op === 0x01 || op === 0x1a || op === 0x1b || op === 0xd1 || op === 0xd3 || op === 0xd4)) {
            r.fail(`unknown instruction 0x${op.toString(16)}`, at)
          }
      }
    }
  }

  /** A path from here reaches the end of frame `index` (see `UnstoredPaths`). */
  private pending(index: number): void {
    if (this.dead || !this.unstored) return
    if (this.cost > 0) this.link(index, this.segment)
    else this.frames.data[index] = this.frames.data[index]! | PENDING_UNKNOWN // nothing charged yet here: the state is this segment's entry's
  }

  private link(index: number, segment: number): void {
    this.unstoredPaths.add(index, segment)
  }

  /** Marks the frame a branch targets. @returns whether the branch leaves the function (targets its own label) */
  private markTarget(r: Reader, depth: number, handler: boolean): boolean {
    const index = this.frames.length - 1 - depth
    if (index < 0) r.fail(`branch depth ${depth} out of range`)
    // A try_table handler leaving a passing function would return its stale local copy of the
    // counter, refunding what the unwound frames charged: rare, so meter without passing.
    if (handler && index === 0 && this.passingBody) throw new PassingNotPossible()
    if (!handler && (this.frames.data[index]! & KIND_MASK) !== LOOP) this.pending(index)
    const frames = this.frames.data
    frames[index] = frames[index]! | (handler ? TARGETED | CAUGHT : TARGETED)
    // A handler that branches to a loop lands on its header, which charges from this frame's
    // copy of the counter: reload it first (the unwound callees charged the global), or the
    // header's store would refund their fuel; and restore the call depth they left behind.
    if (handler && (frames[index]! & KIND_MASK) === LOOP && this.headerEdit.data[index]! >= 0) this.edits.data[this.headerEdit.data[index]! + 1] = Edit.CAUGHT_LOOP_CHARGE
    return index === 0
  }

  private push(kind: number, tryBody: boolean): void {
    this.frames.push(tryBody ? kind | TRY_BODY : kind)
    this.headerEdit.push(-1)
    this.loopOuterSegment.push(-1)
    this.unstoredPaths.pushFrame()
    if (tryBody) this.tryDepth++
  }

  /** Leaves the try body of the innermost frame, if it is in one. */
  private leaveTryBody(): void {
    const top = this.frames.length - 1
    const frames = this.frames.data
    if (frames[top]! & TRY_BODY) { frames[top] = frames[top]! & ~TRY_BODY; this.tryDepth-- }
  }

  /** @returns the frame popped (kind | flags) */
  private pop(): number {
    this.leaveTryBody()
    this.headerEdit.pop()
    this.loopOuterSegment.pop()
    this.unstoredPaths.popFrame()
    return this.frames.pop()
  }
}

const SCRATCH_LOCALS = [0x03, 0x7f, 0x01, 0x7e, 0x01, 0x7f]
const CALL = 0x10, RETURN = 0x0f
