/**
 * Exact fuel accounting against the documented cost model: every instruction costs 1 except
 * the delimiters end/else/catch/catch_all/delegate (0); bulk memory adds length>>6, bulk
 * table ops add 1 per element, memory.grow adds 1024 per page. Expected values are derived
 * by hand in the comments (instructions counted in execution order).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { meter, type MeterControl, type MeterOptions } from 'wasm-sandbox/core'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FIXTURE_DIR, MAX_FUEL, outcome, wat } from './helpers.js'

interface Loaded { exports: Record<string, (...a: any[]) => any>; ctl: MeterControl; instance: WebAssembly.Instance }

async function load(text: string, options: MeterOptions = { fuel: 'unlimited' }, imports: WebAssembly.Imports = {}): Promise<Loaded> {
  const bytes = await wat(text)
  const m = meter(bytes, options)
  expect(WebAssembly.validate(m.bytes)).toBe(true)
  const { instance } = await WebAssembly.instantiate(m.bytes, { ...imports, ...m.imports })
  return { exports: instance.exports as Loaded['exports'], ctl: m.fuel(instance), instance }
}

/** Fuel one call uses, starting from a fresh budget. */
function cost(l: Loaded, fn: string, ...args: unknown[]): bigint {
  l.ctl.set(MAX_FUEL)
  l.exports[fn]!(...args)
  expect(l.ctl.exhausted()).toBe(false)
  return l.ctl.used()
}

/** Checks cost(n) = a*n + b over 0..max, fitting a and b from n = 0 and n = 1. */
function expectLinear(f: (n: number) => bigint, max: number, step = 1): { a: bigint; b: bigint } {
  const b = f(0)
  const a = f(step) - b
  for (let n = 0; n <= max; n += step) expect(f(n), `n = ${n}`).toBe(a * BigInt(n / step) + b)
  return { a, b }
}

describe('static costs: one per instruction, zero per delimiter', () => {
  const cases: [string, string, bigint, unknown[]?][] = [
    // [signature + body, what it shows, expected cost, args]
    ['(result i32) (i32.add (i32.const 1) (i32.const 2))', 'three plain instructions', 3n],
    ['(nop)', 'a nop; the function end is free', 1n],
    ['', 'an empty body costs nothing', 0n],
    ['(block (nop)) (block (block (nop)))', 'block + nop; block block nop; the ends are free', 5n],
    ['(param i32) (result i32) (if (result i32) (local.get 0) (then (i32.const 5)) (else (i32.const 6)))', 'then arm: get, if, const', 3n, [1]],
    ['(param i32) (result i32) (if (result i32) (local.get 0) (then (i32.const 5)) (else (i32.const 6)))', 'else arm: get, if, const (else is free)', 3n, [0]],
    ['(result i32) (i32.trunc_sat_f64_s (f64.const 1.5))', '0xfc-prefixed instruction costs 1', 2n],
    ['(result i32) (i32x4.extract_lane 1 (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (v128.const i32x4 1 2 3 4) (v128.const i64x2 0 0)))', '0xfd-prefixed instructions cost 1 each', 4n],
    ['(result i32) (i32.atomic.rmw.add (i32.const 0) (i32.const 1)) (atomic.fence)', '0xfe-prefixed instructions cost 1 each', 4n],
    ['(result i64) (i64.const 0x7fffffffffffffff)', 'a long immediate is still one instruction', 1n],
    ['(param i32) (result i32) (block $b (result i32) (br_table $b $b $b (i32.const 9) (local.get 0)))', 'block, const, get, br_table', 4n, [1]],
    ['(result i32) (call $three)', 'call (1) + callee body (3)', 4n],
    ['(result i32) (call_indirect (result i32) (i32.const 0))', 'const, call_indirect, then the callee (3)', 5n],
    ['(result i32) (return (i32.const 4)) (i32.const 5)', 'const, return; dead code after return is not charged', 2n],
    ['(result i32) (select (i32.const 1) (i32.const 2) (i32.const 0))', 'select', 4n],
    ['(result i32) (try (result i32) (do (throw $e)) (catch $e (i32.const 3)))', 'try, throw, (catch free) const', 3n],
    ['(result i32) (try (result i32) (do (i32.const 1)) (catch_all (i32.const 2)))', 'try, const; the handler never runs', 2n],
  ]
  let l: Loaded
  beforeAll(async () => {
    const funcs = cases.map(([body], i) => `(func (export "c${i}") ${body})`).join('\n')
    l = await load(`(module (memory 1 1 shared) (tag $e) (table 1 funcref) (elem (i32.const 0) $three)
      (func $three (result i32) (i32.add (i32.const 1) (i32.const 2)))
      ${funcs})`)
  })
  it.each(cases.map((c, i) => [c[1], i, c[2], c[3] ?? []] as const))('%s', (_what, i, expected, args) => {
    expect(cost(l, `c${i}`, ...args)).toBe(expected)
  })
})

