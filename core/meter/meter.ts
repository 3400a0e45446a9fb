import { SandboxError } from '../errors/index.js'
import { parseBytes } from '../policy/units.js'
import { encodeUtf8 } from '../text/index.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'
import { writeSigned, writeUnsigned } from './leb128.js'
import { FunctionRewriter, type FunctionInfo } from './function-rewriter.js'
import { Injector } from './injection.js'
import { createMeterControl, METER_EXPORTS, MAX_FUEL, type MeterControl } from './meter-control.js'
import { skipValueType } from './immediates.js'
import { validateModule } from './validate.js'
import { checkEngineLimit } from './engine-limits.js'
import {
  EXTERN_KINDS, valueTypeName, type ExportDescriptor, type FunctionType, type ImportDescriptor,
  type ModuleInfo,
} from './module-types.js'

export interface MeterOptions {
  /**
   * Fuel budget in force while the module is instantiated (its start function is metered
   * too); later budgets are set through `fuel(instance).set()`. Default 0: nothing runs
   * unmetered by accident.
   */
  fuel?: number | bigint | 'unlimited'
  /** Maximum nested wasm calls; exceeding it traps (reported as `STACK_OVERFLOW`). */
  stackDepth?: number
  /** Cap on every memory, in bytes or as '64MB': maxima are clamped to it. */
  memory?: number | string
  /** Cap on the elements of every table: maxima are clamped to it. */
  tableElements?: number
  /**
   * Per-function profiling: each defined function counts its calls and the fuel of its
   * segments in globals of its own (`__wasm_sandbox_profile_*`); read them with
   * `readProfile(instance)`. Costs a counter update per call and per segment.
   */
  profile?: boolean
  /**
   * Removes the start section and exports the start function as `__wasm_sandbox_start`
   * instead, for hosts that call it after instantiation so that its traps can be told
   * apart (fuel, depth) through the instance's meter state. Default false.
   */
  deferStart?: boolean
  /**
   * `'exact'` (default): the fuel a call reports is exact whether it returns or traps.
   * `'fast'`: exact when the call returns or throws; a call that ends in a wasm trap is
   * charged its whole budget (the host reports the trap through `noteTrap()` of the
   * instance's control), so trapping never hides work. Cheaper in loops that touch memory.
   */
  metering?: 'exact' | 'fast'
}

export interface MeterResult {
  /** The instrumented binary. */
  bytes: Uint8Array
  /** Extra imports the instrumented module needs: none with this backend. */
  imports: Record<string, Record<string, unknown>>
  /** The fuel (and limit-state) control of an instance of the instrumented module. */
  fuel(instance: { exports: object }): MeterControl
  /** Imports, exports with signatures, and other facts read on the way. */
  info: ModuleInfo
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]
const PAGE = 65536
/** Position of each known section id in the required order (custom sections excluded). */
const SECTION_ORDER: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 }
const GLOBAL_SECTION = 6
const EXPORT_SECTION = 7

interface FuncTypeRecord extends FunctionType {
  paramCount: number
  /** Raw bytes of the result types, for building block types. */
  resultBytes: number[]
  resultCount: number
}

/**
 * Instruments a module for metering: fuel per metered segment (see `function-rewriter.ts`),
 * optional call-depth counting, memory and table caps, and a record of refused
 * `memory.grow`s. Pure and synchronous; one pass over the input, copying untouched sections
 * as byte ranges, so it runs in time linear in the module size. Function, global and type
 * indices of the original are preserved: the meter only appends (globals, exports, types).
 *
 * @throws SandboxError `INVALID_MODULE` for malformed input (with the byte offset),
 *   `MEMORY_LIMIT` when a memory or table is declared larger than its cap, `CONFIG` for bad
 *   options.
 */
