/**
 * Functions only called directly take the fuel counter as a parameter and return it
 * (core/meter/fuel-passing.ts). Where the counter lives must not change what anything costs:
 * each module here is metered twice, as written (its helpers pass the counter) and with
 * every helper exported too (so none can), and the two must agree on every result, trap,
 * fuel figure, exhaustion point and on what a host function reads from the counter
 * mid-call.
 */
import { describe, expect, it } from 'vitest'
import { meter, type MeterControl, type MeterOptions } from 'wasm-sandbox/core'
import { MAX_FUEL, outcome, wat, type Outcome, exportingHelpers, typeCount } from './helpers.js'

interface Variant { call: (fn: string, args: unknown[], budget?: bigint) => { outcome: Outcome; used: bigint; exhausted: boolean }; seen: bigint[]; bytes: Uint8Array }


async function variant(text: string, options: MeterOptions): Promise<Variant> {
  const m = meter(await wat(text), options)
  expect(WebAssembly.validate(m.bytes)).toBe(true)
  const seen: bigint[] = []
  let ctl: MeterControl | null = null
  // A host function that reads the counter, as ctx.fuel would: it must be exact when called.
  const imports = { host: { look: (x: number) => { seen.push(ctl!.used()); return x + 1 } } }
  const { instance } = await WebAssembly.instantiate(m.bytes, imports)
  ctl = m.fuel(instance)
  const exports = instance.exports as Record<string, (...a: unknown[]) => unknown>
  return {
    bytes: m.bytes,
    seen,
    call(fn, args, budget = MAX_FUEL) {
      ctl!.set(budget)
      const result = outcome(() => {
        try { return exports[fn]!(...args) } catch (error) { ctl!.noteTrap(error); throw error }
      })
      return { outcome: result, used: ctl!.used(), exhausted: ctl!.exhausted() }
    },
  }
}


async function expectSameMetering(text: string, calls: [string, unknown[]][], options: MeterOptions = { fuel: 'unlimited' }, passes = true): Promise<void> {
  const original = await wat(text)
  const passing = await variant(text, options)
  const global = await variant(exportingHelpers(text), options)
  // The helpers pass the counter in the first (a type for each signature), none does in the second.
  if (passes) expect(typeCount(passing.bytes)).toBeGreaterThan(typeCount(global.bytes))
  else expect(typeCount(passing.bytes)).toBe(typeCount(global.bytes))
  const plain = (await WebAssembly.instantiate(original, { host: { look: (x: number) => x + 1 } })).instance.exports as Record<string, (...a: unknown[]) => unknown>
  for (const [fn, args] of calls) {
    const a = passing.call(fn, args), b = global.call(fn, args)
    const ctx = `${fn}(${args.join(', ')})`
    expect(a.outcome, ctx).toEqual(b.outcome)
    if (options.stackDepth === undefined) expect(a.outcome, ctx).toEqual(outcome(() => plain[fn]!(...args)))
    expect(a.used, ctx).toBe(b.used)
    expect(passing.seen, ctx).toEqual(global.seen)
    // The exhaustion point: exactly the fuel used completes; one less runs out, in both.
    if (a.outcome.ok && a.used > 0n) {
      expect(passing.call(fn, args, a.used).outcome, ctx).toEqual(a.outcome)
      global.call(fn, args, a.used)
      const short = passing.call(fn, args, a.used - 1n), shortGlobal = global.call(fn, args, a.used - 1n)
      expect(short.exhausted, ctx).toBe(true)
      expect(short.used, ctx).toBe(shortGlobal.used)
      expect(passing.seen, ctx).toEqual(global.seen)
    }
  }
}