describe('linear costs', () => {
  let l: Loaded
  beforeAll(async () => {
    l = await load(`(module
      (memory 1 100)
      (table $t 10 1000 funcref)
      (data $d "${'x'.repeat(8192)}")
      (elem $e func $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec $rec)
      (func (export "loop") (param $n i32) (result i32) (local $i i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))
        (local.get $i))
      (func $rec (export "rec") (param $n i32) (result i32)
        (if (result i32) (i32.eqz (local.get $n))
          (then (i32.const 0))
          (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get $n) (i32.const 1)))))))
      (func (export "fill") (param $len i32) (memory.fill (i32.const 0) (i32.const 7) (local.get $len)))
      (func (export "copy") (param $len i32) (memory.copy (i32.const 20000) (i32.const 0) (local.get $len)))
      (func (export "init") (param $len i32) (memory.init $d (i32.const 0) (i32.const 0) (local.get $len)))
      (func (export "grow") (param $pages i32) (result i32) (memory.grow (local.get $pages)))
      (func (export "table_fill") (param $n i32) (table.fill $t (i32.const 0) (ref.null func) (local.get $n)))
      (func (export "table_copy") (param $n i32) (table.copy $t $t (i32.const 0) (i32.const 0) (local.get $n)))
      (func (export "table_init") (param $n i32) (table.init $t $e (i32.const 0) (i32.const 0) (local.get $n)))
      (func (export "table_grow") (param $n i32) (result i32) (table.grow $t (ref.null func) (local.get $n)))
      (func (export "throw_loop") (param $n i32) (local $i i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (try (do (call $thrower)) (catch_all))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l))))
      (tag $x)
      (func $thrower (throw $x))
    )`)
  })

  it('a loop of N iterations costs exactly a*N + b (a = 9, b = 7)', () => {
    // entry: block loop (2); each header: get get ge_u br_if (4), taken N+1 times; each body:
    // get const add set br (5); exit: local.get (1). 2 + 4(N+1) + 5N + 1 = 9N + 7.
    const fit = expectLinear((n) => cost(l, 'loop', n), 50)
    expect(fit).toEqual({ a: 9n, b: 7n })
    expect(cost(l, 'loop', 100000)).toBe(900007n)
  })

  it('recursion to depth N costs exactly a*N + b (a = 9, b = 4)', () => {
    // each level: get eqz if (3) + else arm: const get const sub call add (6); base: 3 + const.
    const fit = expectLinear((n) => cost(l, 'rec', n), 50)
    expect(fit).toEqual({ a: 9n, b: 4n })
  })

  it('memory.fill charges 4 + (length >> 6)', () => {
    for (const len of [0, 1, 63, 64, 65, 127, 128, 1000, 4095, 4096, 65535, 65536]) {
      expect(cost(l, 'fill', len), `len ${len}`).toBe(4n + BigInt(len >> 6))
    }
    expectLinear((n) => cost(l, 'fill', n), 64 * 50, 64)
  })

  it('memory.copy and memory.init charge length >> 6 on top', () => {
    for (const len of [0, 63, 64, 200, 8192]) {
      expect(cost(l, 'copy', len), `copy ${len}`).toBe(4n + BigInt(len >> 6))
      expect(cost(l, 'init', len), `init ${len}`).toBe(4n + BigInt(len >> 6))
    }
  })

  it('a trapping bulk operation is charged for its length before it traps', () => {
    l.ctl.set(MAX_FUEL)
    expect(outcome(() => l.exports.fill!(-1))).toEqual({ trap: { cls: 'RuntimeError', message: 'memory access out of bounds' } })
    expect(l.ctl.used()).toBe(4n + BigInt(0xffffffff >>> 6))
    expect(l.ctl.exhausted()).toBe(false)
  })

  it('memory.grow charges 2 + 1024 per page asked for, granted or not', () => {
    let pages = 1
    for (const p of [0, 1, 2, 5]) {
      l.ctl.set(MAX_FUEL)
      expect(l.exports.grow!(p)).toBe(pages)
      pages += p
      expect(l.ctl.used()).toBe(2n + 1024n * BigInt(p))
    }
    l.ctl.set(MAX_FUEL)
    expect(l.exports.grow!(1000)).toBe(-1) // beyond the declared maximum of 100
    expect(l.ctl.used()).toBe(2n + 1024n * 1000n)
  })

  it('bulk table operations charge one per element', () => {
    for (const n of [0, 1, 2, 7, 10]) {
      expect(cost(l, 'table_fill', n), `fill ${n}`).toBe(4n + BigInt(n))
      expect(cost(l, 'table_copy', n), `copy ${n}`).toBe(4n + BigInt(n))
      expect(cost(l, 'table_init', n), `init ${n}`).toBe(4n + BigInt(n))
    }
    expectLinear((n) => cost(l, 'table_grow', n), 20)
    expect(cost(l, 'table_grow', 5)).toBe(3n + 5n)
  })

  it('a loop that throws and catches every iteration is still linear', () => {
    expectLinear((n) => cost(l, 'throw_loop', n), 30)
  })
})