export function meter(input: Uint8Array | ArrayBuffer, options: MeterOptions = {}): MeterResult {
  // A plain Uint8Array view: subarray() on a Node Buffer is several times slower.
  const bytes = input instanceof Uint8Array ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input)
  const settings = normalize(options)
  const r = new Reader(bytes)
  for (let i = 0; i < 4; i++) if (r.byte() !== WASM_MAGIC[i]) r.fail('not a WebAssembly binary (bad magic number)', 0)
  const version = [r.byte(), r.byte(), r.byte(), r.byte()]
  if (version[0] === 0x0d && version[2] === 0x01) {
    throw new SandboxError('INVALID_MODULE', 'this is a WebAssembly component, not a core module: meter() instruments core modules', { offset: 4 })
  }
  if (version.join() !== '1,0,0,0') r.fail(`unsupported binary version ${version.join('.')}`, 4)
  // The rewrite trusts the indices it copies: see validate.ts for why this comes first.
  validateModule(bytes)

  const out = new Writer(bytes.length + (bytes.length >> 1) + (bytes.length >> 3) + 1024) // metered code grows ~1.5x
  out.copy(bytes, 0, 8)

  const types: FuncTypeRecord[] = []
  const resultBlockTypes: number[][] = []
  const funcTypes: number[] = [] // type index of every function, imports first
  let importedFuncs = 0, importedGlobals = 0, definedGlobals = 0, memories = 0
  const info: ModuleInfo = { imports: [], exports: [], memoryInitialBytes: null, hasStart: false, functionNames: new Map() }
  const exportNames = new Set<string>()
  const exportedFunctionNames = new Map<number, string>()
  const exportedFunctions: [ExportDescriptor, number][] = [] // for their parameter names
  const localNames = new Map<number, string[]>() // the name section's, of exported functions
  let globalsWritten = false, exportsWritten = false
  let sawCode = false
  let lastOrder = 0
  // The start section comes after the exports, so find it first (a walk over section headers).
  const deferredStart = options.deferStart ? findStartFunction(bytes) : null

  const fuelGlobal = () => importedGlobals + definedGlobals
  const writeOurGlobals = (section: Writer): void => {
    section.bytes([0x7e, 0x01, 0x42]); section.bytes(signed(settings.initialFuel)); section.byte(0x0b) // fuel
    section.bytes([0x7e, 0x01, 0x42, 0x00, 0x0b]) // memory grow denied
    section.bytes([0x7e, 0x01, 0x42, 0x00, 0x0b]) // table grow denied
    if (settings.stackDepth !== null) section.bytes([0x7f, 0x01, 0x41, 0x00, 0x0b]) // depth
    for (let i = 0; i < profiled(); i++) section.bytes([0x7e, 0x01, 0x42, 0x00, 0x0b, 0x7e, 0x01, 0x42, 0x00, 0x0b]) // calls, fuel
  }
  /** Defined functions that get profile counters. */
  const profiled = () => (settings.profile ? funcTypes.length - importedFuncs : 0)
  const fixedGlobals = () => (settings.stackDepth !== null ? 4 : 3)
  const ourGlobalCount = () => fixedGlobals() + 2 * profiled()
  const writeOurExports = (section: Writer): void => {
    const exportEntry = (name: string, kind: number, index: number) => {
      section.bytes(nameBytes(name)); section.byte(kind); section.u32(index)
    }
    exportEntry(METER_EXPORTS.fuel, 3, fuelGlobal())
    exportEntry(METER_EXPORTS.growDenied, 3, fuelGlobal() + 1)
    exportEntry(METER_EXPORTS.tableGrowDenied, 3, fuelGlobal() + 2)
    if (settings.stackDepth !== null) exportEntry(METER_EXPORTS.depth, 3, fuelGlobal() + 3)
    if (memories > 0) exportEntry(METER_EXPORTS.memory, 2, 0)
    if (deferredStart !== null) exportEntry(METER_EXPORTS.start, 0, deferredStart)
    if (settings.fast) exportEntry(METER_EXPORTS.fast, 3, fuelGlobal())
    for (let i = 0; i < profiled(); i++) {
      exportEntry(`${METER_EXPORTS.profileCalls}${importedFuncs + i}`, 3, fuelGlobal() + fixedGlobals() + 2 * i)
      exportEntry(`${METER_EXPORTS.profileFuel}${importedFuncs + i}`, 3, fuelGlobal() + fixedGlobals() + 2 * i + 1)
    }
  }
  const ourExportCount = () => fixedGlobals() + 2 * profiled() + (memories > 0 ? 1 : 0) + (deferredStart !== null ? 1 : 0) + (settings.fast ? 1 : 0)
  const checkGlobals = (at: number): void =>
    checkEngineLimit('globals', importedGlobals + definedGlobals + ourGlobalCount(), 'the module', at, settings.profile ? 'turn `profile` off: it adds two globals per function' : undefined)
  const checkExports = (count: number, at: number): void =>
    checkEngineLimit('exports', count + ourExportCount(), 'the module', at, settings.profile ? 'turn `profile` off: it adds two exports per function' : undefined)
  const emitGlobalsIfMissing = (): void => {
    if (globalsWritten) return
    checkGlobals(r.pos)
    const section = new Writer(64)
    section.u32(ourGlobalCount())
    writeOurGlobals(section)
    writeSection(out, GLOBAL_SECTION, section)
    globalsWritten = true
  }
  const emitExportsIfMissing = (): void => {
    if (exportsWritten) return
    checkExports(0, r.pos)
    const section = new Writer(128)
    section.u32(ourExportCount())
    writeOurExports(section)
    writeSection(out, EXPORT_SECTION, section)
    exportsWritten = true
  }

  while (!r.done) {
    const sectionStart = r.pos
    const id = r.byte()
    const size = r.u32()
    const start = r.pos
    const end = start + size
    if (end > bytes.length) r.fail(`section ${id} extends past the end of the module`, sectionStart)
    const s = new Reader(bytes, start, end)
    if (id !== 0) {
      const order = SECTION_ORDER[id] ?? r.fail(`unknown section id ${id}`, sectionStart)
      if (order <= lastOrder) r.fail(`section ${id} out of order or repeated`, sectionStart)
      lastOrder = order
      if (order > SECTION_ORDER[GLOBAL_SECTION]!) emitGlobalsIfMissing()
      if (order > SECTION_ORDER[EXPORT_SECTION]!) emitExportsIfMissing()
    }
    switch (id) {
      case 0: readNameSection(s, info, exportedFunctionNames, localNames); out.copy(bytes, sectionStart, end); break
      case 1: { // types: record; append `[] -> results` types needed to wrap multi-value bodies
        const count = s.u32()
        const entriesStart = s.pos
        for (let i = 0; i < count; i++) types.push(readFuncType(s))
        const extra: number[] = []
        let next = count
        for (const t of types) {
          if (t.resultCount <= 1 || settings.stackDepth === null) {
            resultBlockTypes.push(t.resultCount === 0 ? [0x40] : t.resultBytes)
            continue
          }
          let index = types.findIndex((u) => u.paramCount === 0 && sameBytes(u.resultBytes, t.resultBytes))
          if (index < 0) { index = next++; extra.push(0x60, 0x00); writeUnsigned(extra, t.resultCount); extra.push(...t.resultBytes) }
          const bt: number[] = []
          writeSigned(bt, index)
          resultBlockTypes.push(bt)
        }
        if (next === count) { out.copy(bytes, sectionStart, end); break }
        checkEngineLimit('types', next, 'the module', sectionStart)
        const section = new Writer(size + extra.length + 8)
        section.u32(next); section.copy(bytes, entriesStart, end); section.bytes(extra)
        writeSection(out, 1, section)
        break
      }
      case 2: { // imports: clamp memory and table maxima
        const count = s.u32()
        const section = new Writer(size + 16)
        section.u32(count)
        for (let i = 0; i < count; i++) {
          const entryStart = s.pos
          const module = s.name()
          const name = s.name()
          const kindByte = s.byte()
          const kind = EXTERN_KINDS[kindByte] ?? s.fail(`unknown import kind ${kindByte}`)
          // Another metered instance's counter, linked in by name, could be refilled from here.
          if (name.startsWith(METER_EXPORTS.prefix)) s.fail(`import name ${JSON.stringify(name)} is reserved by wasm-sandbox`, entryStart)
          const imported: ImportDescriptor = { module, name, kind }
          section.copy(bytes, entryStart, s.pos)
          if (kindByte === 0) {
            const t = s.u32()
            funcTypes.push(t); importedFuncs++
            imported.type = signature(types, t, s)
            section.u32(t)
          } else if (kindByte === 1) {
            const typeStart = s.pos
            skipValueType(s)
            section.copy(bytes, typeStart, s.pos)
            rewriteLimits(s, section, settings.tableElements, 'table')
          } else if (kindByte === 2) {
            memories++
            const initial = rewriteLimits(s, section, settings.memoryPages, 'memory')
            if (memories === 1) info.memoryInitialBytes = initial * PAGE
          } else if (kindByte === 3) {
            const typeStart = s.pos
            skipValueType(s); s.byte()
            importedGlobals++
            section.copy(bytes, typeStart, s.pos)
          } else {
            const typeStart = s.pos
            s.byte()
            imported.type = signature(types, s.u32(), s)
            section.copy(bytes, typeStart, s.pos)
          }
          info.imports.push(imported)
        }
        writeSection(out, 2, section)
        break
      }
      case 3: { // functions: their type indices
        const count = s.u32()
        for (let i = 0; i < count; i++) funcTypes.push(s.u32())
        out.copy(bytes, sectionStart, end)
        break
      }
      case 4: { // tables: clamp maxima
        const count = s.u32()
        const section = new Writer(size + 16)
        section.u32(count)
        for (let i = 0; i < count; i++) {
          const typeStart = s.pos
          if (bytes[typeStart] === 0x40) s.fail('tables with initializers are not supported')
          skipValueType(s)
          section.copy(bytes, typeStart, s.pos)
          rewriteLimits(s, section, settings.tableElements, 'table')
        }
        writeSection(out, 4, section)
        break
      }
      case 5: { // memories: clamp maxima
        const count = s.u32()
        const section = new Writer(size + 16)
        section.u32(count)
        for (let i = 0; i < count; i++) {
          memories++
          const initial = rewriteLimits(s, section, settings.memoryPages, 'memory')
          if (memories === 1) info.memoryInitialBytes = initial * PAGE
        }
        writeSection(out, 5, section)
        break
      }
      case 6: { // globals: append ours after the module's own
        definedGlobals = s.u32()
        checkGlobals(sectionStart)
        const section = new Writer(size + 32)
        section.u32(definedGlobals + ourGlobalCount())
        section.copy(bytes, s.pos, end)
        writeOurGlobals(section)
        writeSection(out, 6, section)
        globalsWritten = true
        break
      }
      case 7: { // exports: record, refuse our reserved names, append ours
        const count = s.u32()
        const entriesStart = s.pos
        for (let i = 0; i < count; i++) {
          const at = s.pos
          const name = s.name()
          const kindByte = s.byte()
          const index = s.u32()
          const kind = EXTERN_KINDS[kindByte] ?? s.fail(`unknown export kind ${kindByte}`, at)
          if (name.startsWith(METER_EXPORTS.prefix)) s.fail(`export name ${JSON.stringify(name)} is reserved by wasm-sandbox`, at)
          if (exportNames.has(name)) s.fail(`duplicate export ${JSON.stringify(name)}`, at)
          exportNames.add(name)
          const entry: ExportDescriptor = { name, kind, params: [], results: [] }
          if (kindByte === 0) {
            if (!exportedFunctionNames.has(index)) exportedFunctionNames.set(index, name)
            const t = funcTypes[index] ?? s.fail(`export ${JSON.stringify(name)} names function ${index}, which does not exist`, at)
            const sig = signature(types, t, s)
            entry.params = sig.params
            entry.results = sig.results
            exportedFunctions.push([entry, index])
          }
          info.exports.push(entry)
        }
        checkExports(count, sectionStart)
        const section = new Writer(size + 128)
        section.u32(count + ourExportCount())
        section.copy(bytes, entriesStart, end)
        writeOurExports(section)
        writeSection(out, 7, section)
        exportsWritten = true
        break
      }
      case 8: // start: kept, or (deferStart) turned into an export, which comes earlier
        info.hasStart = true
        if (!options.deferStart) out.copy(bytes, sectionStart, end)
        break
      case 10: { // code: rewrite every body, straight into the output
        const count = s.u32()
        if (count !== funcTypes.length - importedFuncs) s.fail('function and code section counts differ', start)
        sawCode = true
        out.byte(10)
        const sizeAt = out.reserveU32() // the section's size, once known
        out.u32(count)
        const globals = { fuel: fuelGlobal(), growDenied: fuelGlobal() + 1, tableGrowDenied: fuelGlobal() + 2, depth: fuelGlobal() + 3 }
        const rewriter = new FunctionRewriter(new Injector(globals), { stackDepth: settings.stackDepth, fast: settings.fast })
        const fn: FunctionInfo = { index: 0, params: 0, resultBlockType: [], profile: null }
        const body = new Reader(bytes)
        for (let i = 0; i < count; i++) {
          const bodySize = s.u32()
          const bodyEnd = s.pos + bodySize
          if (bodyEnd > end) s.fail('function body extends past its section')
          const typeIndex = funcTypes[importedFuncs + i]!
          const type = types[typeIndex] ?? s.fail(`function ${importedFuncs + i} has unknown type ${typeIndex}`)
          fn.index = importedFuncs + i
          fn.params = type.paramCount
          fn.resultBlockType = resultBlockTypes[typeIndex]!
          fn.profile = settings.profile ? { calls: fuelGlobal() + fixedGlobals() + 2 * i, fuel: fuelGlobal() + fixedGlobals() + 2 * i + 1 } : null
          body.pos = s.pos
          body.end = bodyEnd
          rewriter.rewrite(body, bodyEnd, fn, out)
          s.pos = bodyEnd
        }
        out.patchU32(sizeAt, out.length - sizeAt - 5)
        break
      }
      default:
        out.copy(bytes, sectionStart, end)
    }
    r.pos = end
  }
  emitGlobalsIfMissing()
  emitExportsIfMissing()
  // Functions the name section does not name go by their export name.
  for (const [index, name] of exportedFunctionNames) if (!info.functionNames.has(index)) info.functionNames.set(index, name)
  for (const [entry, index] of exportedFunctions) {
    const names = localNames.get(index)?.slice(0, entry.params.length)
    if (names && names.length === entry.params.length && names.every((n) => n !== undefined)) entry.paramNames = names
  }
  if (!sawCode && funcTypes.length > importedFuncs) r.fail('function section without code section')
  checkEngineLimit('moduleBytes', out.length, 'the module')

  return {
    bytes: out.result().slice(), // an exact-size buffer: callers may transfer or read `.buffer`
    imports: {},
    fuel: (instance) => createMeterControl(instance, settings.initialFuel, settings.stackDepth),
    info,
  }
}

