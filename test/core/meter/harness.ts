/**
 * Differential harness: instantiate a module (original or metered) with deterministic host
 * imports, call every guest export with fixed argument tuples in a fixed order, and record a
 * trace (results or traps, exported state, host calls) that two instances can be compared on.
 */
import type { MeterControl, MeterResult } from 'wasm-sandbox/core'
import { argumentTuples, guestExports, hashBytes, MAX_FUEL, norm, outcome, type Outcome } from './helpers.js'

export interface ImportInfo { module: string; name: string; kind: string; type?: { params: string[]; results: string[] } }

export interface TraceEntry { fn: string; args: string; out: Outcome; state: unknown }
export interface Trace {
  start: Outcome
  entries: TraceEntry[]
  /** Memory hashes after each export's batch of calls. */
  memories: { fn: string; hashes: string[] }[]
  hostLog: string[]
  /** Fuel used by each call (metered runs only). */
  used: bigint[]
  /** Calls after which the meter reported exhaustion or a depth overrun (should be none). */
  meterTraps: string[]
}

const GLOBAL_INIT: Record<string, number | bigint> = { i32: 5, i64: 10n, f32: 1.5, f64: -2.25 }

/** Host imports by naming convention: g_<type>[_mut], mem_<min>_<max>[_shared], host functions. */
export function makeImports(imports: readonly ImportInfo[], log: string[]): { object: WebAssembly.Imports; memories: WebAssembly.Memory[] } {
  const object: Record<string, Record<string, WebAssembly.ExportValue>> = {}
  const memories: WebAssembly.Memory[] = []
  for (const imp of imports) {
    let value: WebAssembly.ExportValue
    if (imp.kind === 'function') {
      const results = imp.type?.results ?? []
      value = (...args: unknown[]) => {
        log.push(`${imp.name}(${args.map((a) => String(norm(a))).join(',')})`)
        let h = 17
        for (const a of args) h = (Math.imul(h, 31) + Number(typeof a === 'bigint' ? BigInt.asIntN(32, a) : Math.trunc(Number(a)) | 0)) | 0
        const r = results[0]
        if (r === undefined) return undefined
        if (results.length > 1) throw new Error('multi-result host functions are not supported by the harness')
        if (r === 'i64') return BigInt(h) * 3n
        if (r === 'f32' || r === 'f64') return (args.length ? Number(args[0]) : 0) * 2 + 1
        return h
      }
    } else if (imp.kind === 'global') {
      const m = /^g_(i32|i64|f32|f64)(_mut)?$/.exec(imp.name)
      if (!m) throw new Error(`harness: unknown global import ${imp.name}`)
      value = new WebAssembly.Global({ value: m[1] as 'i32', mutable: !!m[2] }, GLOBAL_INIT[m[1]!] as number)
    } else if (imp.kind === 'memory') {
      const m = /^mem_(\d+)_(\d+)(_shared)?$/.exec(imp.name)
      if (!m) throw new Error(`harness: unknown memory import ${imp.name}`)
      const mem = new WebAssembly.Memory({ initial: Number(m[1]), maximum: Number(m[2]), shared: !!m[3] } as WebAssembly.MemoryDescriptor)
      memories.push(mem)
      value = mem
    } else {
      throw new Error(`harness: unsupported import kind ${imp.kind} (${imp.name})`)
    }
    ;(object[imp.module] ??= {})[imp.name] = value
  }
  return { object, memories }
}

/** Describes an uncaught wasm exception through the tags the instance exports. */
function describeException(instance: WebAssembly.Instance | null) {
  return (e: unknown): unknown => {
    if (!(e instanceof WebAssembly.Exception) || !instance) return undefined
    const out: unknown[] = []
    for (const [name, tag] of guestExports(instance)) {
      if (!(tag instanceof WebAssembly.Tag) || !e.is(tag)) continue
      const args: unknown[] = []
      for (let i = 0; i < 8; i++) {
        try { args.push(norm(e.getArg(tag, i))) } catch { break }
      }
      out.push({ tag: name, args })
    }
    return out
  }
}

