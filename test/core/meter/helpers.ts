/**
 * Shared helpers for the meter tests: wat compilation, deterministic PRNG, call outcomes,
 * argument sets and value normalisation (NaN payloads compared bit for bit).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

import { WABT_FEATURES as FEATURES } from '../../../core/sandbox/wat-to-wasm.js'

type Wabt = Awaited<ReturnType<typeof import('wabt')>>
let wabtPromise: Promise<Wabt> | null = null
export function getWabt(): Promise<Wabt> {
  // wabt is CommonJS (`export =`): the init function is the default export under ESM
  wabtPromise ??= import('wabt').then((m) => (m as unknown as { default: () => Promise<Wabt> }).default())
  return wabtPromise
}

/** Compiles wat text to a binary (throws with wabt's message on a syntax/validation error). */
export async function wat(text: string, name = 'inline.wat'): Promise<Uint8Array> {
  const wabt = await getWabt()
  const mod = wabt.parseWat(name, new TextEncoder().encode(text), { ...FEATURES })
  try {
    // wabt's own validator rejects shared memories even with `threads`; the tests check
    // the binaries with WebAssembly.validate instead.
    mod.resolveNames()
    const bytes = new Uint8Array(mod.toBinary({}).buffer)
    if (!WebAssembly.validate(bytes)) {
      try { new WebAssembly.Module(bytes) } catch (e) { throw new Error(`${name} does not validate: ${(e as Error).message}`) }
    }
    return bytes
  } finally {
    mod.destroy()
  }
}

/** Disassembles a binary (for readable failure messages / repro minimisation). */
export async function wasm2wat(bytes: Uint8Array): Promise<string> {
  const wabt = await getWabt()
  const mod = wabt.readWasm(bytes, { readDebugNames: true, ...FEATURES })
  try {
    mod.generateNames()
    mod.applyNames()
    return mod.toText({ foldExprs: false, inlineExport: false })
  } finally {
    mod.destroy()
  }
}

const here = dirname(fileURLToPath(import.meta.url))
export const FIXTURE_DIR = join(here, '..', '..', 'fixtures', 'wat')
export const REPO_ROOT = join(here, '..', '..', '..')
export function readFixture(name: string): string {
  return readFileSync(join(FIXTURE_DIR, name), 'utf8')
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const MAX_FUEL = 2n ** 63n - 1n

const f64 = new Float64Array(1)
const u64 = new BigUint64Array(f64.buffer)
function f64FromBits(bits: bigint): number { u64[0] = bits; return f64[0]! }
function f64Bits(x: number): string { f64[0] = x; return u64[0]!.toString(16) }

/** Interesting arguments per value type. */
export const ARGS: Record<string, readonly (number | bigint)[]> = {
  i32: [0, 1, -1, 2, 3, 7, 8, 31, 32, 33, 100, 255, 256, 65535, 65536, 0x7fffffff, -0x80000000, 0x12345678, -100, 0x7ffff],
  i64: [0n, 1n, -1n, 2n, 7n, 63n, 64n, 65n, 255n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn,
    -0x8000000000000000n, 0x123456789abcdef0n, -100n, 0x8000n],
  f32: [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, NaN, Infinity, -Infinity, 3.4028234663852886e38,
    1.401298464324817e-45, 2147483648, -2147483904, 4294967296, 123.456, 16777217, -7.75],
  f64: [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, NaN, f64FromBits(0xfff8000000000001n), f64FromBits(0x7ff4000000000000n),
    Infinity, -Infinity, 1.7976931348623157e308, 5e-324, 2147483647.5, 2147483648, -2147483649,
    4294967296, 9223372036854775807, -9223372036854775808, 1.8446744073709552e19, 123.456, -7.75],
}

/** Argument tuples for a signature: the full product when small, else a seeded sample. */
export function argumentTuples(params: readonly string[], seed: number, max = 400): (number | bigint)[][] {
  const sets = params.map((p) => {
    const s = ARGS[p]
    if (!s) throw new Error(`no arguments for parameter type ${p}`)
    return s
  })
  const total = sets.reduce((n, s) => n * s.length, 1)
  if (total <= max) {
    let out: (number | bigint)[][] = [[]]
    for (const s of sets) out = out.flatMap((prefix) => s.map((v) => [...prefix, v]))
    return out
  }
  const rand = prng(seed)
  const out: (number | bigint)[][] = []
  // The "diagonal" (same index in every set) first, then random picks.
  const longest = Math.max(...sets.map((s) => s.length))
  for (let i = 0; i < longest; i++) out.push(sets.map((s) => s[i % s.length]!))
  while (out.length < max) out.push(sets.map((s) => s[Math.floor(rand() * s.length)]!))
  return out
}

/** A comparable form of a wasm value returned to JS (NaN payloads by bits, -0 kept). */
export function norm(value: unknown): unknown {
  if (typeof value === 'number') return `num:${f64Bits(value)}`
  if (typeof value === 'bigint') return `i64:${value}`
  if (Array.isArray(value)) return value.map(norm)
  if (value === undefined) return 'void'
  if (value === null) return 'null'
  return `${typeof value}:${String(value)}`
}

export type Outcome =
  | { ok: unknown }
  | { trap: { cls: string; message: string; extra?: unknown } }

/** Calls `fn` and describes what happened, in a form two instances can be compared on. */
export function outcome(call: () => unknown, describeError?: (e: unknown) => unknown): Outcome {
  try {
    return { ok: norm(call()) }
  } catch (e) {
    const err = e as { constructor?: { name?: string }; message?: unknown }
    return {
      trap: {
        cls: err?.constructor?.name ?? typeof e,
        message: String(err?.message ?? e),
        ...(describeError ? { extra: describeError(e) } : {}),
      },
    }
  }
}

/** FNV-1a of a byte range, to compare memories cheaply. */
export function hashBytes(bytes: Uint8Array): string {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!
    h = Math.imul(h, 0x01000193)
  }
  return `${bytes.length}:${(h >>> 0).toString(16)}`
}

/** The exports of an instance that belong to the guest (not the meter's own). */
export function guestExports(instance: WebAssembly.Instance): [string, unknown][] {
  return Object.entries(instance.exports).filter(([name]) => !name.startsWith('__wasm_sandbox_'))
}

/** `text` with `(export "name")` added to every function whose name starts with `$h`. */
export function exportingHelpers(text: string): string {
  return text.replace(/\(func (\$h\w*)/g, (_, name: string) => `(func ${name} (export "${name.slice(1)}")`)
}

/** Types in the type section: passing adds one per signature a passing function has. */
export function typeCount(bytes: Uint8Array): number {
  let p = 8
  while (p < bytes.length) {
    const id = bytes[p++]!
    let size = 0, shift = 0, b: number
    do { b = bytes[p++]!; size |= (b & 0x7f) << shift; shift += 7 } while (b & 0x80)
    if (id === 1) {
      let n = 0; shift = 0
      do { b = bytes[p++]!; n |= (b & 0x7f) << shift; shift += 7 } while (b & 0x80)
      return n
    }
    p += size
  }
  return 0
}
