/**
 * Rewrites the code section of a module with the meter's own `rewriteBodies` (core/meter/
 * code-section.ts), natively or in TypeScript, without `meter()`'s engine validation in
 * front: for bodies with instructions this Node's engine does not have (try_table, exnref,
 * typed references and their branches, all of which the rewriters decode) and for malformed
 * bodies, which only the rewriters' own checks stand between and the engine in front of
 * `meter()` never lets through. The context is built from the module as `meter()` builds it
 * (types, imports, the fuel-passing plan, block types for multi-value bodies); the fuel,
 * depth and profile globals get indices past the module's own.
 */
import { Reader } from '../../../dist/core/meter/reader.js'
import { Writer } from '../../../dist/core/meter/writer.js'
import { readFuncType, signed, SECTION, type FuncTypeRecord } from '../../../dist/core/meter/module-sections.js'
import { skipValueType } from '../../../dist/core/meter/immediates.js'
import { rewriteBodies } from '../../../dist/core/meter/code-section.js'
import { PassingNotPossible, planFuelPassing } from '../../../dist/core/meter/fuel-passing.js'
import { NativeRewriterFailed } from '../../../dist/core/meter/native-rewriter.js'

export interface HarnessOptions {
  stackDepth?: number
  fast?: boolean
  profile?: boolean
  /** Globals move up one after the imported ones (as with `sharedFuel`). */
  sharedFuel?: boolean
  /** Internal functions pass the counter (as `meter()` plans it). */
  passing?: boolean
}

/** The rewritten code section, or the error's name and message (a NativeRewriterFailed is reported as such: a trap inside the native rewriter). */
export function rewriteCodeSection(bytes: Uint8Array, options: HarnessOptions, native: boolean): Uint8Array | string {
  let plan = options.passing === false ? null : planFuelPassing(bytes)
  for (;;) {
    try {
      return rewrite(bytes, options, native, plan)
    } catch (error) {
      if (error instanceof PassingNotPossible && plan) { plan = null; continue }
      if (error instanceof NativeRewriterFailed) return `NativeRewriterFailed: ${error.message}`
      return `${(error as Error).name}: ${(error as Error).message}`
    }
  }
}

function rewrite(bytes: Uint8Array, options: HarnessOptions, native: boolean, plan: ReturnType<typeof planFuelPassing>): Uint8Array {
  const r = new Reader(bytes, 8)
  const types: FuncTypeRecord[] = []
  const funcTypes: number[] = []
  let importedFuncs = 0, importedGlobals = 0, definedGlobals = 0
  const stackDepth = options.stackDepth ?? null
  const out = new Writer(2 * bytes.length + 1024)
  while (!r.done) {
    const id = r.byte()
    const size = r.u32()
    const s = new Reader(bytes, r.pos, r.pos + size)
    r.skip(size)
    if (id === SECTION.type) for (let n = s.u32(); n > 0; n--) types.push(readFuncType(s))
    else if (id === SECTION.import) {
      for (let n = s.u32(); n > 0; n--) {
        s.skip(s.u32()); s.skip(s.u32())
        const kind = s.byte()
        if (kind === 0) { funcTypes.push(s.u32()); importedFuncs++ }
        else if (kind === 3) { skipValueType(s); s.byte(); importedGlobals++ }
        else throw new Error('harness: only function and global imports')
      }
    } else if (id === SECTION.function) for (let n = s.u32(); n > 0; n--) funcTypes.push(s.u32())
    else if (id === SECTION.global) definedGlobals = s.u32()
    else if (id === SECTION.code) {
      const count = s.u32()
      const base = importedGlobals + definedGlobals + 1
      // As meter.ts: a multi-value body is wrapped in a block of a type index when depth is limited or it passes.
      const resultBlockTypes = types.map((t, i) => t.resultCount <= 1 || (stackDepth === null && !plan?.types.has(i))
        ? (t.resultCount === 0 ? [0x40] : t.resultBytes)
        : signed(BigInt(types.length + i)))
      out.u32(count)
      const bodies = rewriteBodies(s, count, s.end, {
        globals: { fuel: options.sharedFuel ? importedGlobals : base - 1, growDenied: base, tableGrowDenied: base + 1, depth: base + 2 },
        stackDepth, fast: options.fast ?? false, passing: plan?.passing ?? null,
        globalsFrom: options.sharedFuel ? importedGlobals : Number.MAX_SAFE_INTEGER, importedFuncs,
        resultBlockTypes, types, funcTypes,
        profile: options.profile ? (i) => ({ calls: base + 3 + 2 * i, fuel: base + 4 + 2 * i }) : null,
        native,
      })
      for (const piece of bodies) out.copy(piece, 0, piece.length)
    }
  }
  return out.result().slice()
}
