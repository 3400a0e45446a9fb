import { Reader } from './reader.js'
import { Writer } from './writer.js'
import { STATIC_COST, type DynamicCharge } from './cost-rules.js'
import { skipBlockType, skipFcImmediates, skipFdImmediates, skipFeImmediates, skipMemarg, skipValueType } from './immediates.js'
import {
  dynamicCharge, enterFrame, leaveFrame, recordDeniedGrow, restoreFrame, staticCharge,
  type InjectionGlobals, type ScratchLocals,
} from './injection.js'

/** What the rewriter needs to know about the function whose body it rewrites. */
export interface FunctionContext {
  /** Number of parameters (locals are numbered after them). */
  params: number
  /** Block type bytes for the function's results (used to wrap the body for depth counting). */
  resultBlockType: number[]
  globals: InjectionGlobals
  /** Maximum call depth, or null when depth is not limited. */
  stackDepth: number | null
}

// Control frame kinds.
const BLOCK = 0, LOOP = 1, IF = 2, TRY = 3, FUNCTION = 4

/** A metered segment: straight-line code charged once, at its start. */
interface Segment { cost: number }

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
 * the overhead low. The charge for a segment is only known at its end, so the pass records
 * edits (position + bytes) and then splices them into a copy of the body: one decoding pass,
 * linear in the body size.
 */
