/**
 * Red team of `sharedFuel` (the imported fuel counter a component's core instances share):
 * the module's own globals move up one, so every use of a global index (code, dead code,
 * exports, non-canonical encodings, indices at the one-byte LEB boundary) must still name
 * the global it named, no guest code may name the counter, and the fuel charged must be what
 * the same module metered with a counter of its own is charged.
 */
import { describe, expect, it } from 'vitest'
import { meter, METER_EXPORTS, readProfile, type MeterOptions, type MeterResult } from 'wasm-sandbox/core'
import { generateProgram } from './generate.js'
import { ARGS, MAX_FUEL, hashBytes, outcome, prng, wat, type Outcome } from './helpers.js'

const IMPORT = { module: '__wasm_sandbox', name: '__wasm_sandbox_fuel' }

type Exports = Record<string, any>

/** Instantiates `m` (own counter) or links it to `fuel` (shared). */
function instantiate(m: MeterResult, imports: Record<string, Record<string, unknown>>, fuel?: WebAssembly.Global) {
  const all = fuel ? { ...imports, [IMPORT.module]: { [IMPORT.name]: fuel } } : imports
  const instance = new WebAssembly.Instance(new WebAssembly.Module(m.bytes as BufferSource), all as WebAssembly.Imports)
  return { exports: instance.exports as Exports, ctl: m.fuel(instance), instance }
}

const counter = (value = 0n) => new WebAssembly.Global({ value: 'i64', mutable: true }, value)

describe('sharedFuel red team: generated programs metered both ways', () => {
  const STEPS = 300
  const optionSets: MeterOptions[] = [
    {}, { stackDepth: 64 }, { metering: 'fast' }, { profile: true }, { deferStart: true, stackDepth: 40, metering: 'fast' },
  ]
  // The generated programs define their globals first; an imported one in front moves the counter's index too.
  const withImports = (text: string, n: number) => text.replace('(module\n', `(module\n${Array.from({ length: n }, (_, i) => `  (import "env" "i${i}" (global $imp${i} (mut i32)))\n`).join('')}`)

  it.each([0, 1, 2, 3])('seeds group %i: same outcomes, memory, globals and fuel as an own counter', async (group) => {
    for (let seed = 1 + group * 40; seed <= 40 + group * 40; seed++) {
      const p = generateProgram(seed)
      const imported = seed % 3 === 0 ? 130 : seed % 3 // 0..2, or past the one-byte boundary
      const bytes = await wat(withImports(p.wat, imported), `gen-${seed}.wat`)
      const env = () => ({ env: Object.fromEntries(Array.from({ length: imported }, (_, i) => [`i${i}`, new WebAssembly.Global({ value: 'i32', mutable: true }, i)])) })
      const rand = prng(seed)
      const calls = p.functions.filter((f) => !f.internal).flatMap((f) => [0, 1].map(() => ({ fn: f.name, args: f.params.map((t) => ARGS[t]![Math.floor(rand() * ARGS[t]!.length)]!) })))
      for (const options of optionSets) {
        const ctx = `seed ${seed}, ${imported} imported globals, ${JSON.stringify(options)}`
        const own = meter(bytes, { ...options, fuel: 'unlimited' })
        const shared = meter(bytes, { ...options, fuel: 'unlimited', sharedFuel: true })
        expect(WebAssembly.validate(shared.bytes as BufferSource), ctx).toBe(true)
        const fuel = counter(MAX_FUEL)
        const a = instantiate(own, env()), b = instantiate(shared, env(), fuel)
        for (const x of [a, b]) if (typeof x.exports[METER_EXPORTS.start] === 'function') x.exports[METER_EXPORTS.start]()
        for (const [k, c] of calls.entries()) {
          const results: { o: Outcome; used: bigint; steps: unknown; exhausted: boolean }[] = []
          for (const x of [a, b]) {
            x.exports.steps.value = STEPS
            x.ctl.set(MAX_FUEL)
            const o = outcome(() => {
              try { return x.exports[c.fn](...c.args) } catch (error) { x.ctl.noteTrap(error); throw error }
            })
            results.push({ o, used: x.ctl.used(), steps: x.exports.steps.value, exhausted: x.ctl.exhausted() })
          }
          expect(results[1], `${ctx} call ${k}`).toEqual(results[0])
        }
        expect(hashBytes(new Uint8Array(b.exports.mem.buffer)), ctx).toBe(hashBytes(new Uint8Array(a.exports.mem.buffer)))
        if (options.profile) expect(readProfile(b.instance), ctx).toEqual(readProfile(a.instance))
        // the counter the module charged is the one passed in, and nothing else wrote it
        expect(MAX_FUEL - fuel.value, ctx).toBe(b.ctl.used())
      }
    }
  }, 120_000)
})

