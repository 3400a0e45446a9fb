/**
 * Runs the official WebAssembly spec testsuite (vendored .wast scripts, turned into JSON and
 * binaries by wabt's `wast2json`) twice per command: once on the original modules and once on
 * their `meter()` output, in two separate "worlds" (own registry, own spectest host). Every
 * command yields an outcome string in each world; a command whose outcomes differ is a
 * mismatch. Whether the original engine agrees with the script's own expectation is counted
 * apart, so features Node lacks are visible without hiding anything (SPEC_DEBUG=1 lists them).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { meter, SandboxError, type MeterOptions } from 'wasm-sandbox/core'
import { leb, name as str, section, vec } from '../support/wasm-bytes.js'

export const SUITE_DIR = join(dirname(new URL(import.meta.url).pathname), 'wasm-testsuite')

/** Every .wast script of the vendored suite, as paths relative to SUITE_DIR. */
export function specScripts(): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith('.wast')) out.push(relative(SUITE_DIR, path))
    }
  }
  walk(SUITE_DIR)
  return out
}

/** wast2json output for one script (converted once into `cacheDir`). */
export function convertScript(script: string, cacheDir: string): { dir: string; commands: Command[] } {
  const dir = join(cacheDir, script.replace(/[/\\]/g, '__').replace(/\.wast$/, ''))
  const json = join(dir, 'test.json')
  if (!existsSync(json)) {
    mkdirSync(dir, { recursive: true })
    execFileSync('wast2json', ['--enable-all', join(SUITE_DIR, script), '-o', json], { stdio: 'pipe' })
  }
  return { dir, commands: (JSON.parse(readFileSync(json, 'utf8')) as { commands: Command[] }).commands }
}

interface Value { type: string; value?: string | string[]; lane_type?: string }
interface Action { type: 'invoke' | 'get'; module?: string; field: string; args?: Value[] }
export interface Command {
  type: string
  line: number
  filename?: string
  name?: string
  as?: string
  module_type?: 'binary' | 'text'
  action?: Action
  expected?: Value[]
  text?: string
}

export interface WorldOptions {
  /** null: run the original bytes; otherwise meter them with these options. */
  meter: MeterOptions | null
}

/** Outcome tallies of one run over the whole suite. */
export interface SpecCounts {
  scripts: number
  commands: number
  /** Both worlds gave the same outcome. */
  same: number
  /** Outcomes differ (the meter changed behaviour). */
  mismatches: number
  /** meter() refused a module the engine accepts. */
  transformErrors: number
  /** Mismatches on assert_exhaustion commands (a depth limit traps before the engine does). */
  exhaustionDepth: number
  /** Text-format modules (assert_malformed/invalid on .wat): no engine runs those. */
  text: number
  /** Commands where the original engine disagrees with the script (features Node lacks). */
  engineFails: number
  details: string[]
}

const EXTERNS = new Map<number, object>()
const externref = (n: number): object => {
  let ref = EXTERNS.get(n)
  if (!ref) EXTERNS.set(n, (ref = { externref: n }))
  return ref
}

/** One side of the comparison: instances, registry and spectest of its own. */
class World {
  readonly registry = new Map<string, Record<string, unknown>>()
  readonly named = new Map<string, WebAssembly.Instance>()
  current: WebAssembly.Instance | null = null
  readonly controls: { set(v: bigint): void; stackExceeded(): boolean }[] = []

  constructor(readonly options: WorldOptions) {
    this.registry.set('spectest', spectest())
  }

  /** Compiles (after metering, in the metered world) or throws a tagged error. */
  compile(bytes: Uint8Array): { module: WebAssembly.Module; control?: ReturnType<typeof meter>['fuel'] } {
    if (!this.options.meter) {
      try {
        return { module: new WebAssembly.Module(bytes) }
      } catch (error) {
        throw new Tagged('rejected', error)
      }
    }
    let metered: ReturnType<typeof meter>
    try {
      metered = meter(bytes, this.options.meter)
    } catch (error) {
      if (error instanceof SandboxError && error.code === 'INVALID_MODULE') throw new Tagged('rejected', error)
      throw new Tagged(`meter-threw:${(error as SandboxError).code ?? (error as Error).name}`, error)
    }
    try {
      return { module: new WebAssembly.Module(metered.bytes), control: metered.fuel }
    } catch (error) {
      throw new Tagged('metered-output-invalid', error) // never the same as the original's outcome
    }
  }