interface MeterSettings {
  initialFuel: bigint
  stackDepth: number | null
  memoryPages: number | null
  tableElements: number | null
  profile: boolean
  fast: boolean
}

function normalize(options: MeterOptions): MeterSettings {
  const { fuel, stackDepth, memory, tableElements, profile, metering } = options
  let initialFuel = 0n
  if (fuel === 'unlimited') initialFuel = MAX_FUEL
  else if (typeof fuel === 'bigint' || (typeof fuel === 'number' && Number.isSafeInteger(fuel))) {
    if (BigInt(fuel) < 0n || BigInt(fuel) > MAX_FUEL) throw config('fuel', 'must be between 0 and 2^63-1')
    initialFuel = BigInt(fuel)
  } else if (fuel !== undefined) throw config('fuel', "must be a whole number, a bigint or 'unlimited'")
  if (stackDepth !== undefined && !(Number.isSafeInteger(stackDepth) && stackDepth > 0 && stackDepth < 2 ** 31)) {
    throw config('stackDepth', 'must be a positive whole number')
  }
  if (tableElements !== undefined && !(Number.isSafeInteger(tableElements) && tableElements >= 0 && tableElements < 2 ** 32)) {
    throw config('tableElements', 'must be a whole number below 2^32')
  }
  if (profile !== undefined && typeof profile !== 'boolean') throw config('profile', 'must be true or false')
  if (metering !== undefined && metering !== 'exact' && metering !== 'fast') throw config('metering', "must be 'exact' or 'fast'")
  return {
    initialFuel,
    stackDepth: stackDepth ?? null,
    memoryPages: memory === undefined ? null : memoryPages(memory),
    tableElements: tableElements ?? null,
    profile: profile ?? false,
    fast: metering === 'fast',
  }
}