describe('sharedFuel red team: the counter cannot be named or replaced', () => {
  it('an import from the module the counter comes from is refused (the sandbox fills that namespace itself)', async () => {
    // A component links the namespace `__wasm_sandbox` to the counter alone: any other name the
    // guest imports from it would be looked up on that object, prototype included (`constructor`: Object).
    for (const name of ['constructor', 'work', 'toString']) {
      const bytes = await wat(`(module (import "__wasm_sandbox" "${name}" (func (param i32) (result i32))) (func (export "f") (result i32) (i32.const 1)))`)
      expect(() => meter(bytes, { sharedFuel: true }), name).toThrow(expect.objectContaining({ code: 'INVALID_MODULE', message: expect.stringContaining('__wasm_sandbox') }))
    }
  })

  it('an import named like the counter is refused, from any module', async () => {
    for (const [module, kind] of [['__wasm_sandbox', '(global (mut i64))'], ['env', '(global (mut i64))'], ['env', '(func)']]) {
      const bytes = await wat(`(module (import "${module}" "__wasm_sandbox_fuel" ${kind}) (func (export "f")))`)
      for (const sharedFuel of [false, true]) expect(() => meter(bytes, { sharedFuel }), `${module} ${kind}`).toThrow(expect.objectContaining({ code: 'INVALID_MODULE' }))
    }
  })
})