describe('exhaustion', () => {
  let l: Loaded
  beforeAll(async () => {
    l = await load(`(module
      (func (export "spin") (loop (br 0)))
      (func (export "trap") (param i32) (result i32) (if (local.get 0) (then (unreachable))) (i32.const 1))
      (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))`)
  })

  it('(loop br 0) with a budget of 10^6 runs out with used == 10^6', () => {
    l.ctl.set(1_000_000n)
    expect(outcome(() => l.exports.spin!())).toEqual({ trap: { cls: 'RuntimeError', message: 'unreachable' } })
    expect(l.ctl.exhausted()).toBe(true)
    expect(l.ctl.used()).toBe(1_000_000n)
    expect(l.ctl.limit()).toBe(1_000_000n)
  })

  it('every budget of (loop br 0) is used to the last unit', () => {
    for (const budget of [0n, 1n, 2n, 3n, 1234n]) {
      l.ctl.set(budget)
      expect(() => l.exports.spin!()).toThrow(WebAssembly.RuntimeError)
      expect(l.ctl.exhausted()).toBe(true)
      expect(l.ctl.used()).toBe(budget)
    }
  })

  it('a guest unreachable is not reported as exhaustion', () => {
    l.ctl.set(100n)
    expect(outcome(() => l.exports.trap!(1))).toEqual({ trap: { cls: 'RuntimeError', message: 'unreachable' } })
    expect(l.ctl.exhausted()).toBe(false)
    expect(l.ctl.used()).toBe(3n) // local.get, if, unreachable
    l.ctl.set(100n)
    expect(outcome(() => l.exports.div!(0))).toEqual({ trap: { cls: 'RuntimeError', message: 'divide by zero' } })
    expect(l.ctl.exhausted()).toBe(false)
  })

  it('running out inside try/catch_all cannot be caught by the guest', async () => {
    const g = await load(`(module
      (global $caught (export "caught") (mut i32) (i32.const 0))
      (func $spin (loop (br 0)))
      (func (export "f")
        (try (do (try (do (call $spin)) (catch_all (global.set $caught (i32.const 1)))))
          (catch_all (global.set $caught (i32.const 2))))
        (loop (br 0))))`)
    g.ctl.set(10_000n)
    expect(outcome(() => g.exports.f!())).toEqual({ trap: { cls: 'RuntimeError', message: 'unreachable' } })
    expect(g.ctl.exhausted()).toBe(true)
    expect(g.ctl.used()).toBe(10_000n)
    expect((g.instance.exports.caught as WebAssembly.Global).value).toBe(0)
  })

  it('after exhaustion a new budget makes the instance usable again', () => {
    l.ctl.set(5n)
    expect(() => l.exports.spin!()).toThrow()
    expect(l.ctl.exhausted()).toBe(true)
    l.ctl.set(10n)
    expect(l.exports.trap!(0)).toBe(1)
    expect(l.ctl.exhausted()).toBe(false)
    expect(l.ctl.used()).toBe(3n) // local.get, if, (then arm skipped), i32.const
  })
})

