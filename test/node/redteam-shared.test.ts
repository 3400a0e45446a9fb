/**
 * Red team of the component fuel counter shared by every core instance (`sharedFuel`): a
 * component's total work, however many core instances it spreads it over (calls, start
 * functions), is bounded by its budget, and usage is the sum.
 */
import { describe, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { componentFromText } from '../support/components.js'
import { rejectsWith } from './helpers.js'

const LOOP = '(local $i i32) (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (local.get 0))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))'

/** `count` core instances in a chain: each loops n times, then calls the one before it. */
function chain(count: number): string {
  let text = `(component
    (core module $first (func (export "work") (param i32) ${LOOP}))
    (core instance $i0 (instantiate $first))
    (core module $next (import "prev" "work" (func $prev (param i32)))
      (func (export "work") (param i32) ${LOOP} (call $prev (local.get 0))))\n`
  for (let k = 1; k < count; k++) text += `(core instance $i${k} (instantiate $next (with "prev" (instance $i${k - 1}))))\n`
  return `${text}(func (export "run") (param "n" u32) (canon lift (core func $i${count - 1} "work"))))`
}

/** `count` core instances whose start functions each loop `n` times; `one` does a single loop. */
function starts(count: number, n: number): string {
  let text = `(component
    (core module $m (func $burn (local $i i32) (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (i32.const ${n}))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))) (start $burn)
      (func (export "one") (param i32) ${LOOP}))\n`
  for (let k = 0; k < count; k++) text += `(core instance $i${k} (instantiate $m))\n`
  return `${text}(func (export "one") (param "n" u32) (canon lift (core func $i0 "one"))))`
}

describe('red team: a component spread over many core instances stays within one budget', () => {
  it('40 chained instances: usage is the sum, and a call each instance could afford but not all is FUEL_EXHAUSTED', async () => {
    const bytes = await componentFromText(chain(40))
    for (const metering of ['exact', 'fast'] as const) {
      const free = await Sandbox.create(bytes, { fuel: 'unlimited', metering })
      let total: bigint
      try {
        await free.call('run', 1000)
        total = free.lastUsage!.fuelUsed
      } finally {
        await free.close()
      }
      const budget = total / 8n // five instances' work: far more than one needs, far less than forty
      const limited = await Sandbox.create(bytes, { fuel: budget, metering })
      try {
        const error = await rejectsWith(limited.call('run', 1000), 'FUEL_EXHAUSTED')
        expect(error.limit).toBe(budget)
        expect(limited.lastUsage!.fuelUsed).toBe(budget)
        await limited.call('run', 10) // recovers
        expect(limited.lastUsage!.fuelUsed).toBeLessThan(budget)
      } finally {
        await limited.close()
      }
    }
  }, 60_000)

  it('the start functions of ten core instances share the budget of instantiation', async () => {
    // one start loops 20000 times (~200k fuel): alone it fits in 500k, ten of them do not
    await rejectsWith(Sandbox.create(await componentFromText(starts(1, 20_000)), { fuel: 100_000 }), 'FUEL_EXHAUSTED')
    const one = await Sandbox.create(await componentFromText(starts(1, 20_000)), { fuel: 500_000 })
    await one.close()
    await rejectsWith(Sandbox.create(await componentFromText(starts(10, 20_000)), { fuel: 500_000 }), 'FUEL_EXHAUSTED')
  }, 60_000)
})

describe('red team: the counter namespace', () => {
  it('a core module importing from `__wasm_sandbox` is INVALID_MODULE (it got JavaScript\'s Object as "constructor")', async () => {
    const text = `(component
      (core module $a (func (export "constructor") (param i32) (result i32) (i32.const 5)))
      (core instance $ia (instantiate $a))
      (core module $b (import "__wasm_sandbox" "constructor" (func $c (param i32) (result i32)))
        (func (export "run") (param i32) (result i32) (call $c (local.get 0))))
      (core instance $ib (instantiate $b (with "__wasm_sandbox" (instance $ia))))
      (func (export "run") (param "n" u32) (result u32) (canon lift (core func $ib "run"))))`
    const error = await rejectsWith(Sandbox.create(text, { fuel: 100_000 }), 'INVALID_MODULE')
    expect(error.message).toContain('__wasm_sandbox')
  })
})

describe('red team: work outside any call', () => {
  // A component instance that trapped is replaced before the next call (serve-guest.ts
  // renewAfter). The replacement's core start functions ran under a fresh budget that no
  // call's usage showed: a guest whose start burns most of a budget and whose export traps at
  // once was billed ~1 fuel per call for ~a budget of work each (measured: 20 trapping calls,
  // starts of 9M loop iterations each, billed 20 fuel). Fixed: the replacement's start fuel
  // is billed to its first call.
  it('the start functions of an instance renewed after a trap are billed to its first call', async () => {
    const n = 200_000
    const text = `(component
      (core module $m
        (func $burn (local $i i32) (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (i32.const ${n}))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))) (start $burn)
        (func (export "boom") unreachable)
        (func (export "noop")))
      (core instance $i (instantiate $m))
      (func (export "boom") (canon lift (core func $i "boom")))
      (func (export "noop") (canon lift (core func $i "noop"))))`
    const sb = await Sandbox.create(text, { fuel: 10_000_000 })
    try {
      let billed = 0n
      for (let k = 0; k < 3; k++) {
        await rejectsWith(sb.call('boom'), 'TRAP')
        billed += sb.lastUsage!.fuelUsed
      }
      await sb.call('noop')
      billed += sb.lastUsage!.fuelUsed
      expect(billed).toBeGreaterThanOrEqual(3n * BigInt(n)) // three renewals, each a start of n iterations
    } finally {
      await sb.close()
    }
  }, 60_000)
})
