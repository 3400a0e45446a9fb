import { Reader } from './reader.js'
import { Writer } from './writer.js'
import { FunctionRewriter } from './function-rewriter.js'
import { Injector } from './injection.js'
import type { FunctionInfo } from './module-types.js'
import type { FuncTypeRecord } from './module-sections.js'
import { NativeBodies, type NativeModuleSettings } from './native-rewriter.js'
import { PassingNotPossible } from './fuel-passing.js'

export interface CodeSectionContext extends NativeModuleSettings {
  types: FuncTypeRecord[]
  /** Type index of every function, imports first. */
  funcTypes: number[]
  /** The profile counters of defined function `i`, when profiling. */
  profile: ((i: number) => { calls: number; fuel: number }) | null
  /** Whether the native rewriter may be used (`native-rewriter.ts`). */
  native: boolean
}

/**
 * Rewrites every body of the code section (`s` is past the body count, `end` the section's
 * end): natively where the engine allows, else, and for any body the native rewriter
 * declines, with `FunctionRewriter`. Both give the same bytes.
 * @returns the rewritten bodies, sized, in order, as pieces to concatenate: views of the
 *   native rewriter's memory among them, valid until it is next used
 * @throws PassingNotPossible (see `fuel-passing.ts`)
 */
export function rewriteBodies(s: Reader, count: number, end: number, ctx: CodeSectionContext): Uint8Array[] {
  const bytes = s.bytes
  const sectionStart = s.pos
  const native = ctx.native ? NativeBodies.open(bytes.subarray(sectionStart, end), ctx) : null
  const pieces: Uint8Array[] = []
  let rewriter: FunctionRewriter | null = null // only when needed: most modules never need it
  /** `FunctionRewriter`'s output: every body without the native rewriter, else one declined body at a time. */
  const writer = new Writer(native ? 1024 : 2 * (end - sectionStart) + 1024)
  const fn: FunctionInfo = { index: 0, params: 0, resultBlockType: [], profile: null, passing: false }
  const body = new Reader(bytes)
  try {
    for (let i = 0; i < count; i++) {
      const bodySize = s.u32()
      const bodyEnd = s.pos + bodySize
      if (bodyEnd > end) s.fail('function body extends past its section')
      const typeIndex = ctx.funcTypes[ctx.importedFuncs + i]!
      const type = ctx.types[typeIndex] ?? s.fail(`function ${ctx.importedFuncs + i} has unknown type ${typeIndex}`)
      fn.index = ctx.importedFuncs + i
      fn.params = type.paramCount
      fn.passing = ctx.passing?.[fn.index] === 1
      fn.profile = ctx.profile ? ctx.profile(i) : null
      const done = native?.rewrite(s.pos - sectionStart, bodyEnd - sectionStart, fn.params, fn.passing, typeIndex, fn.profile)
      if (done === 'passing not possible') throw new PassingNotPossible()
      if (done !== 'done') {
        fn.resultBlockType = ctx.resultBlockTypes[typeIndex]!
        rewriter ??= new FunctionRewriter(new Injector(ctx.globals), {
          stackDepth: ctx.stackDepth, fast: ctx.fast, passing: ctx.passing, globalsFrom: ctx.globalsFrom, importedFuncs: ctx.importedFuncs,
        })
        body.pos = s.pos
        body.end = bodyEnd
        rewriter.rewrite(body, bodyEnd, fn, writer)
        if (native) {
          native.place(pieces)
          pieces.push(writer.result().slice())
          writer.clear()
        }
      }
      s.pos = bodyEnd
    }
    if (native) native.finish(pieces)
    else pieces.push(writer.result())
    return pieces
  } finally {
    native?.close()
  }
}
