/**
 * Shared by the native rewriter's red-team tests (native-redteam.test.ts, output-assembly.test.ts):
 * metering one module with each body rewriter and comparing the outcomes, building modules
 * byte by byte, and running metered modules. Importing it wraps `FunctionRewriter.prototype.rewrite`
 * to count the bodies the TypeScript rewriter does (call `unwrapTypeScriptRewriter` in `afterAll`).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { meter, SandboxError, type MeterOptions, type MeterResult } from 'wasm-sandbox/core'
// The built files `wasm-sandbox/core` loads: one module instance, so the switch applies to it.
import { useNativeRewriter } from '../../../dist/core/meter/native-rewriter.js'
import { FunctionRewriter } from '../../../dist/core/meter/function-rewriter.js'
import { u32 } from './random-wasm.js'
import { MAX_FUEL, outcome, prng } from './helpers.js'

// ---- comparing the two rewriters ----

/** Bodies the TypeScript rewriter did: counted around the real method (it still runs). */
let typeScriptBodyCount = 0
const rewriteInTypeScript = FunctionRewriter.prototype.rewrite
FunctionRewriter.prototype.rewrite = function (this: FunctionRewriter, ...args: Parameters<FunctionRewriter['rewrite']>) {
  typeScriptBodyCount++
  return rewriteInTypeScript.apply(this, args)
}
export function unwrapTypeScriptRewriter(): void { FunctionRewriter.prototype.rewrite = rewriteInTypeScript }
export function typeScriptBodies(): number { return typeScriptBodyCount }
export function resetTypeScriptBodies(): void { typeScriptBodyCount = 0 }

export type Outcome = Uint8Array | string

export function meterWith(native: boolean, bytes: Uint8Array, options: MeterOptions): Outcome {
  useNativeRewriter(native)
  try {
    return meter(bytes, options).bytes
  } catch (error) {
    return error instanceof SandboxError ? `${error.code}: ${error.message}` : `${(error as Error).name}: ${(error as Error).message}`
  } finally {
    useNativeRewriter(true)
  }
}

/** Where two outcomes first differ, or 'same'. */
export function difference(a: Outcome, b: Outcome): string {
  if (typeof a === 'string' || typeof b === 'string') return a === b ? 'same' : `native: ${String(a).slice(0, 300)} / TypeScript: ${String(b).slice(0, 300)}`
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return i === a.length && a.length === b.length ? 'same' : `first difference at byte ${i} of ${a.length} (TypeScript: ${b.length})`
}

/**
 * Meters with both rewriters and expects the same outcome; with `allNative`, also that the
 * native rewriter did every body (none went back to TypeScript).
 */
export function expectSame(bytes: Uint8Array, options: MeterOptions, what: string, allNative = true): Outcome {
  typeScriptBodyCount = 0
  const native = meterWith(true, bytes, options)
  const declined = typeScriptBodyCount
  const ts = meterWith(false, bytes, options)
  expect(difference(native, ts), `${what} ${JSON.stringify(options)}`).toBe('same')
  // (An engine limit crossed is the TypeScript rewriter's to report: it redoes that body.)
  if (allNative && typeof native !== 'string') expect(declined, `${what}: bodies the native rewriter left to TypeScript`).toBe(0)
  return native
}

export function expectValid(bytes: Outcome, what: string): void {
  if (typeof bytes === 'string') throw new Error(`${what}: ${bytes}`)
  if (WebAssembly.validate(bytes)) return
  try { new WebAssembly.Module(bytes as BufferSource) } catch (error) { throw new Error(`${what}: the metered module does not validate: ${(error as Error).message}`) }
}

export function randomOptions(rand: () => number): MeterOptions {
  const o: MeterOptions = { fuel: Math.floor(rand() * 1e9) }
  if (rand() < 0.5) o.stackDepth = [1, 127, 128, 1000, 2 ** 31 - 1][Math.floor(rand() * 5)]
  if (rand() < 0.3) o.metering = 'fast'
  if (rand() < 0.3) o.profile = true
  if (rand() < 0.3) o.sharedFuel = true
  if (rand() < 0.3) o.deferStart = true
  return o
}

// ---- building modules byte by byte ----

export type Bytes = ArrayLike<number>