/** A 32-bit memory has at most 65536 pages (4 GiB): a larger cap could not be written as a maximum. */
function memoryPages(memory: number | string): number {
  const pages = Math.floor(parseBytes(memory, 'memory') / PAGE)
  if (pages > 65536) throw config('memory', 'must be at most 4GB (65536 pages of 64 KiB), the most a 32-bit memory can hold')
  return pages
}

function config(field: string, message: string): SandboxError {
  return new SandboxError('CONFIG', `${field}: ${message}`, { field })
}

function readFuncType(s: Reader): FuncTypeRecord {
  const form = s.byte()
  if (form !== 0x60) s.fail(form === 0x4e || form === 0x50 || form === 0x4f ? 'GC proposal types are not supported' : `unknown type form 0x${form.toString(16)}`, s.pos - 1)
  const params: FunctionType['params'] = []
  const paramCount = s.u32()
  for (let i = 0; i < paramCount; i++) { params.push(valueTypeName(s.bytes[s.pos]!)); skipValueType(s) }
  const resultCount = s.u32()
  const resultStart = s.pos
  const results: FunctionType['results'] = []
  for (let i = 0; i < resultCount; i++) { results.push(valueTypeName(s.bytes[s.pos]!)); skipValueType(s) }
  return { params, results, paramCount, resultCount, resultBytes: Array.from(s.bytes.subarray(resultStart, s.pos)) }
}