export function rewriteFunction(r: Reader, end: number, ctx: FunctionContext, out: Writer): void {
  const code = r.bytes
  // Local declarations: copied as they are, plus our scratch locals.
  const localsStart = r.pos
  const groups = r.u32()
  const localsGroupsStart = r.pos
  let locals = ctx.params
  for (let i = 0; i < groups; i++) {
    locals += r.u32()
    skipValueType(r)
  }
  const localsEnd = r.pos
  const scratch: ScratchLocals = { operand: locals, result: locals + 1, savedDepth: locals + 2 }
  const g = ctx.globals
  const depthLimited = ctx.stackDepth !== null

  const editPos: number[] = []
  const editData: (number[] | Segment)[] = []
  let usesScratch = depthLimited
  const insert = (pos: number, bytes: number[]): void => { editPos.push(pos); editData.push(bytes) }
  let segment: Segment = { cost: 0 }
  const startSegment = (pos: number): void => {
    segment = { cost: 0 }
    editPos.push(pos)
    editData.push(segment)
  }
  const charge = (pos: number, kind: DynamicCharge): void => {
    const bytes: number[] = []
    dynamicCharge(bytes, g, scratch, kind)
    insert(pos, bytes)
    usesScratch = true
  }

  // Control stack: kind and whether a forward branch targets its end.
  const kinds: number[] = [FUNCTION]
  const targeted: boolean[] = [false]
  const markTarget = (depth: number): void => {
    const index = kinds.length - 1 - depth
    if (index < 0) r.fail(`branch depth ${depth} out of range`)
    targeted[index] = true
  }

  if (depthLimited) {
    const bytes: number[] = []
    enterFrame(bytes, g, scratch, ctx.stackDepth!)
    bytes.push(0x02, ...ctx.resultBlockType)
    insert(r.pos, bytes)
  }
  startSegment(r.pos)

  for (;;) {
    const at = r.pos
    if (at >= end) r.fail('function body ends without end', at)
    const op = code[r.pos++]!
    segment.cost += STATIC_COST[op]!
    switch (op) {
      case 0x02: // block
        skipBlockType(r); kinds.push(BLOCK); targeted.push(false); break
      case 0x03: // loop: the header is a segment start, charged every iteration
        skipBlockType(r); kinds.push(LOOP); targeted.push(false); startSegment(r.pos); break
      case 0x04: // if
        skipBlockType(r); kinds.push(IF); targeted.push(false); startSegment(r.pos); break
      case 0x06: // try (legacy exception handling)
        skipBlockType(r); kinds.push(TRY); targeted.push(false); break
      case 0x05: // else
        startSegment(r.pos); break
      case 0x07: // catch tag
      case 0x19: // catch_all
        if (op === 0x07) r.u32()
        if (depthLimited) { const b: number[] = []; restoreFrame(b, g, scratch); insert(r.pos, b) }
        startSegment(r.pos); break
      case 0x18: // delegate label: ends the try
        r.u32(); kinds.pop(); targeted.pop(); startSegment(r.pos); break
      case 0x1f: { // try_table bt catch*: handlers branch to enclosing labels
        skipBlockType(r)
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const kind = r.byte()
          if (kind <= 1) r.u32() // catch / catch_ref carry a tag
          else if (kind > 3) r.fail(`unknown catch kind ${kind}`)
          markTarget(r.u32())
        }
        kinds.push(BLOCK); targeted.push(false)
        break
      }
      case 0x0b: { // end
        const kind = kinds.pop()!
        const joins = targeted.pop()!
        if (kind === FUNCTION) {
          if (r.pos !== end) r.fail('code after the end of a function body', r.pos)
          if (depthLimited) { const b = [0x0b]; leaveFrame(b, g, scratch); insert(at, b) }
          return emit()
        }
        if (kind === IF || kind === TRY || (kind === BLOCK && joins)) {
          // A handler of try_table landing here unwound frames: restore the depth.
          if (depthLimited && joins) { const b: number[] = []; restoreFrame(b, g, scratch); insert(r.pos, b) }
          startSegment(r.pos)
        }
        break
      }
      case 0x0c: // br
      case 0x0d: // br_if
      case 0xd5: // br_on_null
      case 0xd6: // br_on_non_null
        markTarget(r.u32()); startSegment(r.pos); break
      case 0x0e: { // br_table
        const n = r.u32()
        for (let i = 0; i <= n; i++) markTarget(r.u32())
        startSegment(r.pos)
        break
      }
      case 0x0f: // return
        if (depthLimited) { const b: number[] = []; leaveFrame(b, g, scratch); insert(at, b) }
        startSegment(r.pos); break
      case 0x12: // return_call f
      case 0x13: // return_call_indirect type table
      case 0x15: // return_call_ref type
        r.u32()
        if (op === 0x13) r.u32()
        if (depthLimited) { const b: number[] = []; leaveFrame(b, g, scratch); insert(at, b) }
        startSegment(r.pos); break
      case 0x00: // unreachable
      case 0x0a: // throw_ref
        startSegment(r.pos); break
      case 0x08: // throw tag
      case 0x09: // rethrow label
        r.u32(); startSegment(r.pos); break
      case 0x40: { // memory.grow mem
        const memory = r.u32()
        charge(at, 'memoryPages')
        const b: number[] = []
        recordDeniedGrow(b, g, scratch, 'memory', memory)
        insert(r.pos, b)
        break
      }
      case 0x10: case 0x14: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24:
      case 0x25: case 0x26: case 0x3f: case 0xd2:
        r.u32(); break // one index
      case 0x11: // call_indirect type table
        r.u32(); r.u32(); break
      case 0x1c: { // select t*
        const n = r.u32()
        for (let i = 0; i < n; i++) skipValueType(r)
        break
      }
      case 0x41: case 0x42: r.skipLeb(); break // i32/i64.const
      case 0x43: r.skip(4); break // f32.const
      case 0x44: r.skip(8); break // f64.const
      case 0xd0: r.s33(); break // ref.null heaptype
      case 0xfc: {
        const sub = r.u32()
        const immediates = r.pos
        skipFcImmediates(r, sub)
        if (sub === 8 || sub === 10 || sub === 11) charge(at, 'memoryBytes')
        else if (sub === 12 || sub === 14 || sub === 17) charge(at, 'tableElements')
        else if (sub === 15) { // table.grow t
          charge(at, 'tableElements')
          const b: number[] = []
          recordDeniedGrow(b, g, scratch, 'table', new Reader(code, immediates, end).u32())
          insert(r.pos, b)
        }
        break
      }
      case 0xfd: skipFdImmediates(r, r.u32()); break
      case 0xfe: skipFeImmediates(r, r.u32()); break
      default:
        if (op >= 0x28 && op <= 0x3e) skipMemarg(r)
        else if (!((op >= 0x45 && op <= 0xc4) || op === 0x01 || op === 0x1a || op === 0x1b ||
                   op === 0xd1 || op === 0xd3 || op === 0xd4)) {
          r.fail(`unknown instruction 0x${op.toString(16)}`, at)
        }
    }
  }

  function emit(): void {
    const body = new Writer(end - localsStart + editPos.length * 24)
    // Local declarations: the original groups, plus one group of three i32 scratch locals.
    body.u32(groups + (usesScratch ? 1 : 0))
    body.copy(code, localsGroupsStart, localsEnd)
    if (usesScratch) body.bytes([0x03, 0x7f])
    let from = localsEnd
    const bytes: number[] = []
    for (let i = 0; i < editPos.length; i++) {
      const pos = editPos[i]!
      const data = editData[i]!
      if (pos > from) { body.copy(code, from, pos); from = pos }
      if (Array.isArray(data)) body.bytes(data)
      else if (data.cost > 0) { bytes.length = 0; staticCharge(bytes, g, data.cost); body.bytes(bytes) }
    }
    body.copy(code, from, end)
    out.sized(body)
  }
}