  instantiate(module: WebAssembly.Module, control?: ReturnType<typeof meter>['fuel']): WebAssembly.Instance {
    const imports: Record<string, Record<string, unknown>> = {}
    for (const imp of WebAssembly.Module.imports(module)) {
      const from = this.registry.get(imp.module)
      ;(imports[imp.module] ??= {})[imp.name] = from?.[imp.name]
    }
    let instance: WebAssembly.Instance
    try {
      instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports)
    } catch (error) {
      throw new Tagged(error instanceof WebAssembly.LinkError ? 'unlinkable' : `uninstantiable:${classify(error)}`, error)
    }
    if (control) this.controls.push(control(instance))
    return instance
  }

  module(bytes: Uint8Array, name?: string): void {
    this.current = null // a module that fails leaves no current module behind
    const { module, control } = this.compile(bytes)
    const instance = this.instantiate(module, control)
    this.current = instance
    if (name) this.named.set(name, instance)
  }

  /** An action's results as outcome text; `types` are the expected result types. */
  act(action: Action, types: string[]): string {
    const instance = action.module ? this.named.get(action.module) : this.current
    if (!instance) return 'no-module'
    const exported = (instance.exports as Record<string, unknown>)[action.field]
    try {
      if (action.type === 'get') return `ok:${show((exported as WebAssembly.Global).value, types[0])}`
      const fn = exported as (...a: unknown[]) => unknown
      const args = action.args ?? []
      const results = args.some((a) => a.type === 'v128') || types.includes('v128')
        ? callThroughWrapper(fn, args, types)
        : toArray(fn(...args.map(toJs))).map((v, i) => show(v, types[i]))
      return `ok:${results.join(',')}`
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError && this.controls.some((c) => c.stackExceeded())) return 'exhaustion'
      return classify(error)
    } finally {
      for (const c of this.controls) c.set(2n ** 63n - 1n) // resets call depth after a trap, as a sandbox does per call
    }
  }
}

class Tagged extends Error {
  constructor(readonly outcome: string, cause: unknown) {
    super(outcome, { cause })
  }
}

function classify(error: unknown): string {
  if (error instanceof Tagged) return error.outcome
  if (error instanceof WebAssembly.RuntimeError) return `trap:${error.message}`
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'exhaustion'
  if (error instanceof WebAssembly.Exception) return 'exception'
  if (error instanceof TypeError) return `type-error:${error.message}`
  return `error:${(error as Error)?.message ?? String(error)}`
}

function spectest(): Record<string, unknown> {
  const noop = () => {}
  return {
    print: noop, print_i32: noop, print_i64: noop, print_f32: noop, print_f64: noop, print_i32_f32: noop, print_f64_f64: noop,
    global_i32: new WebAssembly.Global({ value: 'i32' }, 666),
    global_i64: new WebAssembly.Global({ value: 'i64' }, 666n),
    global_f32: new WebAssembly.Global({ value: 'f32' }, 666.6),
    global_f64: new WebAssembly.Global({ value: 'f64' }, 666.6),
    table: new WebAssembly.Table({ initial: 10, maximum: 20, element: 'anyfunc' }),
    memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }),
    shared_memory: new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true } as WebAssembly.MemoryDescriptor),
  }
}

// --- values ---------------------------------------------------------------------------------

const scratch = new DataView(new ArrayBuffer(16))

function toJs(v: Value): unknown {
  const s = v.value as string
  switch (v.type) {
    case 'i32': return Number(BigInt.asIntN(32, BigInt(s)))
    case 'i64': return BigInt.asIntN(64, BigInt(s))
    case 'f32': scratch.setUint32(0, Number(s), true); return scratch.getFloat32(0, true)
    case 'f64': scratch.setBigUint64(0, BigInt(s), true); return scratch.getFloat64(0, true)
    case 'externref': return s === 'null' ? null : externref(Number(s))
    case 'funcref': return null
    default: throw new Error(`cannot pass a ${v.type} from JavaScript`)
  }
}

function toArray(result: unknown): unknown[] {
  return result === undefined ? [] : Array.isArray(result) ? result : [result]
}

/** A result as text: integers unsigned, floats as their bits, references by identity. */
function show(value: unknown, type: string | undefined): string {
  if (typeof value === 'bigint') return `i64:${BigInt.asUintN(64, value)}`
  if (typeof value === 'number') {
    if (type === 'i32' || (type === undefined && Number.isInteger(value) && !Object.is(value, -0))) return `n:${value >>> 0}`
    scratch.setFloat64(0, value, true)
    return `f:${scratch.getBigUint64(0, true)}`
  }
  if (value === null) return 'null'
  if (typeof value === 'function') return 'func'
  if (typeof value === 'object' && value && 'externref' in value) return `extern:${(value as { externref: number }).externref}`
  return `other:${typeof value}`
}

