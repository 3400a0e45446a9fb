import { IntList } from './int-list.js'
import { Edit, SegmentFlag } from './edits.js'
import type { UnstoredPaths } from './unstored-paths.js'

const { STORES, STORES_IF_LOOPS_TOUCH_GLOBAL, PASSES } = SegmentFlag

/**
 * The rewriter's record of one body: its metered segments (cost, whether the counter is
 * stored with the charge), the edits to splice in, and where the counter is unstored or the
 * code dead, as the scan (`FunctionRewriter`) walks the instructions in order.
 */
export class SegmentLedger {
  protected readonly edits = new IntList(1024) // triples: position, kind, argument
  /** Positions of one-byte local or global indices to increase in the output, and by how much (see `emitEdits`). */
  protected readonly bumps = new IntList(1024)
  protected readonly bumpBy = new IntList(1024)
  protected readonly segmentCost = new IntList()
  /** Per segment: `SegmentFlag` bits (whether its charge stores the global, whether a call in it passed the counter). */
  protected readonly segmentFlags = new IntList()
  /** Per segment: the segment it was joined into (a loop header), or -1. */
  protected readonly joinedInto = new IntList()
  /** Per segment: 1 when it started live (its charge is emitted). */
  protected readonly segmentLive = new IntList()
  /** A call passed the counter since the current segment's charge: a store can no longer join that charge. */
  protected passed = false
  /** Segments outside loops store the counter with their charge (see `startSegment`). */
  private storeOutsideLoops = true
  /** Code in a loop reads or writes the global. */
  private globalInLoop = false
  /** The links (see `UnstoredPaths`) of the merge the current segment started at; -2 when it started elsewhere. */
  protected mergeLinks = -2
  protected segment = -1
  /** Loops open around the current instruction. */
  protected loopDepth = 0
  protected cost = 0
  /** The local copy of the counter was charged since the global was last written. A segment has one entry, so a linear scan tells it exactly. */
  protected unstored = false
  /**
   * Code after an unconditional branch, return, throw or `unreachable` is dead up to the end
   * (or else/catch) of the frame it is in: nothing is inserted there, so a run of dead
   * instructions is not charged instruction by instruction (15x the bytes otherwise).
   */
  protected dead = false
  /** The control-stack height at which the dead code began. */
  protected deadFrames = 0

  protected clearSegments(storeOutsideLoops: boolean): void {
    this.edits.clear(); this.bumps.clear(); this.bumpBy.clear(); this.segmentCost.clear(); this.segmentFlags.clear(); this.joinedInto.clear(); this.segmentLive.clear()
    this.storeOutsideLoops = storeOutsideLoops
    this.globalInLoop = false
    this.segment = -1
    this.loopDepth = 0
    this.cost = 0
    this.unstored = false
    this.dead = false
    this.mergeLinks = -2
  }

  protected insert(pos: number, kind: number, arg = 0): void {
    if (!this.dead) this.always(pos, kind, arg)
  }

  /** The index immediate at `pos` moves up `by` (in dead code too). */
  protected moveUp(pos: number, index: number, oneByte: boolean, by: number): void {
    if (index + by < 0x80 && oneByte) { this.bumps.push(pos); this.bumpBy.push(by) } // still one byte: patched in the copy
    else this.always(pos, Edit.RENUMBER_INDEX, index + by)
  }

  /** An edit the output needs even in dead code, which is validated too (it changes types or indices). */
  protected always(pos: number, kind: number, arg = 0): void {
    const edits = this.edits
    edits.push(pos); edits.push(kind); edits.push(arg)
  }

  protected startSegment(pos: number): void {
    if (this.segment >= 0) this.segmentCost.data[this.segment] = this.cost
    this.segment = this.segmentCost.length
    this.segmentCost.push(0)
    // Outside loops a segment runs once per call: its charge stores the counter (measured on
    // V8: recursive fib 1.5x with these stores, 1.7x without); inside loops only where needed.
    // A function that returns the counter (`fuel-passing.ts`) needs no store on the way out:
    // its segments outside loops store only if a loop touches the global (`settleStores`).
    this.segmentFlags.push(this.loopDepth > 0 ? 0 : this.storeOutsideLoops ? STORES : STORES_IF_LOOPS_TOUCH_GLOBAL)
    this.passed = false
    this.joinedInto.push(-1)
    this.segmentLive.push(this.dead ? 0 : 1)
    this.mergeLinks = -2
    this.cost = 0
    this.insert(pos, Edit.CHARGE, this.segment)
    this.unstored = true
  }

  /** What follows is dead code, up to the end of the current frame (at control-stack height `height`). */
  protected die(height: number): void {
    if (this.dead) return
    this.dead = true
    this.deadFrames = height
  }

  /** Code is live again at a boundary of the frame at control-stack height `height`. */
  protected liveAt(height: number): void {
    if (this.dead && height <= this.deadFrames) this.dead = false
  }

