import { SandboxError } from '../errors/index.js'
import { encodeUtf8 } from '../text/index.js'
import { Reader } from './reader.js'
import type { Writer } from './writer.js'
import { writeSigned, writeUnsigned } from './leb128.js'
import { skipValueType } from './immediates.js'
import { valueTypeName, type FunctionType, type ModuleInfo } from './module-types.js'

/**
 * Reading and writing the module-level parts the meter looks at: section ids, function
 * types, memory and table limits, the name section, and the encodings of what it appends.
 */

/** Section ids of the binary format. */
export const SECTION = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7,
  start: 8, element: 9, code: 10, data: 11, dataCount: 12, tag: 13,
} as const

/** Position of each known section id in the required order (custom sections excluded). */
export const SECTION_ORDER: Record<number, number> = {
  [SECTION.type]: 1, [SECTION.import]: 2, [SECTION.function]: 3, [SECTION.table]: 4, [SECTION.memory]: 5, [SECTION.tag]: 6,
  [SECTION.global]: 7, [SECTION.export]: 8, [SECTION.start]: 9, [SECTION.element]: 10, [SECTION.dataCount]: 11,
  [SECTION.code]: 12, [SECTION.data]: 13,
}

const PAGE = 65536

export interface FuncTypeRecord extends FunctionType {
  paramCount: number
  /** Raw bytes of the parameter types. */
  paramBytes: number[]
  /** Raw bytes of the result types, for building block types. */
  resultBytes: number[]
  resultCount: number
}

export function readFuncType(s: Reader): FuncTypeRecord {
  const form = s.byte()
  if (form !== 0x60) s.fail(form === 0x4e || form === 0x50 || form === 0x4f ? 'GC proposal types are not supported' : `unknown type form 0x${form.toString(16)}`, s.pos - 1)
  const params: FunctionType['params'] = []
  const paramCount = s.u32()
  const paramStart = s.pos
  for (let i = 0; i < paramCount; i++) { params.push(valueTypeName(s.bytes[s.pos]!)); skipValueType(s) }
  const paramEnd = s.pos
  const resultCount = s.u32()
  const resultStart = s.pos
  const results: FunctionType['results'] = []
  for (let i = 0; i < resultCount; i++) { results.push(valueTypeName(s.bytes[s.pos]!)); skipValueType(s) }
  return { params, results, paramCount, resultCount, paramBytes: Array.from(s.bytes.subarray(paramStart, paramEnd)), resultBytes: Array.from(s.bytes.subarray(resultStart, s.pos)) }
}

export function signature(types: FuncTypeRecord[], index: number, s: Reader): FunctionType {
  const t = types[index] ?? s.fail(`unknown type index ${index}`)
  return { params: t.params, results: t.results }
}

/**
 * Copies limits, clamping the maximum to `cap` (adding one where there was none).
 * @returns the declared minimum.
 */
export function rewriteLimits(s: Reader, out: Writer, cap: number | null, kind: 'memory' | 'table'): number {
  const at = s.pos
  const flags = s.u32()
  if (flags > 0x07) s.fail(`bad ${kind} limits flags ${flags}`, at)
  const min = s.u64Number()
  const max = flags & 1 ? s.u64Number() : null
  if (cap === null) { out.copy(s.bytes, at, s.pos); return min }
  if (min > cap) {
    const unit = kind === 'memory' ? PAGE : 1
    throw new SandboxError('MEMORY_LIMIT',
      kind === 'memory'
        ? `the module declares a memory of ${min * PAGE} bytes, above the memory limit of ${cap * PAGE} bytes`
        : `the module declares a table of ${min} elements, above the tableElements limit of ${cap}`,
      { kind, limit: cap * unit, used: min * unit, suggestion: kind === 'memory' ? 'raise the `memory` option' : 'raise the `tableElements` option' })
  }
  out.u32(flags | 1)
  out.bytes(unsignedBytes(min))
  out.bytes(unsignedBytes(max === null ? cap : Math.min(max, cap)))
  return min
}

/**
 * Reads a name section: local names (subsection 2) of the functions in `exported` into
 * `locals` (those of the others are skipped undecoded: debug builds name every local of every
 * function).
 * @returns a copy of its function names (subsection 1), for `lazyFunctionNames`, or null
 */
export function readNameSection(s: Reader, exported: ReadonlyMap<number, string>, locals: Map<number, string[]>): Uint8Array | null {
  let functionNames: Uint8Array | null = null
  try {
    if (s.name() !== 'name') return null
    while (!s.done) {
      const id = s.byte()
      const size = s.u32()
      const end = s.pos + size
      if (id === 1) {
        s.skip(size)
        functionNames = s.bytes.slice(end - size, end) // a copy: the caller's module is not kept alive for its names
      } else if (id === 2) {
        for (let count = s.u32(); count > 0; count--) {
          const fn = s.u32()
          const names: string[] = []
          if (exported.has(fn)) locals.set(fn, names)
          for (let n = s.u32(); n > 0; n--) {
            const local = s.u32()
            if (exported.has(fn)) names[local] = s.name()
            else s.skip(s.u32())
          }
        }
      }
      s.pos = end
    }
  } catch {
    // The name section is advisory: a malformed one is ignored, as engines do.
  }
  return functionNames
}

/**
 * Makes `info.functionNames` the names of `subsections` (function-name subsections, in order),
 * then the export names of functions they do not name, decoded when first read: only
 * `profile()` shows them, and debug builds name tens of thousands of functions.
 */
export function lazyFunctionNames(info: ModuleInfo, subsections: Uint8Array[], exportNames: ReadonlyMap<number, string>): void {
  let names: Map<number, string> | undefined
  Object.defineProperty(info, 'functionNames', {
    enumerable: true,
    configurable: true,
    get: () => (names ??= decodeFunctionNames(subsections, exportNames)),
    set: (value: Map<number, string>) => { names = value },
  })
}

function decodeFunctionNames(subsections: Uint8Array[], exportNames: ReadonlyMap<number, string>): Map<number, string> {
  const names = new Map<number, string>()
  for (const bytes of subsections) {
    const s = new Reader(bytes)
    try {
      for (let count = s.u32(); count > 0; count--) names.set(s.u32(), s.name())
    } catch {
      // advisory (see readNameSection)
    }
  }
  for (const [index, name] of exportNames) if (!names.has(index)) names.set(index, name)
  return names
}

/** The start function's index, or null; reads only section headers and the start section. */
export function findStartFunction(bytes: Uint8Array): number | null {
  const r = new Reader(bytes, 8)
  while (!r.done) {
    const id = r.byte()
    const size = r.u32()
    if (id === SECTION.start) return r.u32()
    r.skip(size)
  }
  return null
}

export function writeSection(out: Pick<Writer, 'byte' | 'sized'>, id: number, content: Writer): void {
  out.byte(id)
  out.sized(content)
}

export function nameBytes(name: string): number[] {
  const utf8 = encodeUtf8(name)
  return [...unsignedBytes(utf8.length), ...utf8]
}

export function unsignedBytes(value: number): number[] {
  const b: number[] = []
  writeUnsigned(b, value)
  return b
}

export function signed(value: bigint): number[] {
  const b: number[] = []
  writeSigned(b, value)
  return b
}