// Calls whose signature JavaScript cannot carry (v128) go through a wasm wrapper that imports
// the function, reads the arguments from its memory, calls, and writes the results back.
const WRAPPERS = new Map<string, WebAssembly.Module>()
const TYPE_CODE: Record<string, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b, funcref: 0x70, externref: 0x6f }
const LOAD: Record<string, number[]> = { i32: [0x28, 2], i64: [0x29, 3], f32: [0x2a, 2], f64: [0x2b, 3], v128: [0xfd, 0, 4] }
const STORE: Record<string, number[]> = { i32: [0x36, 2], i64: [0x37, 3], f32: [0x38, 2], f64: [0x39, 3], v128: [0xfd, 11, 4] }

function callThroughWrapper(fn: (...a: unknown[]) => unknown, args: Value[], results: string[]): string[] {
  const params = args.map((a) => a.type)
  const key = `${params.join()}->${results.join()}`
  let module = WRAPPERS.get(key)
  if (!module) WRAPPERS.set(key, (module = new WebAssembly.Module(wrapperBytes(params, results))))
  const instance = new WebAssembly.Instance(module, { m: { f: fn } } as unknown as WebAssembly.Imports)
  const memory = new DataView((instance.exports.mem as WebAssembly.Memory).buffer)
  args.forEach((a, i) => writeValue(memory, i * 16, a))
  ;(instance.exports.run as () => void)()
  return results.map((t, i) => readValue(memory, 1024 + i * 16, t))
}

function writeValue(memory: DataView, at: number, v: Value): void {
  if (v.type === 'v128') {
    const lanes = v.value as string[]
    const width = { i8: 1, i16: 2, i32: 4, i64: 8, f32: 4, f64: 8 }[v.lane_type!]!
    lanes.forEach((lane, i) => {
      const n = BigInt(lane)
      for (let b = 0; b < width; b++) memory.setUint8(at + i * width + b, Number((n >> BigInt(8 * b)) & 0xffn))
    })
    return
  }
  const s = v.value as string
  if (v.type === 'i32' || v.type === 'f32') memory.setUint32(at, Number(BigInt.asUintN(32, BigInt(s))), true)
  else memory.setBigUint64(at, BigInt.asUintN(64, BigInt(s)), true)
}

function readValue(memory: DataView, at: number, type: string): string {
  if (type === 'v128') return `v128:${Array.from({ length: 16 }, (_, i) => memory.getUint8(at + i).toString(16).padStart(2, '0')).join('')}`
  if (type === 'i32') return `n:${memory.getUint32(at, true)}`
  if (type === 'f32') { // as the f64 the JS path would show
    scratch.setFloat64(0, memory.getFloat32(at, true), true)
    return `f:${scratch.getBigUint64(0, true)}`
  }
  if (type === 'i64') return `i64:${memory.getBigUint64(at, true)}`
  if (type === 'f64') return `f:${memory.getBigUint64(at, true)}`
  throw new Error(`cannot read a ${type} result`)
}

function wrapperBytes(params: string[], results: string[]): Uint8Array {
  const types = vec([
    [0x60, ...vec(params.map((t) => [TYPE_CODE[t]!])), ...vec(results.map((t) => [TYPE_CODE[t]!]))],
    [0x60, 0, 0],
  ])
  const code: number[] = []
  params.forEach((t, i) => code.push(0x41, ...leb(i * 16), ...LOAD[t]!, 0))
  code.push(0x10, 0) // call the import
  for (let i = results.length - 1; i >= 0; i--) code.push(0x21, i) // results into locals, last first
  results.forEach((t, i) => code.push(0x41, ...leb(1024 + i * 16), 0x20, i, ...STORE[t]!, 0))
  code.push(0x0b)
  const locals = vec(results.map((t) => [1, TYPE_CODE[t]!]))
  const body = [...locals, ...code]
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, types),
    ...section(2, vec([[...str('m'), ...str('f'), 0x00, 0]])),
    ...section(3, vec([[1]])),
    ...section(5, vec([[0, 1]])),
    ...section(7, vec([[...str('run'), 0, 1], [...str('mem'), 2, 0]])),
    ...section(10, vec([[...leb(body.length), ...body]])),
  ])
}

// --- expectations (for the engine-fails count only) -----------------------------------------

