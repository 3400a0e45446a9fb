import { Reader } from './reader.js'
import { SECTION } from './module-sections.js'
import { skipValueType } from './immediates.js'
import { readConstExpr, readElementSegment } from './const-exprs.js'
import { ENGINE_LIMITS } from './engine-limits.js'
import { SCRATCH_LOCAL_COUNT } from './injection.js'

/**
 * Which functions take the fuel counter as an extra parameter and give it back as an extra
 * result, instead of through the global.
 *
 * A call through the global costs a store before it, a load at the callee's entry and a load
 * after it returns; in call-heavy code that is most of the metering overhead (recursive fib:
 * 1.45x with the global, 1.06x passing the counter, measured on V8). Only a function no one
 * outside the module can reach can change its signature: one that is not exported, not the
 * start function, and not in any element segment or `ref.func` of a global (so never in a
 * table, never called indirectly). Calls to it pass the counter; every other call stores it
 * and reloads it as before. With `stackDepth`, the caller's depth goes along as a second
 * parameter, so a passing function that calls only passing functions never touches the
 * depth global either (fib with depth counting: 1.47x to 1.19x). Passing functions renumber
 * their locals (the new parameters come after the original ones), so the rewrite has more
 * to do in them: it is limited to bodies of at most {@link MAX_PASSING_BODY} bytes, where
 * calls cost the most relative to the work, and to functions whose locals leave room for the
 * new parameters under the engine's limit (a function with 49,995 locals meters, and must still).
 *
 * Read from the module before it is rewritten: the type and function sections, which change
 * for passing functions, come before the exports and elements that decide which ones pass.
 * (The name section is copied as it is: a debugger shows a passing function's locals under
 * the names of the ones before them.)
 */
export interface FuelPassingPlan {
  /** Per function index (imports first): 1 when it passes the counter. */
  passing: Uint8Array
  /** Type indices some passing function has. */
  types: Set<number>
}

/** A tail call or handler the plan cannot keep (the rewrite throws it; `meter()` then meters without passing). */
export class PassingNotPossible extends Error {}

/** Bodies above this many bytes keep the counter in the global (see above). */
export const MAX_PASSING_BODY = 2048

/** The most parameters, and results, a function may have in every JavaScript engine. */
const MAX_SIGNATURE = 1000

/** Locals a passing function gains: the counter and the depth parameters. */
const PASSED_LOCALS = 2

/** @returns the plan, or null when no function can pass the counter. */
export function planFuelPassing(bytes: Uint8Array): FuelPassingPlan | null {
  try {
    return plan(bytes)
  } catch {
    return null // malformed input is reported by the rewrite itself, with its offset
  }
}

function plan(bytes: Uint8Array): FuelPassingPlan | null {
  const r = new Reader(bytes, 8)
  let importedFuncs = 0
  let funcTypes: number[] = []
  let escaping = new Uint8Array(0) // per function index, once the function section is read
  const escapes = { func: (index: number) => { escaping[index] = 1 } }
  /** Types with no room for the added parameters or result (the JS API allows 1000 of each). */
  const full = new Set<number>()
  const paramCounts: number[] = [] // per type
  let codeStart = -1
  while (!r.done) {
    const id = r.byte()
    const size = r.u32()
    const s = new Reader(bytes, r.pos, r.pos + size)
    r.skip(size)
    switch (id) {
      case SECTION.type:
        for (let i = 0, n = s.u32(); i < n; i++) {
          if (s.byte() !== 0x60) return null // GC types: not metered anyway
          const params = s.u32()
          paramCounts.push(params)
          for (let k = 0; k < params; k++) skipValueType(s)
          const results = s.u32()
          for (let k = 0; k < results; k++) skipValueType(s)
          if (params + 2 > MAX_SIGNATURE || results + 1 > MAX_SIGNATURE) full.add(i) // room for the counter and the depth
        }
        break
      case SECTION.import:
        for (let n = s.u32(); n > 0; n--) {
          s.skip(s.u32()); s.skip(s.u32())
          const kind = s.byte()
          if (kind === 0) { s.u32(); importedFuncs++ } // function
          else if (kind === 1) { skipValueType(s); skipLimits(s) } // table
          else if (kind === 2) skipLimits(s) // memory
          else if (kind === 3) { skipValueType(s); s.byte() } // global
          else { s.byte(); s.u32() } // tag
        }
        break
      case SECTION.function:
        funcTypes = Array.from({ length: s.u32() }, () => s.u32())
        escaping = new Uint8Array(importedFuncs + funcTypes.length)
        break
      case SECTION.global:
        for (let n = s.u32(); n > 0; n--) { skipValueType(s); s.byte(); readConstExpr(s, escapes) }
        break
      case SECTION.export:
        for (let n = s.u32(); n > 0; n--) {
          s.skip(s.u32())
          const kind = s.byte(), index = s.u32()
          if (kind === 0) escaping[index] = 1
        }
        break
      case SECTION.start:
        escaping[s.u32()] = 1
        break
      case SECTION.element:
        for (let n = s.u32(); n > 0; n--) readElementSegment(s, escapes)
        break
      case SECTION.code:
        codeStart = s.pos
        break
    }
  }
  if (codeStart < 0 || funcTypes.length === 0) return null
  const passing = new Uint8Array(importedFuncs + funcTypes.length)
  const types = new Set<number>()
  const code = new Reader(bytes, codeStart)
  const body = new Reader(bytes)
  const count = code.u32()
  for (let i = 0; i < count; i++) {
    const size = code.u32()
    code.skip(size)
    const index = importedFuncs + i
    if (size > MAX_PASSING_BODY || escaping[index] || full.has(funcTypes[i]!)) continue
    // The counter and depth parameters must not take the function over the engine's limit on
    // locals, which it would not cross metered without them.
    body.pos = code.pos - size
    body.end = code.pos
    if (paramCounts[funcTypes[i]!]! + declaredLocals(body) + PASSED_LOCALS + SCRATCH_LOCAL_COUNT > ENGINE_LIMITS.functionLocals) continue
    passing[index] = 1
    types.add(funcTypes[i]!)
  }
  return types.size > 0 ? { passing, types } : null
}

/** The locals a body declares (its groups' counts). */
function declaredLocals(body: Reader): number {
  let locals = 0
  for (let groups = body.u32(); groups > 0; groups--) {
    locals += body.u32()
    skipValueType(body)
  }
  return locals
}

function skipLimits(s: Reader): void {
  const flags = s.u32()
  s.u64Number()
  if (flags & 1) s.u64Number()
}
