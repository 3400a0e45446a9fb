import { SandboxError } from '../errors/index.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'
import { ModuleOutput } from './module-output.js'
import { writeUnsigned } from './leb128.js'
import { normalizeMeterOptions, type MeterOptions, type MeterSettings } from './meter-options.js'
import {
  findStartFunction, lazyFunctionNames, readFuncType, readNameSection, rewriteLimits, SECTION, SECTION_ORDER, signature, signed,
  unsignedBytes, writeSection, type FuncTypeRecord,
} from './module-sections.js'
import { rewriteBodies } from './code-section.js'
import { NativeRewriterFailed } from './native-rewriter.js'
import { createMeterControl, METER_EXPORTS, METER_IMPORT, type MeterControl } from './meter-control.js'
import { skipValueType } from './immediates.js'
import { validateModule } from './validate.js'
import { checkEngineLimit, ENGINE_LIMITS } from './engine-limits.js'
import { AppendedState } from './appended-state.js'
import { readConstExpr, readDataSegment, readElementSegment } from './const-exprs.js'
import { PassingNotPossible, planFuelPassing, type FuelPassingPlan } from './fuel-passing.js'
import { EXTERN_KINDS, type ExportDescriptor, type ImportDescriptor, type ModuleInfo } from './module-types.js'

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

export type { MeterOptions } from './meter-options.js'

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]
const PAGE = 65536
/** The limits flag of a shared memory (threads). */
const SHARED_LIMITS = 0x02
const I64 = 0x7e, I32 = 0x7f

/**
 * Instruments a module for metering: fuel per metered segment (see `function-rewriter.ts`),
 * optional call-depth counting, memory and table caps, and a record of refused
 * `memory.grow`s. Pure and synchronous; one pass over the input, copying untouched sections
 * as byte ranges, so it runs in time linear in the module size. Function, global and type
 * indices of the original are preserved: the meter only appends (globals, exports, types),
 * except that `sharedFuel` imports the counter, moving the module's own globals up one.
 * Internal functions may take the counter as a parameter (see `fuel-passing.ts`).
 *
 * @throws SandboxError `INVALID_MODULE` for malformed input (with the byte offset),
 *   `MEMORY_LIMIT` when a memory or table is declared larger than its cap, `CONFIG` for bad
 *   options.
 */
export function meter(input: Uint8Array | ArrayBuffer, options: MeterOptions = {}): MeterResult {
  // A plain Uint8Array view: subarray() on a Node Buffer is several times slower. Bytes another
  // thread can write are copied: the bytes validated must be the bytes rewritten (a global.set
  // retargeted in between would name the fuel counter).
  const view = input instanceof Uint8Array ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input)
  const bytes = typeof SharedArrayBuffer !== 'undefined' && view.buffer instanceof SharedArrayBuffer ? view.slice() : view
  const settings = normalizeMeterOptions(options)
  const r = new Reader(bytes)
  for (let i = 0; i < 4; i++) if (r.byte() !== WASM_MAGIC[i]) r.fail('not a WebAssembly binary (bad magic number)', 0)
  const version = [r.byte(), r.byte(), r.byte(), r.byte()]
  if (version[0] === 0x0d && version[2] === 0x01) {
    throw new SandboxError('INVALID_MODULE', 'this is a WebAssembly component, not a core module: meter() instruments core modules', { offset: 4 })
  }
  if (version.join() !== '1,0,0,0') r.fail(`unsupported binary version ${version.join('.')}`, 4)
  // The rewrite trusts the indices it copies: see validate.ts for why this comes first.
  validateModule(bytes)
  const plan = planFuelPassing(bytes)
  let passing = plan, native = true
  for (;;) {
    try {
      return rewriteModule(bytes, options, settings, passing, native)
    } catch (error) {
      // A tail call or handler the plan cannot keep (rare, so found late): meter without passing.
      if (error instanceof PassingNotPossible && passing) passing = null
      // The native rewriter out of memory: the TypeScript one, whose failure is a typed error.
      else if (error instanceof NativeRewriterFailed && native) native = false
      else throw error
    }
  }
}