  /**
   * The end of a loop nothing branches to: its header is entered once, by falling through
   * from the segment its `loop` instruction belongs to, so the header's segment joins that
   * one (the charge moves there; nested loops nobody branches to cost one charge, not one each).
   */
  protected endLoop(headerEdit: number, outer: number): void {
    const edits = this.edits.data, cost = this.segmentCost.data, flags = this.segmentFlags.data
    const header = edits[headerEdit + 2]!
    // After a call that passed the counter, the outer charge comes before the call: the
    // header's stores cannot move there, so they stay at the header, on their own. The cost
    // still joins, so where the counter lives changes no charge (and no trap's fuel figure).
    const outerPassed = (flags[outer]! & PASSES) !== 0
    edits[headerEdit + 1] = outerPassed && (flags[header]! & STORES) !== 0 ? Edit.STORE_FUEL_HERE : Edit.NONE
    flags[outer] = flags[outer]! | (outerPassed ? flags[header]! & ~STORES : flags[header]!)
    this.joinedInto.data[header] = outer
    if (this.segment === header) { // still in it: carry on in the outer one
      this.segment = outer
      if (outerPassed) this.passed = true // a store from here on cannot join the outer charge
      this.cost += cost[outer]!
    } else {
      cost[outer] = cost[outer]! + cost[header]!
    }
    cost[header] = -1 // joined: neither charged nor stored on its own
  }

  /**
   * Decides the stores left open by `startSegment`. On V8 a loop that reads or writes the
   * global runs measurably faster when the function wrote it before the loop (C qsort, whose
   * comparator loops store around each indirect call: 1.17x without, 1.10x with), while in a
   * function whose loops never touch it the store is pure cost (C fib: 1.31x with, 1.11x
   * without).
   */
  protected settleStores(): void {
    if (this.storeOutsideLoops || !this.globalInLoop) return // nothing open, or no store wanted
    const flags = this.segmentFlags.data
    for (let i = 0; i < this.segmentFlags.length; i++) if (flags[i]! & STORES_IF_LOOPS_TOUCH_GLOBAL) flags[i] = flags[i]! | STORES
  }

  /** The code writes the global itself here (a dynamic charge). */
  protected wroteGlobal(): void {
    this.unstored = false
    if (this.loopDepth > 0) this.globalInLoop = true
  }

  /** The global must be exact before the instruction at `pos`. */
  protected store(pos: number): void {
    if (!this.unstored) return
    if (this.loopDepth > 0) this.globalInLoop = true
    if (this.passed) { // the local moved since the charge: store it here
      this.insert(pos, Edit.STORE_FUEL_HERE)
      this.unstored = false
      return
    }
    // Joined to the segment's charge when it has one: it does, once anything in it costs
    // (the instruction that needs the store is counted already). Only a store before a
    // function's final `end` can sit in a segment that costs nothing.
    if (this.cost === 0) this.insert(pos, Edit.STORE_FUEL, this.segment)
    this.segmentFlags.data[this.segment] = this.segmentFlags.data[this.segment]! | STORES
    this.unstored = false
  }

  protected reload(pos: number): void {
    this.insert(pos, Edit.RELOAD_FUEL)
    this.wroteGlobal()
  }

  /** A call passed the counter and took back the callee's: the global is behind it. */
  protected passedCounter(): void {
    this.unstored = true
    this.passed = true
    this.segmentFlags.data[this.segment] = this.segmentFlags.data[this.segment]! | PASSES
  }

  /**
   * The current segment started at a merge and charges nothing before the function's end:
   * joins a store to the charge of every segment whose path arrives there unstored.
   * @returns false when that cannot be done (then the store goes at the end).
   */
  protected storeOnIncomingPaths(paths: UnstoredPaths): boolean {
    if (this.mergeLinks === -2 || this.dead) return false
    const charged = (segment: number) => {
      const s = this.resolve(segment)
      return this.segmentLive.data[s] === 1 && this.segmentCost.data[s]! > 0 && (this.segmentFlags.data[s]! & PASSES) === 0
    }
    if (!paths.every(this.mergeLinks, charged)) return false
    paths.every(this.mergeLinks, (segment) => { const s = this.resolve(segment); this.segmentFlags.data[s] = this.segmentFlags.data[s]! | STORES; return true })
    this.unstored = false
    return true
  }

  /**
   * The segment whose charge a segment's cost went to. The chains it follows are as long as
   * loops are nested, and a merge can have as many incoming paths as a br_table has targets:
   * each chain is shortened to one step once walked (path compression), or 65,520 paths out
   * of 2 million nested loops would take minutes.
   */
  protected resolve(segment: number): number {
    const joined = this.joinedInto.data
    let root = segment
    while (joined[root]! >= 0) root = joined[root]!
    while (joined[segment]! >= 0) { const next = joined[segment]!; joined[segment] = root; segment = next }
    return root
  }
}