function signature(types: FuncTypeRecord[], index: number, s: Reader): FunctionType {
  const t = types[index] ?? s.fail(`unknown type index ${index}`)
  return { params: t.params, results: t.results }
}

/**
 * Copies limits, clamping the maximum to `cap` (adding one where there was none).
 * @returns the declared minimum.
 */
function rewriteLimits(s: Reader, out: Writer, cap: number | null, kind: 'memory' | 'table'): number {
  const at = s.pos
  const flags = s.u32()
  if (flags > 0x07) s.fail(`bad ${kind} limits flags ${flags}`, at)
  const min = readNumber(s)
  const max = flags & 1 ? readNumber(s) : null
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

/** An unsigned LEB128 of up to 64 bits as a number (exact below 2^53). */
function readNumber(s: Reader): number {
  let result = 0
  let scale = 1
  for (let i = 0; i < 10; i++) {
    const b = s.byte()
    result += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return result
    scale *= 128
  }
  return s.fail('LEB128 integer too long')
}

/**
 * Function names (subsection 1) into `info`, and local names (subsection 2) of the functions
 * in `exported` into `locals` (those of the others are skipped undecoded: debug builds name
 * every local of every function).
 */
function readNameSection(s: Reader, info: ModuleInfo, exported: ReadonlyMap<number, string>, locals: Map<number, string[]>): void {
  try {
    if (s.name() !== 'name') return
    while (!s.done) {
      const id = s.byte()
      const size = s.u32()
      const end = s.pos + size
      if (id === 1) {
        const count = s.u32()
        for (let i = 0; i < count; i++) info.functionNames.set(s.u32(), s.name())
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
}

/** The start function's index, or null; reads only section headers and the start section. */
function findStartFunction(bytes: Uint8Array): number | null {
  const r = new Reader(bytes, 8)
  while (!r.done) {
    const id = r.byte()
    const size = r.u32()
    if (id === 8) return r.u32()
    r.skip(size)
  }
  return null
}

function writeSection(out: Writer, id: number, content: Writer): void {
  out.byte(id)
  out.sized(content)
}

function nameBytes(name: string): number[] {
  const utf8 = encodeUtf8(name)
  return [...unsignedBytes(utf8.length), ...utf8]
}

function unsignedBytes(value: number): number[] {
  const b: number[] = []
  writeUnsigned(b, value)
  return b
}

function signed(value: bigint): number[] {
  const b: number[] = []
  writeSigned(b, value)
  return b
}

function sameBytes(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
