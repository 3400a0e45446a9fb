/**
 * The native body rewriter (core/meter/native/rewrite.c, compiled to wasm) against the
 * TypeScript one it ports: the same bytes for every module and every option set, so every
 * behavioural test of the meter (run on the native path, the default) holds for both. Also:
 * the committed wasm is the build of the committed source, a body the native rewriter declines
 * gets the TypeScript rewriter's typed error, and nothing carries over from one module to the next.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { meter, SandboxError, type MeterOptions } from 'wasm-sandbox/core'
// The built file `wasm-sandbox/core` loads: one module instance, so the switch applies to it.
import { nativeRewriterLoaded, useNativeRewriter } from '../../../dist/core/meter/native-rewriter.js'
import { generateProgram } from './generate.js'
import { FIXTURE_DIR, REPO_ROOT, wat } from './helpers.js'

const OPTION_SETS: MeterOptions[] = [
  { fuel: 1e9 },
  { fuel: 1e9, stackDepth: 1000 },
  { fuel: 1e9, metering: 'fast' },
  { fuel: 1e9, stackDepth: 64, metering: 'fast', profile: true },
  { fuel: 1e9, sharedFuel: true, stackDepth: 300 },
  { fuel: 1e9, deferStart: true, profile: true },
]

type Result = { bytes: Uint8Array } | { error: string }

function meterWith(native: boolean, bytes: Uint8Array, options: MeterOptions): Result {
  useNativeRewriter(native)
  try {
    return { bytes: meter(bytes, options).bytes }
  } catch (error) {
    return { error: error instanceof SandboxError ? `${error.code}: ${error.message}` : String(error) }
  } finally {
    useNativeRewriter(true)
  }
}

/** Fails with the first differing byte (a readable failure, not two megabyte arrays). */
function expectSame(bytes: Uint8Array, options: MeterOptions, what: string): Result {
  const native = meterWith(true, bytes, options)
  const ts = meterWith(false, bytes, options)
  if ('error' in native || 'error' in ts) {
    expect(native, what).toEqual(ts)
    return native
  }
  const a = native.bytes, b = ts.bytes
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  expect(i === a.length && a.length === b.length ? 'same' : `${what}: first difference at byte ${i} of ${a.length} (TypeScript: ${b.length})`).toBe('same')
  return native
}

afterEach(() => useNativeRewriter(true))

describe('native body rewriter', () => {
  it('is the build of its source (clang from .ci/run)', () => {
    const out = execFileSync('node', [join(REPO_ROOT, 'scripts/build-native-rewriter.mjs'), '--check'], { encoding: 'utf8' })
    expect(out).toContain('is the build of rewrite.c')
  })

  it('gives the TypeScript rewriter\'s bytes for 160 generated programs, every option set', async () => {
    for (let seed = 0; seed < 160; seed++) {
      const bytes = await wat(generateProgram(seed).wat)
      for (const options of OPTION_SETS) expectSame(bytes, options, `seed ${seed} ${JSON.stringify(options)}`)
    }
  })

  it('gives the same bytes for the WAT fixtures and benchmark kernels (exceptions, SIMD, atomics, tail calls)', async () => {
    const sources = [
      ...readdirSync(FIXTURE_DIR).map((f) => join(FIXTURE_DIR, f)),
      ...readdirSync(join(REPO_ROOT, 'bench/kernels')).map((f) => join(REPO_ROOT, 'bench/kernels', f)),
    ]
    let compared = 0
    for (const file of sources) {
      const bytes = await wat(readFileSync(file, 'utf8'), file)
      for (const options of OPTION_SETS) {
        const result = expectSame(bytes, options, `${file} ${JSON.stringify(options)}`)
        if ('bytes' in result) { expect(WebAssembly.validate(result.bytes), file).toBe(true); compared++ }
      }
    }
    expect(compared).toBeGreaterThan(sources.length * 3)
  })

  it('gives the same bytes for real binaries (SQLite, the WASI adapter)', () => {
    const files = ['node_modules/sql.js/dist/sql-wasm.wasm', 'node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.reactor.wasm']
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(join(REPO_ROOT, file)))
      for (const options of OPTION_SETS.slice(0, 4)) expectSame(bytes, options, `${file} ${JSON.stringify(options)}`)
    }
  })

  it('carries nothing from one module to the next', async () => {
    const small = await wat(generateProgram(7).wat)
    const large = new Uint8Array(readFileSync(join(REPO_ROOT, 'node_modules/sql.js/dist/sql-wasm.wasm')))
    const first = meter(small, { fuel: 1e9, stackDepth: 100 }).bytes
    meter(large, { fuel: 1e9, stackDepth: 1000, profile: true })
    expect(meter(small, { fuel: 1e9, stackDepth: 100 }).bytes).toEqual(first)
  })

  it('keeps its memory from module to module, and lets go of more than 16 MiB after two seconds unused', async () => {
    const sqlite = new Uint8Array(readFileSync(join(REPO_ROOT, 'node_modules/sql.js/dist/sql-wasm.wasm')))
    const expected = meter(sqlite, { fuel: 1e9 }).bytes
    expect(nativeRewriterLoaded()).toBe(true)
    // esbuild's 10 MB code section: twice that is reserved for its output.
    meter(new Uint8Array(readFileSync(join(REPO_ROOT, 'node_modules/esbuild-wasm/esbuild.wasm'))), { fuel: 1e9 })
    expect(nativeRewriterLoaded()).toBe(true)
    await vi.waitFor(() => expect(nativeRewriterLoaded()).toBe(false), { timeout: 20_000, interval: 100 })
    expect(meter(sqlite, { fuel: 1e9 }).bytes).toEqual(expected) // from a fresh instance
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(nativeRewriterLoaded()).toBe(true) // small: kept
  })

  it('leaves a body at an engine limit to the TypeScript rewriter, which refuses it with the same typed error', async () => {
    // 49,996 locals: with the meter's 5 scratch locals, one above the 50,000 every engine allows.
    const bytes = await wat('(module (func (export "f") (local ' + 'i32 '.repeat(49_996) + ')))')
    const result = expectSame(bytes, { fuel: 1e9 }, 'locals at the limit')
    expect('error' in result && result.error).toMatch(/^INVALID_MODULE: function 0 would have 50,001 locals once metered/)
  })

  it('meters without passing, as the TypeScript rewriter does, when a passing function tail-calls', async () => {
    const bytes = await wat(`(module
      (func $inner (param i32) (result i32) (return_call $leaf (local.get 0)))
      (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "f") (param i32) (result i32) (call $inner (local.get 0))))`)
    const result = expectSame(bytes, { fuel: 1e9, stackDepth: 10 }, 'tail call')
    expect('bytes' in result && WebAssembly.validate(result.bytes)).toBe(true)
  })
})
