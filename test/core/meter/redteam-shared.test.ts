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