function rewriteModule(bytes: Uint8Array, options: MeterOptions, settings: MeterSettings, plan: FuelPassingPlan | null, native: boolean): MeterResult {
  const r = new Reader(bytes, 8)

  const out = new ModuleOutput()
  out.copy(bytes, 0, 8)

  const types: FuncTypeRecord[] = []
  const resultBlockTypes: number[][] = []
  /** Per type index: the type of a passing function of that type (`fuel-passing.ts`), or -1. */
  const passingTypes: number[] = []
  const funcTypes: number[] = [] // type index of every function, imports first
  const info: ModuleInfo = { imports: [], exports: [], memoryInitialBytes: null, hasStart: false, functionNames: new Map() }
  const exportNames = new Set<string>()
  const exportedFunctionNames = new Map<number, string>()
  const exportedFunctions: [ExportDescriptor, number][] = [] // for their parameter names
  const localNames = new Map<number, string[]>() // the name section's, of exported functions
  const functionNames: Uint8Array[] = [] // the name sections' function-name subsections
  let importsWritten = false, globalsWritten = false, exportsWritten = false
  let sawCode = false
  let lastOrder = 0
  // The start section comes after the exports, so find it first (a walk over section headers).
  const deferredStart = options.deferStart ? findStartFunction(bytes) : null

  /** Defined functions that get profile counters. */
  const profiled = () => (settings.profile ? funcTypes.length - state.importedFuncs : 0)
  const state = new AppendedState(settings, profiled, deferredStart)
  const checkGlobals = (at: number): void =>
    checkEngineLimit('globals', state.importedGlobals + state.shift + state.definedGlobals + state.definedCount, 'the module', at, settings.profile ? 'turn `profile` off: it adds two globals per function' : undefined)
  const checkExports = (count: number, at: number): void =>
    checkEngineLimit('exports', count + state.exportCount, 'the module', at, settings.profile ? 'turn `profile` off: it adds two exports per function' : undefined)
  const readsOwnGlobal = state.refuseOwnGlobalReads()
  const emitImportsIfMissing = (): void => {
    if (importsWritten || !settings.sharedFuel) return
    const section = new Writer(64)
    section.u32(1)
    state.writeImport(section)
    writeSection(out, SECTION.import, section)
    importsWritten = true
  }
  const emitGlobalsIfMissing = (): void => {
    if (globalsWritten) return
    checkGlobals(r.pos)
    const section = new Writer(64)
    section.u32(state.definedCount)
    state.writeGlobals(section)
    writeSection(out, SECTION.global, section)
    globalsWritten = true
  }
  const emitExportsIfMissing = (): void => {
    if (exportsWritten) return
    checkExports(0, r.pos)
    const section = new Writer(128)
    section.u32(state.exportCount)
    state.writeExports(section)
    writeSection(out, SECTION.export, section)
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
    if (id !== SECTION.custom) {
      const order = SECTION_ORDER[id] ?? r.fail(`unknown section id ${id}`, sectionStart)
      if (order <= lastOrder) r.fail(`section ${id} out of order or repeated`, sectionStart)
      lastOrder = order
      if (order > SECTION_ORDER[SECTION.import]!) emitImportsIfMissing()
      if (order > SECTION_ORDER[SECTION.global]!) emitGlobalsIfMissing()
      if (order > SECTION_ORDER[SECTION.export]!) emitExportsIfMissing()
    }
    switch (id) {
      case SECTION.custom: {
        const names = readNameSection(s, exportedFunctionNames, localNames)
        if (names) functionNames.push(names)
        out.copy(bytes, sectionStart, end)
        break
      }
      case SECTION.type: { // types: record; append `[] -> results` types needed to wrap multi-value bodies
        const count = s.u32()
        const entriesStart = s.pos
        for (let i = 0; i < count; i++) types.push(readFuncType(s))
        const extra: number[] = []
        let next = count
        // `[] -> results` types by result bytes, ours after the module's own (a scan per type was quadratic)
        const blockTypeIndex = new Map<string, number>()
        for (const [i, u] of types.entries()) {
          const key = u.resultBytes.join()
          if (u.paramCount === 0 && !blockTypeIndex.has(key)) blockTypeIndex.set(key, i)
        }
        for (const [i, t] of types.entries()) {
          const passes = plan?.types.has(i) === true
          if (t.resultCount <= 1 || (settings.stackDepth === null && !passes)) {
            resultBlockTypes.push(t.resultCount === 0 ? [0x40] : t.resultBytes)
            continue
          }
          const key = t.resultBytes.join()
          let index = blockTypeIndex.get(key) ?? -1
          if (index < 0) {
            index = next++; extra.push(0x60, 0x00); writeUnsigned(extra, t.resultCount); extra.push(...t.resultBytes)
            blockTypeIndex.set(key, index)
          }
          resultBlockTypes.push(signed(BigInt(index)))
        }
        // Passing functions: the same parameters (then the counter and, depth limited, the caller's depth) and results (then the counter).
        const depthParam = settings.stackDepth !== null ? [I32] : []
        for (const [i, t] of types.entries()) {
          passingTypes.push(plan?.types.has(i) ? next++ : -1)
          if (passingTypes[i]! < 0) continue
          extra.push(0x60); writeUnsigned(extra, t.paramCount + 1 + depthParam.length); extra.push(...t.paramBytes, I64, ...depthParam)
          writeUnsigned(extra, t.resultCount + 1); extra.push(...t.resultBytes, I64)
        }
        if (next === count) { out.copy(bytes, sectionStart, end); break }
        // The passing functions' types crossing the limit: meter without passing (`meter()` retries).
        if (plan && next > ENGINE_LIMITS.types) throw new PassingNotPossible()
        checkEngineLimit('types', next, 'the module', sectionStart)
        const section = new Writer(size + extra.length + 8)
        section.u32(next); section.copy(bytes, entriesStart, end); section.bytes(extra)
        writeSection(out, SECTION.type, section)
        break
      }
      case SECTION.import: { // imports: clamp memory and table maxima (and import a shared counter)
        const count = s.u32()
        const section = new Writer(size + 64)
        const countAt = section.reserveU32()
        section.patchU32(countAt, count)
        for (let i = 0; i < count; i++) {
          const entryStart = s.pos
          const module = s.name()
          const name = s.name()
          const kindByte = s.byte()
          const kind = EXTERN_KINDS[kindByte] ?? s.fail(`unknown import kind ${kindByte}`)
          // Another metered instance's counter, linked in by name, could be refilled from here.
          if (name.startsWith(METER_EXPORTS.prefix)) s.fail(`import name ${JSON.stringify(name)} is reserved by wasm-sandbox`, entryStart)
          // A shared counter's namespace holds the counter alone (the host fills it, replacing
          // whatever else a component would link there): any other name is refused, not looked up.
          if (settings.sharedFuel && module === METER_IMPORT.module) s.fail(`import module ${JSON.stringify(module)} is reserved by wasm-sandbox (the shared fuel counter)`, entryStart)
          const imported: ImportDescriptor = { module, name, kind }
          section.copy(bytes, entryStart, s.pos)
          if (kindByte === 0) {
            const t = s.u32()
            funcTypes.push(t); state.importedFuncs++
            imported.type = signature(types, t, s)
            section.u32(t)
          } else if (kindByte === 1) {
            const typeStart = s.pos
            skipValueType(s)
            section.copy(bytes, typeStart, s.pos)
            rewriteLimits(s, section, settings.tableElements, 'table')
          } else if (kindByte === 2) {
            state.memories++
            if (s.bytes[s.pos]! & SHARED_LIMITS) info.sharedMemory = true
            const initial = rewriteLimits(s, section, settings.memoryPages, 'memory')
            if (state.memories === 1) info.memoryInitialBytes = initial * PAGE
          } else if (kindByte === 3) {
            const typeStart = s.pos
            skipValueType(s); s.byte()
            state.importedGlobals++
            section.copy(bytes, typeStart, s.pos)
          } else {
            const typeStart = s.pos
            s.byte()
            imported.type = signature(types, s.u32(), s)
            section.copy(bytes, typeStart, s.pos)
          }
          info.imports.push(imported)
        }
        if (settings.sharedFuel) { // the counter, after the module's own imports
          state.writeImport(section)
          section.patchU32(countAt, count + 1)
        }
        writeSection(out, SECTION.import, section)
        importsWritten = true
        break
      }
      case SECTION.function: { // functions: their type indices (passing functions get theirs)
        const count = s.u32()
        for (let i = 0; i < count; i++) funcTypes.push(s.u32())
        if (!plan) { out.copy(bytes, sectionStart, end); break }
        const section = new Writer(size + count + 8)
        section.u32(count)
        for (let i = 0; i < count; i++) {
          const t = funcTypes[state.importedFuncs + i]!
          section.u32(plan.passing[state.importedFuncs + i] ? passingTypes[t]! : t)
        }
        writeSection(out, SECTION.function, section)
        break
      }
      case SECTION.table: { // tables: clamp maxima
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
        writeSection(out, SECTION.table, section)
        break
      }
      case SECTION.memory: { // memories: clamp maxima
        const count = s.u32()
        const section = new Writer(size + 16)
        section.u32(count)
        for (let i = 0; i < count; i++) {
          state.memories++
          if (s.bytes[s.pos]! & SHARED_LIMITS) info.sharedMemory = true
          const initial = rewriteLimits(s, section, settings.memoryPages, 'memory')
          if (state.memories === 1) info.memoryInitialBytes = initial * PAGE
        }
        writeSection(out, SECTION.memory, section)
        break
      }
      case SECTION.global: { // globals: append ours after the module's own
        state.definedGlobals = s.u32()
        checkGlobals(sectionStart)
        if (settings.sharedFuel) for (let i = 0, g = new Reader(bytes, s.pos, end); i < state.definedGlobals; i++) { skipValueType(g); g.byte(); readConstExpr(g, readsOwnGlobal) }
        const section = new Writer(size + 32)
        section.u32(state.definedGlobals + state.definedCount)
        section.copy(bytes, s.pos, end)
        state.writeGlobals(section)
        writeSection(out, SECTION.global, section)
        globalsWritten = true
        break
      }
      case SECTION.export: { // exports: record, refuse our reserved names, append ours
        const count = s.u32()
        checkExports(count, sectionStart)
        const section = new Writer(size + 128)
        section.u32(count + state.exportCount)
        for (let i = 0; i < count; i++) {
          const at = s.pos
          const name = s.name()
          const kindByte = s.byte()
          const indexAt = s.pos
          const index = s.u32()
          section.copy(bytes, at, kindByte === 3 && state.shift > 0 ? indexAt : s.pos)
          if (kindByte === 3 && state.shift > 0) section.u32(index >= state.importedGlobals ? index + state.shift : index) // a defined global moved up
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
        state.writeExports(section)
        writeSection(out, SECTION.export, section)
        exportsWritten = true
        break
      }
      case SECTION.element:
      case SECTION.data: // copied; with a shared counter, their offsets must not read a global that moved
        if (settings.sharedFuel) for (let n = s.u32(); n > 0; n--) (id === SECTION.data ? readDataSegment : readElementSegment)(s, readsOwnGlobal)
        out.copy(bytes, sectionStart, end)
        break
      case SECTION.start: // start: kept, or (deferStart) turned into an export, which comes earlier
        info.hasStart = true
        if (!options.deferStart) out.copy(bytes, sectionStart, end)
        break
      case SECTION.code: { // code: rewrite every body, straight into the output
        const count = s.u32()
        if (count !== funcTypes.length - state.importedFuncs) s.fail('function and code section counts differ', start)
        sawCode = true
        const bodies = rewriteBodies(s, count, end, {
          globals: { fuel: state.fuel, growDenied: state.growDenied, tableGrowDenied: state.tableGrowDenied, depth: state.depth },
          stackDepth: settings.stackDepth, fast: settings.fast, passing: plan?.passing ?? null,
          globalsFrom: state.shift > 0 ? state.importedGlobals : Number.MAX_SAFE_INTEGER, importedFuncs: state.importedFuncs,
          resultBlockTypes, types, funcTypes, profile: settings.profile ? (i) => state.profile(i) : null, native,
        })
        out.byte(SECTION.code)
        out.u32(bodies.reduce((size, piece) => size + piece.length, unsignedBytes(count).length))
        out.u32(count)
        for (const piece of bodies) out.append(piece)
        break
      }
      default:
        out.copy(bytes, sectionStart, end)
    }
    r.pos = end
  }
  emitImportsIfMissing()
  emitGlobalsIfMissing()
  emitExportsIfMissing()
  // Functions the name section does not name go by their export name.
  lazyFunctionNames(info, functionNames, exportedFunctionNames)
  for (const [entry, index] of exportedFunctions) {
    const names = localNames.get(index)?.slice(0, entry.params.length)
    if (names && names.length === entry.params.length && names.every((n) => n !== undefined)) entry.paramNames = names
  }
  if (!sawCode && funcTypes.length > state.importedFuncs) r.fail('function section without code section')
  checkEngineLimit('moduleBytes', out.length, 'the module')

  return {
    bytes: out.finish(), // an exact-size buffer: callers may transfer or read `.buffer`
    imports: {},
    fuel: (instance) => createMeterControl(instance, settings.initialFuel, settings.stackDepth),
    info,
  }
}

