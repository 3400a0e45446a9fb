import { expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { rejectsWith } from './helpers.js'

const WAT = `(module
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1))) (call $helper (i32.sub (local.get 0) (i32.const 2)))))))
  (func $helper (param i32) (result i32) (call $fib (local.get 0)))
  (func $idle (export "idle")))`

it('profiles calls and fuel per function, named from the name section, adding up to the fuel used', async () => {
  const sb = await Sandbox.create(WAT, { profile: true })
  expect(await sb.call('fib', 15)).toBe(610)
  const profile = await sb.profile()
  expect(profile.map((p) => p.name)).toEqual(['fib', 'helper'])
  expect(profile[0]).toMatchObject({ index: 0, calls: 1973 })
  expect(profile[1]).toMatchObject({ index: 1, calls: 986 })
  expect(profile.reduce((sum, p) => sum + p.fuel, 0n)).toBe(sb.lastUsage!.fuelUsed)
  expect(profile[0]!.fuel).toBeGreaterThan(profile[1]!.fuel)
  await sb.close()
  const plain = await Sandbox.create(WAT)
  expect((await rejectsWith(plain.profile(), 'CONFIG')).field).toBe('profile')
  await plain.close()
})