function snapshotGlobals(instance: WebAssembly.Instance): unknown {
  const out: Record<string, unknown> = {}
  for (const [name, value] of guestExports(instance)) {
    if (value instanceof WebAssembly.Global) out[name] = norm(value.value)
    else if (value instanceof WebAssembly.Table) out[name] = `table:${value.length}`
    else if (value instanceof WebAssembly.Memory) out[name] = `memory:${value.buffer.byteLength}`
  }
  return out
}

function memoryHashes(instance: WebAssembly.Instance, imported: WebAssembly.Memory[]): string[] {
  const mems = [...imported]
  for (const [, value] of guestExports(instance)) if (value instanceof WebAssembly.Memory) mems.push(value)
  return mems.map((m) => hashBytes(new Uint8Array(m.buffer)))
}

export interface RunOptions {
  /** Metered: the meter result whose bytes are instantiated; null runs `bytes` as they are. */
  metered: MeterResult | null
  bytes: Uint8Array
  imports: readonly ImportInfo[]
  /** Parameter types of each exported function (from the meter's `info.exports`). */
  signatures: ReadonlyMap<string, readonly string[]>
  seed: number
  /** Argument tuples per export are capped at this many. */
  maxTuples?: number
}

/** Runs every guest export over its argument tuples and records the trace. */
export function runTrace(opts: RunOptions): Trace {
  const hostLog: string[] = []
  const { object, memories } = makeImports(opts.imports, hostLog)
  const module = new WebAssembly.Module((opts.metered ? opts.metered.bytes : opts.bytes) as BufferSource)
  let instance: WebAssembly.Instance | null = null
  const start = outcome(() => { instance = new WebAssembly.Instance(module, object) })
  const trace: Trace = { start, entries: [], memories: [], hostLog, used: [], meterTraps: [] }
  if (!instance) return trace
  const inst: WebAssembly.Instance = instance
  const ctl: MeterControl | null = opts.metered ? opts.metered.fuel(inst) : null
  if (ctl && (ctl.exhausted() || ctl.stackExceeded())) trace.meterTraps.push('<start>')
  // With `deferStart` the start function is exported instead of run: run it now.
  const deferred = (inst.exports as Record<string, unknown>).__wasm_sandbox_start
  if (typeof deferred === 'function') {
    ctl?.set(MAX_FUEL)
    trace.start = outcome(() => deferred())
    if (ctl && (ctl.exhausted() || ctl.stackExceeded())) trace.meterTraps.push('<deferred start>')
  }
  const describe = describeException(inst)
  let seed = opts.seed
  for (const [name, value] of guestExports(inst)) {
    if (typeof value !== 'function') continue
    const params = opts.signatures.get(name)
    if (!params) throw new Error(`harness: no signature for export ${name}`)
    const tuples = argumentTuples(params, seed++, opts.maxTuples)
    for (const args of tuples) {
      if (ctl) ctl.set(MAX_FUEL)
      const out = outcome(() => (value as (...a: unknown[]) => unknown)(...args), describe)
      if (ctl) {
        trace.used.push(ctl.used())
        if (ctl.exhausted() || ctl.stackExceeded()) trace.meterTraps.push(`${name}(${args.join(',')})`)
      }
      trace.entries.push({ fn: name, args: args.map(String).join(','), out, state: snapshotGlobals(inst) })
    }
    trace.memories.push({ fn: name, hashes: memoryHashes(inst, memories) })
  }
  return trace
}

/** Finds the first difference between two traces, as a readable message (or null). */
export function firstDifference(a: Trace, b: Trace): string | null {
  const show = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))
  if (show(a.start) !== show(b.start)) return `instantiation: ${show(a.start)} vs ${show(b.start)}`
  const n = Math.max(a.entries.length, b.entries.length)
  for (let i = 0; i < n; i++) {
    const x = a.entries[i], y = b.entries[i]
    if (show(x) !== show(y)) return `call #${i}: ${show(x)}\n  vs ${show(y)}`
  }
  if (show(a.memories) !== show(b.memories)) {
    const i = a.memories.findIndex((m, k) => show(m) !== show(b.memories[k]))
    return `memory after ${a.memories[i]?.fn}: ${show(a.memories[i])} vs ${show(b.memories[i])}`
  }
  if (show(a.hostLog) !== show(b.hostLog)) return `host log: ${show(a.hostLog)} vs ${show(b.hostLog)}`
  return null
}