describe('sharedFuel red team: global indices at every boundary', () => {
  const TYPES = ['i32', 'i64', 'f32', 'f64', 'v128', 'funcref', 'externref'] as const
  const init = (t: string, k: number) => t === 'v128' ? `(v128.const i32x4 ${k} 0 0 0)` : t === 'funcref' ? `(ref.func $step)` : t === 'externref' ? '(ref.null extern)' : `(${t}.const ${k})`
  /** Reads global `g` of type `t` as an i64 and bumps it (numeric ones). */
  const touch = (g: string, t: string) => {
    switch (t) {
      case 'i32': return `(global.set ${g} (i32.add (global.get ${g}) (i32.const 1))) (i64.extend_i32_u (global.get ${g}))`
      case 'i64': return `(global.set ${g} (i64.add (global.get ${g}) (i64.const 3))) (global.get ${g})`
      case 'f32': return `(global.set ${g} (f32.add (global.get ${g}) (f32.const 0.5))) (i64.trunc_f32_s (global.get ${g}))`
      case 'f64': return `(global.set ${g} (f64.mul (global.get ${g}) (f64.const 1.5))) (i64.trunc_f64_s (global.get ${g}))`
      case 'v128': return `(global.set ${g} (i32x4.add (global.get ${g}) (v128.const i32x4 7 0 0 0))) (i64.extend_i32_u (i32x4.extract_lane 0 (global.get ${g})))`
      case 'funcref': return `(i64.extend_i32_u (ref.is_null (global.get ${g})))`
      default: return `(i64.extend_i32_u (ref.is_null (global.get ${g})))`
    }
  }
  function module(imported: number, defined: number): string {
    let text = '(module\n'
    for (let i = 0; i < imported; i++) text += `(import "env" "i${i}" (global $i${i} ${i % 2 ? '(mut i64)' : 'i32'}))\n`
    const types = Array.from({ length: defined }, (_, k) => TYPES[k % TYPES.length]!)
    types.forEach((t, k) => { text += `(global $g${k} (mut ${t}) ${init(t, k)})\n` })
    types.forEach((t, k) => { if (['i32', 'i64', 'f32', 'f64'].includes(t)) text += `(export "g${k}" (global $g${k}))\n` })
    if (imported > 0) text += `(export "last_import" (global $i${imported - 1}))\n`
    text += '(func $step (result i32) (i32.const 1)) (elem declare func $step)\n'
    // every global touched, an imported one read, and dead code naming the highest indices
    const sum = types.map((t, k) => `(local.set $s (i64.add (local.get $s) (i64.mul (i64.const ${k + 1}) (block (result i64) ${touch(`$g${k}`, t)}))))`).join('\n')
    const imports = Array.from({ length: imported }, (_, i) => i % 2 ? `(local.set $s (i64.add (local.get $s) (global.get $i${i})))` : `(local.set $s (i64.add (local.get $s) (i64.extend_i32_u (global.get $i${i}))))`).join('\n')
    const dead = defined > 0 ? `(block (br 0) (global.set $g${defined - 1} (global.get $g${defined - 1})) (drop (global.get $g0)))` : ''
    text += `(func (export "run") (result i64) (local $s i64) ${sum} ${imports} ${dead} (local.get $s))\n)`
    return text
  }
  const env = (imported: number) => ({ env: Object.fromEntries(Array.from({ length: imported }, (_, i) => [`i${i}`, i % 2 ? new WebAssembly.Global({ value: 'i64', mutable: true }, BigInt(i) * 1000n) : new WebAssembly.Global({ value: 'i32' }, i)])) })

  it.each([[0, 130], [1, 126], [1, 127], [1, 128], [126, 3], [127, 2], [128, 2], [127, 129], [3, 255], [2, 256], [0, 300]])('%i imported, %i defined globals', async (imported, defined) => {
    const bytes = await wat(module(imported, defined))
    for (const options of [{}, { stackDepth: 9 }, { profile: true, metering: 'fast' as const }]) {
      const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), env(imported)).exports as Exports
      const own = instantiate(meter(bytes, { ...options, fuel: 'unlimited' }), env(imported))
      const fuel = counter()
      const shared = instantiate(meter(bytes, { ...options, fuel: 'unlimited', sharedFuel: true }), env(imported), fuel)
      const expected: unknown[] = []
      for (let call = 0; call < 3; call++) {
        own.ctl.set(1_000_000n); shared.ctl.set(1_000_000n)
        expected.push(plain.run())
        expect(own.exports.run()).toBe(expected[call])
        expect(shared.exports.run()).toBe(expected[call])
        expect(shared.ctl.used()).toBe(own.ctl.used())
        expect(1_000_000n - fuel.value).toBe(own.ctl.used())
      }
      for (const name of Object.keys(plain)) {
        if (name === 'run') continue
        expect(shared.exports[name].value, name).toEqual(plain[name].value)
      }
      // a global written from JavaScript is the one the code reads
      if (defined > 1) {
        for (const x of [own, shared]) x.exports.g1.value = 1_000_000_000n
        plain.g1.value = 1_000_000_000n
        own.ctl.set(1_000_000n); shared.ctl.set(1_000_000n)
        const v = plain.run()
        expect(own.exports.run()).toBe(v); expect(shared.exports.run()).toBe(v)
      }
    }
  })

  /** A hand-built module: global.get / global.set with a non-canonical (padded) LEB128 index. */
  it('padded global indices in code are renumbered too', () => {
    const section = (id: number, body: number[]) => [id, body.length, ...body]
    // globals 0..129 (i32, mutable, init k); f() sets global 1 and 127 (padded to 2 and 5 bytes), returns their sum
    const globals: number[] = [130, 1]
    for (let k = 0; k < 130; k++) globals.push(0x7f, 0x01, 0x41, ...(k < 64 ? [k] : [k | 0x80, k >> 7]), 0x0b)
    globals.splice(0, 2, 0x82, 0x01)
    const code = [
      0x00, // no locals
      0x23, 0x81, 0x00, 0x41, 0x0a, 0x6a, 0x24, 0x81, 0x80, 0x80, 0x80, 0x00, // g1 += 10 (padded indices)
      0x23, 0xff, 0x80, 0x80, 0x80, 0x00, 0x41, 0x01, 0x6a, 0x24, 0xff, 0x00, // g127 += 1
      0x23, 0x01, 0x23, 0xff, 0x00, 0x6a, // g1 + g127
      0x0b,
    ]
    const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
      ...section(1, [1, 0x60, 0, 1, 0x7f]), ...section(3, [1, 0]),
      6, ...leb(globals.length), ...globals,
      ...section(7, [2, 1, 0x66, 0, 0, 2, 0x67, 0x31, 3, 1]),
      10, ...leb(code.length + 2), 1, code.length, ...code])
    expect(WebAssembly.validate(bytes)).toBe(true)
    const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as Exports
    const fuel = counter()
    const shared = instantiate(meter(bytes, { sharedFuel: true }), {}, fuel)
    const own = instantiate(meter(bytes, {}), {})
    for (let i = 0; i < 3; i++) {
      shared.ctl.set(1000n); own.ctl.set(1000n)
      const v = plain.f()
      expect(shared.exports.f()).toBe(v)
      expect(own.exports.f()).toBe(v)
      expect(shared.ctl.used()).toBe(own.ctl.used())
    }
    expect(shared.exports.g1.value).toBe(plain.g1.value)
  })
})

function leb(n: number): number[] {
  const out: number[] = []
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b) } while (n)
  return out
}