function expectedText(v: Value): string | null {
  if (v.type === 'v128') return null // compared between worlds only
  const s = v.value as string
  if (typeof s === 'string' && s.startsWith('nan:')) return null
  switch (v.type) {
    case 'i32': return `n:${BigInt.asUintN(32, BigInt(s))}`
    case 'i64': return `i64:${BigInt.asUintN(64, BigInt(s))}`
    case 'f32': return show(toJs(v), 'f32')
    case 'f64': return `f:${BigInt(s)}`
    case 'externref': return s === 'null' ? 'null' : `extern:${s}`
    case 'funcref': return s === 'null' ? 'null' : 'func'
    default: return null
  }
}

/** Whether the original's outcome is what the script expects (loosely for NaNs and v128). */
function engineAgrees(cmd: Command, outcome: string): boolean {
  switch (cmd.type) {
    case 'module': case 'register': case 'action': return outcome === 'ok' || outcome.startsWith('ok:')
    case 'assert_return': {
      if (!outcome.startsWith('ok:')) return false
      const got = outcome.slice(3) === '' ? [] : outcome.slice(3).split(',')
      const want = cmd.expected ?? []
      return got.length === want.length && want.every((w, i) => { const t = expectedText(w); return t === null || t === got[i] })
    }
    case 'assert_trap': return outcome.startsWith('trap:') || outcome.startsWith('uninstantiable:trap')
    case 'assert_exhaustion': return outcome === 'exhaustion'
    case 'assert_exception': return outcome === 'exception'
    case 'assert_invalid': case 'assert_malformed': return outcome === 'rejected'
    case 'assert_unlinkable': return outcome === 'unlinkable'
    case 'assert_uninstantiable': return outcome.startsWith('uninstantiable')
    default: return false
  }
}

// --- running ----------------------------------------------------------------------------------

function run(world: World, cmd: Command, dir: string): string {
  try {
    switch (cmd.type) {
      case 'module':
        world.module(new Uint8Array(readFileSync(join(dir, cmd.filename!))), cmd.name)
        return 'ok'
      case 'register': {
        const instance = cmd.name ? world.named.get(cmd.name) : world.current
        if (!instance) return 'no-module'
        world.registry.set(cmd.as!, instance.exports as Record<string, unknown>)
        return 'ok'
      }
      case 'action': case 'assert_return': case 'assert_trap': case 'assert_exhaustion': case 'assert_exception':
        return world.act(cmd.action!, (cmd.expected ?? []).map((v) => v.type))
      case 'assert_invalid': case 'assert_malformed': {
        world.compile(new Uint8Array(readFileSync(join(dir, cmd.filename!))))
        return 'accepted'
      }
      case 'assert_unlinkable': case 'assert_uninstantiable': {
        const { module, control } = world.compile(new Uint8Array(readFileSync(join(dir, cmd.filename!))))
        world.instantiate(module, control)
        return 'instantiated'
      }
      default:
        return `unknown-command:${cmd.type}`
    }
  } catch (error) {
    return classify(error)
  }
}

/** Runs every script in both worlds (original, and metered with `options`) and tallies. */
export function runSpecSuite(options: MeterOptions, cacheDir: string, scripts = specScripts()): SpecCounts {
  const counts: SpecCounts = { scripts: 0, commands: 0, same: 0, mismatches: 0, transformErrors: 0, exhaustionDepth: 0, text: 0, engineFails: 0, details: [] }
  for (const script of scripts) {
    const { dir, commands } = convertScript(script, cacheDir)
    counts.scripts++
    const original = new World({ meter: null })
    const metered = new World({ meter: options })
    for (const cmd of commands) {
      counts.commands++
      if (cmd.module_type === 'text') { counts.text++; continue }
      const a = run(original, cmd, dir)
      const b = run(metered, cmd, dir)
      if (!engineAgrees(cmd, a)) { counts.engineFails++; if (process.env.SPEC_DEBUG) console.log('ENGINE', script, cmd.line, cmd.type, a, JSON.stringify(cmd.expected ?? cmd.text)) }
      if (a === b) { counts.same++; continue }
      if (b.startsWith('meter-threw') || (b === 'rejected' && a !== 'rejected')) counts.transformErrors++
      else if (cmd.type === 'assert_exhaustion' || b === 'exhaustion') counts.exhaustionDepth++
      else counts.mismatches++
      if (counts.details.length < 200) counts.details.push(`${script}:${cmd.line} ${cmd.type}: original ${a.slice(0, 120)} | metered ${b.slice(0, 120)}`)
    }
  }
  return counts
}
