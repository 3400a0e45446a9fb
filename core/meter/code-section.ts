import { Reader } from './reader.js'
import type { Writer } from './writer.js'
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
 * Rewrites every body of the code section into `out` (`s` is past the body count, `end` the
 * section's end): natively where the engine allows, else, and for any body the native
 * rewriter declines, with `FunctionRewriter`. Both give the same bytes.
 * @throws PassingNotPossible (see `fuel-passing.ts`)
 */
export function rewriteBodies(s: Reader, count: number, end: number, out: Writer, ctx: CodeSectionContext): void {
  const bytes = s.bytes
  const sectionStart = s.pos
  const native = ctx.native ? NativeBodies.open(bytes.subarray(sectionStart, end), ctx) : null
  let rewriter: FunctionRewriter | null = null // only when needed: most modules never need it
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
      const done = native?.rewrite(s.pos - sectionStart, bodyEnd - sectionStart, fn.params, fn.passing, typeIndex, fn.profile, out)
      if (done === 'passing not possible') throw new PassingNotPossible()
      if (done !== 'done') {
        fn.resultBlockType = ctx.resultBlockTypes[typeIndex]!
        rewriter ??= new FunctionRewriter(new Injector(ctx.globals), {
          stackDepth: ctx.stackDepth, fast: ctx.fast, passing: ctx.passing, globalsFrom: ctx.globalsFrom, importedFuncs: ctx.importedFuncs,
        })
        body.pos = s.pos
        body.end = bodyEnd
        rewriter.rewrite(body, bodyEnd, fn, out)
      }
      s.pos = bodyEnd
    }
    native?.drain(out)
  } finally {
    native?.close()
  }
}