export function concat(parts: Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
export function leb(v: number, pad = 0): number[] { const o: number[] = []; u32(o, v, pad); return o }
export function section(id: number, content: Bytes): Uint8Array { return concat([[id], leb(content.length), content]) }
export function vector(items: Bytes[]): Uint8Array { return concat([leb(items.length), ...items]) }
export function name(s: string): number[] { return [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))] }
/** A body: local groups ([count, type]) and code (ending with its `end`). */
export function body(locals: [number, number][], code: Bytes): Uint8Array {
  const content = concat([leb(locals.length), ...locals.map(([n, t]) => [...leb(n), t]), code])
  return concat([leb(content.length), content])
}

export interface Module {
  types: number[][] | Uint8Array // encoded function types, or the type section's whole vector
  imports?: number[][] // encoded import entries
  funcs: number[] // type index per defined function
  memory?: boolean
  globals?: number[][] // encoded global entries
  exports?: [string, number][] // function exports
  bodies: Uint8Array[]
}
export function assemble(m: Module): Uint8Array {
  return concat([
    [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    section(1, m.types instanceof Uint8Array ? m.types : vector(m.types)),
    m.imports?.length ? section(2, vector(m.imports)) : [],
    section(3, vector(m.funcs.map((t) => leb(t)))),
    m.memory ? section(5, [0x01, 0x00, 0x01]) : [],
    m.globals?.length ? section(6, vector(m.globals)) : [],
    m.exports?.length ? section(7, vector(m.exports.map(([n, i]) => [...name(n), 0x00, ...leb(i)]))) : [],
    section(10, vector(m.bodies)),
  ])
}
export const VOID = [0x60, 0x00, 0x00]
export const IMPORT_F = [...name('env'), ...name('f'), 0x00, 0x00] // (import "env" "f" (func (type 0)))
/** `count` copies of `unit`, then `tail`. */
export function repeat(unit: Bytes, count: number, tail: Bytes = []): Uint8Array {
  const out = new Uint8Array(unit.length * count + tail.length)
  for (let i = 0; i < count; i++) out.set(unit, i * unit.length)
  out.set(tail, unit.length * count)
  return out
}

/** The size of each body in a module's code section. */
export function bodySizes(bytes: Uint8Array): number[] {
  let p = 8
  const read = (): number => { let v = 0, s = 0, b: number; do { b = bytes[p++]!; v += (b & 0x7f) * 2 ** s; s += 7 } while (b & 0x80); return v }
  while (p < bytes.length) {
    const id = bytes[p++]!, size = read(), end = p + size
    if (id === 10) { const sizes: number[] = []; for (let n = read(); n > 0; n--) { const s = read(); sizes.push(s); p += s } return sizes }
    p = end
  }
  return []
}

export const ENGINE_LIMIT_BODY = 7_654_321

// ---- running ----

/** Runs an ES module `script` in a new Node process with the path of a file holding `bytes` as its argument; @returns its stdout. */
export function inFreshProcess(bytes: Uint8Array, script: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'native-redteam-'))
  try {
    writeFileSync(join(dir, 'module.wasm'), bytes)
    return execFileSync(process.execPath, ['--input-type=module', '-e', script, join(dir, 'module.wasm')], { encoding: 'utf8' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Calls every exported function on a few arguments; results (or traps) and fuel used. */
export function runAll(metered: MeterResult, functions: { name: string; params: string[] }[], seed: number): string[] {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(metered.bytes as BufferSource), {})
  const ctl = metered.fuel(instance)
  const exports = instance.exports as Record<string, unknown>
  const rand = prng(seed)
  const log: string[] = []
  for (const f of functions) {
    for (let k = 0; k < 4; k++) {
      const args = f.params.map((t) => (t === 'i64' ? BigInt(Math.floor(rand() * 200) - 50) : Math.floor(rand() * 200) - 50))
      ;(exports.steps as WebAssembly.Global).value = 60
      ctl.set(k === 3 ? BigInt(Math.floor(rand() * 500)) : MAX_FUEL)
      const result = outcome(() => { try { return (exports[f.name] as (...a: unknown[]) => unknown)(...args) } catch (error) { ctl.noteTrap(error); throw error } })
      log.push(`${f.name}(${args.join(',')}) ${JSON.stringify(result)} used ${ctl.used()} exhausted ${ctl.exhausted()}`)
    }
  }
  return log
}