describe('the start function is metered with the `fuel` option', () => {
  const text = `(module (global $g (export "g") (mut i32) (i32.const 0))
    (func $start (local $i i32)
      (block $done
        (loop $l
          (br_if $done (i32.ge_u (local.get $i) (i32.const 10)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
      (global.set $g (local.get $i)))
    (start $start))`
  // block loop (2) + the header 11 times (4 each) + the body 10 times (5 each) + local.get,
  // global.set (2) = 98
  const START_COST = 2n + 4n * 11n + 5n * 10n + 2n

  it('runs with exactly its cost, and reports it as used', async () => {
    const l = await load(text, { fuel: START_COST })
    expect((l.instance.exports.g as WebAssembly.Global).value).toBe(10)
    expect(l.ctl.used()).toBe(START_COST)
    expect(l.ctl.exhausted()).toBe(false)
  })

  it('with deferStart, instantiation runs nothing and the exported start is metered', async () => {
    const bytes = await wat(text)
    const m = meter(bytes, { deferStart: true }) // default budget 0: nothing may run
    const { instance } = await WebAssembly.instantiate(m.bytes, m.imports)
    const ctl = m.fuel(instance)
    const g = instance.exports.g as WebAssembly.Global
    const start = instance.exports.__wasm_sandbox_start as () => void
    expect(g.value).toBe(0)
    ctl.set(START_COST - 1n)
    expect(outcome(start)).toEqual({ trap: { cls: 'RuntimeError', message: 'unreachable' } })
    expect(ctl.exhausted()).toBe(true)
    ctl.set(START_COST)
    start()
    expect(g.value).toBe(10)
    expect(ctl.used()).toBe(START_COST)
  })

  it('runs out with one unit less, and with the default budget of 0', async () => {
    const bytes = await wat(text)
    for (const options of [{ fuel: START_COST - 1n }, {}]) {
      const m = meter(bytes, options)
      let caught: unknown
      try { await WebAssembly.instantiate(m.bytes, m.imports) } catch (e) { caught = e }
      expect(caught).toBeInstanceOf(WebAssembly.RuntimeError)
      expect((caught as Error).message).toBe('unreachable')
    }
  })
})

describe('exceptions', () => {
  // test/fixtures/repro/exception-overcharge.wat: the instructions after a call whose callee
  // throws never run, and the cost model charges only what runs.
  let l: Loaded
  beforeAll(async () => {
    l = await load(readFileSync(join(FIXTURE_DIR, '..', 'repro', 'exception-overcharge.wat'), 'utf8'),
      { fuel: 'unlimited' }, { env: { boom: () => { throw new Error('host') } } })
  })

  it('a caught exception is charged only for the instructions that ran', () => {
    // ran: try, call, throw (in $throw), i32.const 3. The const/const/add after the call never run.
    expect(l.exports.caught!()).toBe(3)
    expect(cost(l, 'caught')).toBe(4n)
  })

  it('an exception thrown by a host import is charged only for what ran', () => {
    // ran: try, call, i32.const 3
    expect(cost(l, 'host_caught')).toBe(3n)
  })

  it('a budget of exactly what runs is enough', () => {
    l.ctl.set(4n)
    expect(outcome(() => l.exports.caught!())).toEqual({ ok: `num:${(0x4008000000000000n).toString(16)}` }) // 3
    expect(l.ctl.exhausted()).toBe(false)
  })
})

describe("metering: 'fast'", () => {
  const text = `(module (memory 1)
    (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $acc i32)
      (loop $l
        (local.set $acc (i32.add (local.get $acc) (i32.load (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (local.get $acc))
    (func (export "trap_after") (param $n i32) (result i32)
      (drop (call 0 (local.get $n)))
      (i32.load (i32.const -4))))`
  let exact: Loaded, fast: Loaded
  beforeAll(async () => {
    exact = await load(text)
    fast = await load(text, { fuel: 'unlimited', metering: 'fast' })
  })

  it('charges a call that returns exactly what exact metering does', () => {
    for (const n of [0, 1, 7, 100]) expect(cost(fast, 'sum', n), `n = ${n}`).toBe(cost(exact, 'sum', n))
  })

  it('runs out at the same budget, to the last unit', () => {
    const used = cost(exact, 'sum', 50)
    fast.ctl.set(used)
    expect(fast.exports.sum!(50)).toBe(0)
    fast.ctl.set(used - 1n)
    expect(outcome(() => fast.exports.sum!(50))).toEqual({ trap: { cls: 'RuntimeError', message: 'unreachable' } })
    expect(fast.ctl.exhausted()).toBe(true)
    expect(fast.ctl.used()).toBe(used - 1n)
  })

  it('charges a trapped call its whole budget once the host notes the trap; exact metering reports what ran', () => {
    exact.ctl.set(10_000n)
    expect(outcome(() => exact.exports.trap_after!(20))).toEqual({ trap: { cls: 'RuntimeError', message: 'memory access out of bounds' } })
    expect(exact.ctl.used()).toBe(cost(exact, 'sum', 20) + 5n) // local.get, call, drop, const, load; the callee apart
    fast.ctl.set(10_000n)
    let error: unknown
    try { fast.exports.trap_after!(20) } catch (e) { error = e }
    fast.ctl.noteTrap(error)
    expect(fast.ctl.used()).toBe(10_000n)
    expect(fast.ctl.exhausted()).toBe(false) // still told apart from running out
  })
})
