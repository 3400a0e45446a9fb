/**
 * Differential tests: every fixture in test/fixtures/wat is run unmetered and metered (with
 * fuel only, and with every limit switched on but set high), calling every export with the
 * same argument tuples in the same order. Results, traps (class + message), exported state,
 * memory contents and host calls must be identical; the metered binary must validate, be
 * byte-identical when metering twice, and charge the same fuel on every run.
 */
import { readdirSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { meter, type MeterResult } from 'wasm-sandbox/core'
import { FIXTURE_DIR, readFixture, wat } from './helpers.js'
import { firstDifference, runTrace, type ImportInfo, type Trace } from './harness.js'

const FIXTURES = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.wat')).sort()
/** Argument tuples per export (SIMD has ~300 exports of two i64s: a sample is plenty). */
const MAX_TUPLES: Record<string, number> = { 'simd.wat': 96 }

const VARIANTS = {
  fuel: { fuel: 'unlimited' as const },
  limits: { fuel: 'unlimited' as const, stackDepth: 1_000_000, memory: 4 * 2 ** 30, tableElements: 1_000_000 },
  deferStart: { fuel: 0, deferStart: true },
}

// ---- instruction coverage -------------------------------------------------------------
const intOps = (t: 'i32' | 'i64') => [
  'const', 'eqz', 'eq', 'ne', 'lt_s', 'lt_u', 'gt_s', 'gt_u', 'le_s', 'le_u', 'ge_s', 'ge_u',
  'clz', 'ctz', 'popcnt', 'add', 'sub', 'mul', 'div_s', 'div_u', 'rem_s', 'rem_u', 'and', 'or',
  'xor', 'shl', 'shr_s', 'shr_u', 'rotl', 'rotr', 'extend8_s', 'extend16_s',
  'load', 'load8_s', 'load8_u', 'load16_s', 'load16_u', 'store', 'store8', 'store16',
  'trunc_f32_s', 'trunc_f32_u', 'trunc_f64_s', 'trunc_f64_u',
  'trunc_sat_f32_s', 'trunc_sat_f32_u', 'trunc_sat_f64_s', 'trunc_sat_f64_u',
  ...(t === 'i64' ? ['extend32_s', 'load32_s', 'load32_u', 'store32', 'extend_i32_s', 'extend_i32_u', 'reinterpret_f64']
    : ['wrap_i64', 'reinterpret_f32']),
].map((o) => `${t}.${o}`)
const floatOps = (t: 'f32' | 'f64') => [
  'const', 'eq', 'ne', 'lt', 'gt', 'le', 'ge', 'abs', 'neg', 'ceil', 'floor', 'trunc', 'nearest',
  'sqrt', 'add', 'sub', 'mul', 'div', 'min', 'max', 'copysign', 'load', 'store',
  'convert_i32_s', 'convert_i32_u', 'convert_i64_s', 'convert_i64_u',
  t === 'f32' ? 'demote_f64' : 'promote_f32', t === 'f32' ? 'reinterpret_i32' : 'reinterpret_i64',
].map((o) => `${t}.${o}`)
const CONTROL = [
  'unreachable', 'nop', 'block', 'loop', 'if', 'else', 'br', 'br_if', 'br_table', 'return', 'call',
  'call_indirect', 'return_call', 'return_call_indirect', 'drop', 'select', 'local.get',
  'local.set', 'local.tee', 'global.get', 'global.set', 'try', 'catch', 'catch_all', 'throw',
  'rethrow', 'delegate', 'tag', 'start',
]
const MEMORY = ['memory.size', 'memory.grow', 'memory.copy', 'memory.fill', 'memory.init', 'data.drop', 'shared']
const REFS = [
  'ref.null', 'ref.is_null', 'ref.func', 'table.get', 'table.set', 'table.size', 'table.grow',
  'table.fill', 'table.copy', 'table.init', 'elem.drop', 'externref', 'funcref',
]
const simdOps = (): string[] => {
  const ops = ['v128.const', 'v128.load', 'v128.store', 'i8x16.shuffle', 'i8x16.swizzle', 'v128.not', 'v128.and',
    'v128.andnot', 'v128.or', 'v128.xor', 'v128.bitselect', 'v128.any_true', 'i8x16.popcnt',
    'i16x8.q15mulr_sat_s', 'i32x4.dot_i16x8_s', 'i16x8.mul', 'i32x4.mul', 'i64x2.mul',
    'i8x16.narrow_i16x8_s', 'i8x16.narrow_i16x8_u', 'i16x8.narrow_i32x4_s', 'i16x8.narrow_i32x4_u',
    'i16x8.extadd_pairwise_i8x16_s', 'i16x8.extadd_pairwise_i8x16_u', 'i32x4.extadd_pairwise_i16x8_s',
    'i32x4.extadd_pairwise_i16x8_u', 'i32x4.trunc_sat_f32x4_s', 'i32x4.trunc_sat_f32x4_u',
    'f32x4.convert_i32x4_s', 'f32x4.convert_i32x4_u', 'i32x4.trunc_sat_f64x2_s_zero',
    'i32x4.trunc_sat_f64x2_u_zero', 'f64x2.convert_low_i32x4_s', 'f64x2.convert_low_i32x4_u',
    'f32x4.demote_f64x2_zero', 'f64x2.promote_low_f32x4']
  for (const w of ['8x8', '16x4', '32x2']) ops.push(`v128.load${w}_s`, `v128.load${w}_u`)
  for (const n of [8, 16, 32, 64]) ops.push(`v128.load${n}_splat`, `v128.load${n}_lane`, `v128.store${n}_lane`)
  ops.push('v128.load32_zero', 'v128.load64_zero')
  for (const s of ['i8x16', 'i16x8', 'i32x4', 'i64x2', 'f32x4', 'f64x2']) ops.push(`${s}.splat`, `${s}.replace_lane`)
  ops.push('i8x16.extract_lane_s', 'i8x16.extract_lane_u', 'i16x8.extract_lane_s', 'i16x8.extract_lane_u',
    'i32x4.extract_lane', 'i64x2.extract_lane', 'f32x4.extract_lane', 'f64x2.extract_lane')
  for (const s of ['i8x16', 'i16x8', 'i32x4']) {
    for (const c of ['eq', 'ne', 'lt_s', 'lt_u', 'gt_s', 'gt_u', 'le_s', 'le_u', 'ge_s', 'ge_u', 'min_s', 'min_u', 'max_s', 'max_u']) ops.push(`${s}.${c}`)
  }
  for (const c of ['eq', 'ne', 'lt_s', 'gt_s', 'le_s', 'ge_s']) ops.push(`i64x2.${c}`)
  for (const s of ['i8x16', 'i16x8', 'i32x4', 'i64x2']) {
    for (const o of ['abs', 'neg', 'all_true', 'bitmask', 'shl', 'shr_s', 'shr_u', 'add', 'sub']) ops.push(`${s}.${o}`)
  }
  for (const s of ['i8x16', 'i16x8']) for (const o of ['add_sat_s', 'add_sat_u', 'sub_sat_s', 'sub_sat_u', 'avgr_u']) ops.push(`${s}.${o}`)
  for (const [d, src] of [['i16x8', 'i8x16'], ['i32x4', 'i16x8'], ['i64x2', 'i32x4']]) {
    for (const h of ['low', 'high']) for (const sg of ['s', 'u']) ops.push(`${d}.extend_${h}_${src}_${sg}`, `${d}.extmul_${h}_${src}_${sg}`)
  }
  for (const s of ['f32x4', 'f64x2']) {
    for (const o of ['eq', 'ne', 'lt', 'gt', 'le', 'ge', 'ceil', 'floor', 'trunc', 'nearest', 'abs', 'neg', 'sqrt',
      'add', 'sub', 'mul', 'div', 'min', 'max', 'pmin', 'pmax']) ops.push(`${s}.${o}`)
  }
  return ops
}
const atomicOps = (): string[] => {
  const ops = ['atomic.fence', 'memory.atomic.notify', 'memory.atomic.wait32', 'memory.atomic.wait64',
    'i32.atomic.load', 'i32.atomic.load8_u', 'i32.atomic.load16_u', 'i64.atomic.load', 'i64.atomic.load8_u',
    'i64.atomic.load16_u', 'i64.atomic.load32_u', 'i32.atomic.store', 'i32.atomic.store8', 'i32.atomic.store16',
    'i64.atomic.store', 'i64.atomic.store8', 'i64.atomic.store16', 'i64.atomic.store32']
  for (const [pre, suf] of [['i32.atomic.rmw', ''], ['i32.atomic.rmw8', '_u'], ['i32.atomic.rmw16', '_u'], ['i64.atomic.rmw', ''],
    ['i64.atomic.rmw8', '_u'], ['i64.atomic.rmw16', '_u'], ['i64.atomic.rmw32', '_u']]) {
    for (const op of ['add', 'sub', 'and', 'or', 'xor', 'xchg', 'cmpxchg']) ops.push(`${pre}.${op}${suf}`)
  }
  return ops
}

/**
 * Fuel used per call, except for calls that overflowed the engine's own stack: how deep the
 * engine lets wasm recurse depends on frame sizes and on the JS stack at the time, so the
 * fuel burnt before a RangeError is not a property of the module.
 */
function comparableFuel(t: Trace): (bigint | 'stack overflow')[] {
  return t.used.map((u, i) => {
    const out = t.entries[i]!.out
    return 'trap' in out && out.trap.cls === 'RangeError' ? 'stack overflow' : u
  })
}

describe('fixtures', () => {
  it('include one module per instruction family', () => {
    expect(FIXTURES).toEqual(expect.arrayContaining([
      'atomics.wat', 'control.wat', 'conversions.wat', 'exceptions.wat', 'f32.wat', 'f64.wat', 'globals.wat',
      'i32.wat', 'i64.wat', 'memory.wat', 'reftypes.wat', 'simd.wat', 'start.wat', 'tailcall.wat',
    ]))
  })

  it('together use every instruction Node 20 enables', () => {
    const tokens = new Set<string>()
    for (const f of FIXTURES) {
      const text = readFixture(f).replace(/;;.*$/gm, '').replace(/"[^"]*"/g, '')
      for (const t of text.split(/[\s()]+/)) if (t) tokens.add(t)
    }
    const required = [
      ...intOps('i32'), ...intOps('i64'), ...floatOps('f32'), ...floatOps('f64'),
      ...CONTROL, ...MEMORY, ...REFS, ...simdOps(), ...atomicOps(),
    ]
    const missing = required.filter((op) => !tokens.has(op))
    expect(missing).toEqual([])
    expect(required.length).toBeGreaterThan(400)
  })
})

describe.each(FIXTURES)('%s', { timeout: 60_000 }, (file) => {
  const maxTuples = MAX_TUPLES[file] ?? 400
  let bytes: Uint8Array
  let imports: ImportInfo[]
  let signatures: Map<string, string[]>
  const metered: Partial<Record<keyof typeof VARIANTS, MeterResult>> = {}
  let reference: Trace

  beforeAll(async () => {
    bytes = await wat(readFixture(file), file)
    expect(WebAssembly.validate(bytes)).toBe(true)
    for (const [name, options] of Object.entries(VARIANTS)) metered[name as keyof typeof VARIANTS] = meter(bytes, options)
    const info = metered.fuel!.info
    imports = info.imports as ImportInfo[]
    signatures = new Map(info.exports.filter((e) => e.kind === 'function').map((e) => [e.name, e.params]))
    reference = runTrace({ metered: null, bytes, imports, signatures, seed: 1, maxTuples })
  })

  it('metered binaries validate', () => {
    for (const [name, m] of Object.entries(metered)) {
      expect(WebAssembly.validate(m.bytes), name).toBe(true)
      expect(m.bytes.length, name).toBeGreaterThan(bytes.length)
    }
  })

  it('metering is deterministic: the same input gives byte-identical output', () => {
    for (const [name, options] of Object.entries(VARIANTS)) {
      const again = meter(bytes.slice(), options)
      expect(Buffer.from(again.bytes).equals(Buffer.from(metered[name as keyof typeof VARIANTS]!.bytes)), name).toBe(true)
    }
  })

  it('the reference run exercised the module', () => {
    expect(reference.start).toEqual({ ok: 'void' })
    expect(reference.entries.length).toBeGreaterThan(signatures.size)
  })

  it.each(Object.keys(VARIANTS))('metered (%s) behaves exactly like the original', (variant) => {
    const m = metered[variant as keyof typeof VARIANTS]!
    const trace = runTrace({ metered: m, bytes, imports, signatures, seed: 1, maxTuples })
    expect(firstDifference(reference, trace)).toBeNull()
    expect(trace.meterTraps).toEqual([])
    // Fuel is a property of the module and its inputs: a second fresh run charges the same.
    const again = runTrace({ metered: m, bytes, imports, signatures, seed: 1, maxTuples })
    expect(comparableFuel(again)).toEqual(comparableFuel(trace))
    expect(trace.used.some((u) => u > 0n)).toBe(true)
  })

  it('charges the same fuel whatever limits are switched on', () => {
    const a = runTrace({ metered: metered.fuel!, bytes, imports, signatures, seed: 1, maxTuples })
    for (const variant of ['limits', 'deferStart'] as const) {
      const b = runTrace({ metered: metered[variant]!, bytes, imports, signatures, seed: 1, maxTuples })
      expect(comparableFuel(b), variant).toEqual(comparableFuel(a))
    }
  })

  it('deferStart exports the start function instead of running it', () => {
    const deferred = WebAssembly.Module.exports(new WebAssembly.Module(metered.deferStart!.bytes as BufferSource))
      .filter((e) => e.name === '__wasm_sandbox_start')
    expect(deferred.length).toBe(metered.fuel!.info.hasStart ? 1 : 0)
  })
})