describe('fuel passed to functions only called directly', () => {
  it('recursion: results, fuel and the exhaustion point are those of the global counter', async () => {
    await expectSameMetering(`(module
      (func $hfib (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
          (then (local.get 0))
          (else (i32.add (call $hfib (i32.sub (local.get 0) (i32.const 1))) (call $hfib (i32.sub (local.get 0) (i32.const 2)))))))
      (func (export "fib") (param i32) (result i32) (call $hfib (local.get 0))))`,
    [['fib', [0]], ['fib', [1]], ['fib', [15]]])
  })

  it('locals after the parameters are renumbered, also in dead code; multi-value results; return, br, br_if and br_table to the function label', async () => {
    await expectSameMetering(`(module
      (func $hpair (param i32 i64) (result i32 i64) (local i32 i64 f64)
        (local.set 2 (i32.mul (local.get 0) (i32.const 3)))
        (local.set 3 (i64.add (local.get 1) (i64.extend_i32_u (local.get 2))))
        (local.set 4 (f64.const 1.5))
        (if (i32.eq (local.get 0) (i32.const 1)) (then (return (local.get 2) (local.get 3))))
        (if (i32.eq (local.get 0) (i32.const 2)) (then (br 1 (i32.const 7) (i64.const 8))))
        (br_if 0 (local.get 2) (local.get 3) (i32.eq (local.get 0) (i32.const 3)))
        drop drop
        (block $b (result i32 i64)
          (br_table $b 1 $b (local.get 2) (local.get 3) (i32.and (local.get 0) (i32.const 3)))
          (unreachable))
        drop drop
        (if (i32.eq (local.get 0) (i32.const 8)) (then
          (unreachable)
          (local.set 3 (local.get 3))
          (drop (call $hpair (local.get 2) (local.get 3)))
          (drop)))
        (i32.trunc_f64_s (local.get 4)) (local.get 3))
      (func (export "run") (param i32) (result i64) (local i32 i64)
        (call $hpair (local.get 0) (i64.const 100))
        (local.set 2) (local.set 1)
        (i64.add (i64.extend_i32_u (local.get 1)) (local.get 2))))`,
    [['run', [0]], ['run', [1]], ['run', [2]], ['run', [3]], ['run', [4]], ['run', [5]], ['run', [6]], ['run', [8]], ['run', [9]]])
  })

  it('the counter is exact at every trap, host call and depth limit inside passing functions', async () => {
    const text = `(module
      (import "host" "look" (func $look (param i32) (result i32)))
      (memory 1)
      (func $hleaf (param i32) (result i32)
        (i32.div_u (i32.const 100) (local.get 0)))
      (func $hmid (param i32) (result i32) (local i32)
        (local.set 1 (call $look (local.get 0)))
        (loop $l
          (local.set 1 (i32.add (i32.add (local.get 1) (i32.const 1)) (i32.load (i32.mul (local.get 0) (i32.const 4096)))))
          (br_if $l (i32.lt_u (local.get 1) (i32.const 3))))
        (i32.add (call $hleaf (i32.sub (local.get 0) (i32.const 1))) (local.get 1)))
      (func $hdeep (param i32) (result i32)
        (if (result i32) (local.get 0) (then (i32.add (call $hdeep (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))) (else (i32.const 0))))
      (func $hinc (param i32) (result i32) (i32.add (local.get 0) (i32.const 100)))
      (func $honce (param i32) (result i32) (local i32)
        (local.set 1 (call $hinc (local.get 0)))
        (loop $once ;; nothing branches here: its charge joins the one before the call
          (local.set 1 (i32.add (local.get 1) (i32.load (i32.mul (local.get 0) (i32.const 4096))))))
        (local.get 1))
      (func (export "run") (param i32) (result i32) (call $hmid (local.get 0)))
      (func (export "once") (param i32) (result i32) (call $honce (local.get 0)))
      (func (export "deep") (param i32) (result i32) (call $hdeep (local.get 0))))`
    const calls: [string, unknown[]][] = [['run', [5]], ['run', [1]], ['run', [17]], ['run', [30]], ['once', [2]], ['once', [20]], ['deep', [10]], ['deep', [40]]]
    await expectSameMetering(text, calls) // division by zero, out-of-bounds load
    await expectSameMetering(text, calls, { fuel: 'unlimited', stackDepth: 20 }) // deep(40) passes the depth limit
  })

  it('the depth global is what it was after a call through passing functions that write it and ones that do not', async () => {
    // $hb calls an import, so it writes the depth global; $ha calls only $hb, so it does not.
    // After run's call to $ha, the recursion must start from run's depth, not $ha's: at
    // stackDepth 20, rec(18) ends exactly at the limit.
    const text = `(module
      (import "host" "look" (func $look (param i32) (result i32)))
      (func $hb (param i32) (result i32) (call $look (local.get 0)))
      (func $ha (param i32) (result i32) (call $hb (local.get 0)))
      (func $rec (export "rec") (param i32) (result i32)
        (if (result i32) (local.get 0) (then (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))) (else (i32.const 0))))
      (func (export "run") (param i32) (result i32) (drop (call $ha (i32.const 1))) (call $rec (local.get 0))))`
    await expectSameMetering(text, [['run', [18]], ['run', [19]], ['rec', [19]]], { fuel: 'unlimited', stackDepth: 20 })
  })

  it('exceptions thrown through passing functions are charged as with the global counter', async () => {
    await expectSameMetering(`(module
      (tag $e (param i32))
      (func $hthrow (param i32) (result i32)
        (if (i32.gt_u (local.get 0) (i32.const 3)) (then (throw $e (local.get 0))))
        (i32.mul (local.get 0) (i32.const 2)))
      (func $hmid (param i32) (result i32) (i32.add (call $hthrow (local.get 0)) (i32.const 1)))
      (func (export "run") (param i32) (result i32)
        (try (result i32)
          (do (call $hmid (local.get 0)))
          (catch $e (i32.add (i32.const 1000))))))`,
    [['run', [2]], ['run', [9]]])
  })

  it('a module with tail calls is metered without passing, and still exactly', async () => {
    await expectSameMetering(`(module
      (func $hcount (param i32 i32) (result i32)
        (if (result i32) (local.get 0)
          (then (return_call $hcount (i32.sub (local.get 0) (i32.const 1)) (i32.add (local.get 1) (i32.const 2))))
          (else (local.get 1))))
      (func $hsq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
      (func (export "run") (param i32) (result i32) (i32.add (call $hcount (local.get 0) (i32.const 0)) (call $hsq (local.get 0)))))`,
    [['run', [0]], ['run', [50]]], { fuel: 'unlimited' }, false)
  })

  it("an engine stack overflow charges the whole budget, as the counter may be behind (both modes)", async () => {
    const text = `(module
      (func $hdown (param i32) (result i32) (i32.add (call $hdown (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
      (func (export "run") (result i32) (call $hdown (i32.const 0))))`
    for (const metering of ['exact', 'fast'] as const) {
      const v = await variant(text, { fuel: 'unlimited', metering })
      const r = v.call('run', [], 1_000_000_000n)
      expect(r.outcome).toHaveProperty('trap')
      expect(r.used).toBe(1_000_000_000n)
      expect(r.exhausted).toBe(false) // not the meter's trap: still told apart
      expect(v.call('run', [], 10_000n).exhausted).toBe(true) // a budget that runs out first is exhaustion, as before
    }
  })
})
