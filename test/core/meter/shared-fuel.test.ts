/**
 * `sharedFuel`: the counter is imported, so instances linked to one global draw on one
 * budget (what a component's core instances need: without it each had the whole budget).
 * The module's own globals move up one: their uses in code (one-byte indices and longer
 * ones), exports and the meter's own globals must all still name the right global.
 */
import { describe, expect, it } from 'vitest'
import { METER_EXPORTS, meter, type MeterOptions } from 'wasm-sandbox/core'
import { outcome, wat } from './helpers.js'

const IMPORT = { module: '__wasm_sandbox', name: '__wasm_sandbox_fuel' }

/** A module with 130 globals of its own (indices past one LEB byte), one imported, used and exported. */
function manyGlobals(): string {
  const own = Array.from({ length: 130 }, (_, i) => `(global $g${i} (mut i32) (i32.const ${i * 3}))`).join('\n')
  return `(module
    (import "env" "base" (global $base i32))
    ${own}
    (export "g5" (global $g5)) (export "g129" (global $g129)) (export "base" (global $base))
    (func $touch (param i32) (result i32)
      (global.set $g5 (i32.add (global.get $g5) (local.get 0)))
      (global.set $g129 (i32.add (global.get $g129) (global.get $g126)))
      (i32.add (i32.add (global.get $g5) (global.get $g129)) (i32.add (global.get $base) (global.get $g127))))
    (func (export "run") (param i32) (result i32)
      (local $i i32) (local $acc i32)
      (loop $l
        (local.set $acc (i32.add (local.get $acc) (call $touch (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get 0))))
      (local.get $acc)))`
}

async function instances(text: string, options: MeterOptions, count: number, fuel: WebAssembly.Global) {
  const m = meter(await wat(text), options)
  expect(WebAssembly.validate(m.bytes)).toBe(true)
  const module = new WebAssembly.Module(m.bytes)
  expect(WebAssembly.Module.imports(module)).toContainEqual({ ...IMPORT, kind: 'global' })
  return Array.from({ length: count }, () => {
    const instance = new WebAssembly.Instance(module, { env: { base: new WebAssembly.Global({ value: 'i32' }, 1000) }, [IMPORT.module]: { [IMPORT.name]: fuel } })
    return { exports: instance.exports as Record<string, any>, ctl: m.fuel(instance) }
  })
}

describe('sharedFuel', () => {
  it('globals past the counter keep their values, uses and exports; fuel is what a defined counter charges', async () => {
    for (const stackDepth of [undefined, 50]) {
      const text = manyGlobals()
      const plain = new WebAssembly.Instance(new WebAssembly.Module(await wat(text)), { env: { base: new WebAssembly.Global({ value: 'i32' }, 1000) } }).exports as Record<string, any>
      const own = meter(await wat(text), { fuel: 'unlimited', stackDepth })
      const ownInstance = new WebAssembly.Instance(new WebAssembly.Module(own.bytes), { env: { base: new WebAssembly.Global({ value: 'i32' }, 1000) } })
      const ownCtl = own.fuel(ownInstance)
      const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n)
      const [shared] = await instances(text, { fuel: 'unlimited', stackDepth, sharedFuel: true }, 1, fuel)
      for (const n of [1, 7, 40]) {
        ownCtl.set(1_000_000n)
        shared!.ctl.set(1_000_000n)
        const expected = outcome(() => plain.run(n))
        expect(outcome(() => (ownInstance.exports as Record<string, any>).run(n))).toEqual(expected)
        expect(outcome(() => shared!.exports.run(n))).toEqual(expected)
        expect(shared!.ctl.used()).toBe(ownCtl.used())
        expect(1_000_000n - fuel.value).toBe(ownCtl.used()) // the counter is the global passed in
      }
      for (const name of ['g5', 'g129', 'base']) expect(shared!.exports[name].value).toBe(plain[name].value)
      expect(shared!.exports[METER_EXPORTS.fuel]).toBeInstanceOf(WebAssembly.Global)
    }
  })

  it('instances linked to one counter share one budget: together they stop where one would', async () => {
    const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n)
    const group = await instances(manyGlobals(), { fuel: 0, sharedFuel: true }, 3, fuel)
    group[0]!.ctl.set(1_000_000n)
    group[0]!.exports.run(10)
    const one = 1_000_000n - fuel.value
    group[0]!.ctl.set(one * 3n - 1n) // not quite enough for three runs
    group[0]!.exports.run(10)
    group[1]!.exports.run(10)
    expect(() => group[2]!.exports.run(10)).toThrow(WebAssembly.RuntimeError)
    for (const { ctl } of group) expect(ctl.exhausted()).toBe(true)
  })

  it('is refused as an option that is not a boolean', async () => {
    expect(() => meter(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), { sharedFuel: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'CONFIG', field: 'sharedFuel' }))
  })

  it('a module without imports, globals or exports gets the import section it needs', async () => {
    const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n)
    const m = meter(await wat('(module (func (export "f") (result i32) (i32.const 7)))'), { sharedFuel: true })
    const instance = new WebAssembly.Instance(new WebAssembly.Module(m.bytes), { [IMPORT.module]: { [IMPORT.name]: fuel } })
    m.fuel(instance).set(100n)
    expect((instance.exports as Record<string, any>).f()).toBe(7)
    expect(fuel.value).toBe(99n) // i32.const: 1 (end: 0)
  })
})
