/**
 * Limits the meter enforces by rewriting: memory and table caps (clamped maxima, refused
 * declarations), call depth (stackDepth), and refusal of malformed input with
 * INVALID_MODULE and a byte offset.
 */
import { readdirSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { meter, SandboxError, type MeterControl, type MeterOptions } from 'wasm-sandbox/core'
import { FIXTURE_DIR, MAX_FUEL, outcome, prng, readFixture, wat } from './helpers.js'

interface Loaded { exports: Record<string, any>; ctl: MeterControl }

async function load(text: string, options: MeterOptions, imports: WebAssembly.Imports = {}): Promise<Loaded> {
  const m = meter(await wat(text), { fuel: 'unlimited', ...options })
  expect(WebAssembly.validate(m.bytes)).toBe(true)
  const { instance } = await WebAssembly.instantiate(m.bytes, { ...imports, ...m.imports })
  return { exports: instance.exports as Record<string, any>, ctl: m.fuel(instance) }
}

/** The SandboxError `fn` throws (fails the test if it throws anything else or nothing). */
function sandboxError(fn: () => unknown): SandboxError {
  let caught: unknown
  try { fn() } catch (e) { caught = e }
  expect(caught).toBeInstanceOf(SandboxError)
  return caught as SandboxError
}

const PAGE = 65536
const GROW = `(func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))`

describe('memory cap', () => {
  it('clamps an unbounded memory: growth past the cap returns -1 and is recorded', async () => {
    const text = `(module (memory (export "m") 1) ${GROW})`
    const l = await load(text, { memory: 4 * PAGE })
    l.ctl.set(MAX_FUEL)
    expect(l.exports.grow(3)).toBe(1)
    expect(l.ctl.memoryBytes()).toBe(4 * PAGE)
    expect(l.ctl.deniedGrowBytes()).toBe(0)
    expect(l.exports.grow(1)).toBe(-1)
    expect(l.ctl.deniedGrowBytes()).toBe(5 * PAGE) // the total the guest asked for
    expect(l.exports.grow(7)).toBe(-1)
    expect(l.ctl.deniedGrowBytes()).toBe(11 * PAGE)
    expect(l.exports.size()).toBe(4)
    expect(l.ctl.exhausted()).toBe(false)
    // the host sees the clamped maximum too
    expect(() => (l.exports.m as WebAssembly.Memory).grow(1)).toThrow(RangeError)
    // a new budget clears the record
    l.ctl.set(MAX_FUEL)
    expect(l.ctl.deniedGrowBytes()).toBe(0)
    // the unmetered module would have grown
    const { instance } = await WebAssembly.instantiate(await wat(text))
    expect((instance.exports.grow as (n: number) => number)(4)).toBe(1)
  })

  it('keeps a declared maximum below the cap, and lowers one above it', async () => {
    const low = await load(`(module (memory 1 2) ${GROW})`, { memory: 16 * PAGE })
    expect(low.exports.grow(1)).toBe(1)
    expect(low.exports.grow(1)).toBe(-1)
    expect(low.ctl.deniedGrowBytes()).toBe(3 * PAGE)
    const high = await load(`(module (memory 1 1000) ${GROW})`, { memory: 3 * PAGE + 100 })
    expect(high.exports.grow(2)).toBe(1)
    expect(high.exports.grow(1)).toBe(-1)
    expect(high.ctl.deniedGrowBytes()).toBe(4 * PAGE)
  })

  it('growing by zero pages at the cap succeeds and records nothing', async () => {
    const l = await load(`(module (memory 1 1) ${GROW})`, { memory: PAGE })
    expect(l.exports.grow(0)).toBe(1)
    expect(l.ctl.deniedGrowBytes()).toBe(0)
  })

  it('refuses a declaration above the cap with MEMORY_LIMIT, limit and used', async () => {
    const bytes = await wat(`(module (memory 5 10))`)
    const e = sandboxError(() => meter(bytes, { memory: 4 * PAGE }))
    expect(e.code).toBe('MEMORY_LIMIT')
    expect(e.limit).toBe(4 * PAGE)
    expect(e.used).toBe(5 * PAGE)
    expect(e.kind).toBe('memory')
    // exactly at the cap is fine
    expect(WebAssembly.validate(meter(await wat(`(module (memory 4))`), { memory: 4 * PAGE }).bytes)).toBe(true)
  })

  it('clamps imported memory declarations too', async () => {
    const text = `(module (import "env" "mem" (memory 1)) ${GROW})`
    const m = meter(await wat(text), { fuel: 'unlimited', memory: 4 * PAGE })
    // the import now demands a memory whose maximum is within the cap
    const unbounded = new WebAssembly.Memory({ initial: 1 })
    await expect(WebAssembly.instantiate(m.bytes, { env: { mem: unbounded } })).rejects.toThrow(WebAssembly.LinkError)
    const tooBig = new WebAssembly.Memory({ initial: 1, maximum: 5 })
    await expect(WebAssembly.instantiate(m.bytes, { env: { mem: tooBig } })).rejects.toThrow(WebAssembly.LinkError)
    const ok = new WebAssembly.Memory({ initial: 1, maximum: 4 })
    const { instance } = await WebAssembly.instantiate(m.bytes, { env: { mem: ok } })
    const ctl = m.fuel(instance)
    ctl.set(MAX_FUEL)
    const grow = instance.exports.grow as (n: number) => number
    expect(grow(3)).toBe(1)
    expect(grow(1)).toBe(-1)
    expect(ctl.deniedGrowBytes()).toBe(5 * PAGE)
    expect(ctl.memoryBytes()).toBe(4 * PAGE)
  })

  it('refuses an imported declaration above the cap, and clamps shared imports', async () => {
    const big = await wat(`(module (import "env" "mem" (memory 8)))`)
    const e = sandboxError(() => meter(big, { memory: 4 * PAGE }))
    expect(e.code).toBe('MEMORY_LIMIT')
    expect(e.limit).toBe(4 * PAGE)
    expect(e.used).toBe(8 * PAGE)
    const shared = meter(await wat(`(module (import "env" "mem" (memory 1 16 shared)) ${GROW})`), { fuel: 'unlimited', memory: 2 * PAGE })
    const mem16 = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true } as WebAssembly.MemoryDescriptor)
    await expect(WebAssembly.instantiate(shared.bytes, { env: { mem: mem16 } })).rejects.toThrow(WebAssembly.LinkError)
    const mem2 = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true } as WebAssembly.MemoryDescriptor)
    const { instance } = await WebAssembly.instantiate(shared.bytes, { env: { mem: mem2 } })
    expect((instance.exports.grow as (n: number) => number)(1)).toBe(1)
    expect((instance.exports.grow as (n: number) => number)(1)).toBe(-1)
  })
})

describe('table cap', () => {
  const TABLE_OPS = `(func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
    (func (export "size") (result i32) (table.size $t))`

  it('clamps table maxima: growth past the cap returns -1', async () => {
    const l = await load(`(module (table $t (export "t") 2 funcref) ${TABLE_OPS})`, { tableElements: 10 })
    l.ctl.set(MAX_FUEL)
    expect(l.exports.grow(8)).toBe(2)
    expect(l.ctl.deniedTableElements()).toBe(0)
    expect(l.exports.grow(1)).toBe(-1)
    expect(l.ctl.deniedTableElements()).toBe(11) // the total the guest asked for
    expect(l.exports.size()).toBe(10)
    l.ctl.set(MAX_FUEL)
    expect(l.ctl.deniedTableElements()).toBe(0)
    expect(() => (l.exports.t as WebAssembly.Table).grow(1)).toThrow(RangeError)
    const lower = await load(`(module (table $t 2 5 funcref) ${TABLE_OPS})`, { tableElements: 10 })
    expect(lower.exports.grow(4)).toBe(-1)
    expect(lower.exports.grow(3)).toBe(2)
  })

  it('refuses a table declared above the cap', async () => {
    const bytes = await wat(`(module (table 20 funcref))`)
    const err = sandboxError(() => meter(bytes, { tableElements: 10 }))
    expect(err.code).toBe('MEMORY_LIMIT')
    expect(err.kind).toBe('table')
    expect(err.limit).toBe(10)
    expect(err.used).toBe(20)
  })

  it('clamps imported tables', async () => {
    const m = meter(await wat(`(module (import "env" "t" (table $t 1 funcref)) ${TABLE_OPS})`), { fuel: 'unlimited', tableElements: 3 })
    await expect(WebAssembly.instantiate(m.bytes, { env: { t: new WebAssembly.Table({ initial: 1, element: 'anyfunc' }) } }))
      .rejects.toThrow(WebAssembly.LinkError)
    const { instance } = await WebAssembly.instantiate(m.bytes, { env: { t: new WebAssembly.Table({ initial: 1, maximum: 3, element: 'anyfunc' }) } })
    expect((instance.exports.grow as (n: number) => number)(3)).toBe(-1)
    expect((instance.exports.grow as (n: number) => number)(2)).toBe(1)
  })
})

describe('stackDepth', () => {
  const D = 100
  let l: Loaded
  const REC = `(func $rec (export "rec") (param $n i32) (result i32)
      (if (result i32) (i32.eqz (local.get $n))
        (then (i32.const 0))
        (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get $n) (i32.const 1)))))))`
  beforeAll(async () => {
    l = await load(`(module
      (import "env" "boom" (func $boom))
      (tag $e (param i32))
      (type $count_t (func (param i32) (result i32)))
      (table 1 funcref) (elem (i32.const 0) $count_ind)
      ${REC}
      ;; the same recursion leaving through return, a br to the function label, br_table
      (func $rec_ret (export "rec_ret") (param $n i32) (result i32)
        (block (br_if 0 (local.get $n)) (return (i32.const 0)))
        (return (i32.add (i32.const 1) (call $rec_ret (i32.sub (local.get $n) (i32.const 1))))))
      (func $rec_br (export "rec_br") (param $n i32) (result i32)
        (br_if 0 (i32.const 0) (i32.eqz (local.get $n)))
        (drop)
        (i32.add (i32.const 1) (call $rec_br (i32.sub (local.get $n) (i32.const 1)))))
      (func $rec_table (export "rec_table") (param $n i32) (result i32)
        (block $b (result i32)
          (br_table 1 $b (i32.const 0) (local.get $n)))
        (drop)
        (i32.add (i32.const 1) (call $rec_table (i32.sub (local.get $n) (i32.const 1)))))
      ;; multi-value results through the depth wrapper
      (func $mv (export "mv") (param $n i32) (result i32 i64)
        (if (result i32 i64) (i32.eqz (local.get $n))
          (then (i32.const 0) (i64.const 0))
          (else
            (call $mv (i32.sub (local.get $n) (i32.const 1)))
            (i64.add (i64.const 2))
            (local.set $n (i32.add (local.get $n) (i32.const 0)))
            (return (i32.const 7) (i64.const 9))
            )))
      (func $mv_rec (export "mv_rec") (param $n i32) (result i32 i64) (local $a i32) (local $b i64)
        (if (i32.eqz (local.get $n)) (then (return (i32.const 0) (i64.const 0))))
        (call $mv_rec (i32.sub (local.get $n) (i32.const 1)))
        (local.set $b) (local.set $a)
        (br 0 (i32.add (local.get $a) (i32.const 1)) (i64.add (local.get $b) (i64.const 2))))
      ;; exceptions thrown from deep down and caught higher up
      (func $throw_deep (param $d i32)
        (if (local.get $d)
          (then (call $throw_deep (i32.sub (local.get $d) (i32.const 1))))
          (else (throw $e (i32.const 1)))))
      (func (export "throw_deep") (param $d i32) (call $throw_deep (local.get $d)))
      (func $catch_once (param $d i32) (result i32)
        (try (result i32) (do (call $throw_deep (local.get $d)) (i32.const 0)) (catch $e)))
      (func (export "catch_then_rec") (param $k i32) (param $d i32) (param $n i32) (result i32) (local $i i32)
        ;; throw from $d frames down and catch, $k times, then recurse $n deep
        (block $done (loop $l
          (br_if $done (i32.ge_u (local.get $i) (local.get $k)))
          (drop (call $catch_once (local.get $d)))
          (try (do (call $throw_deep (local.get $d))) (catch_all))
          (try (do (try (do (call $throw_deep (local.get $d))) (delegate 0))) (catch $e (drop)))
          (try (do (try (do (call $throw_deep (local.get $d))) (catch_all (rethrow 0)))) (catch_all))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
        (call $rec (local.get $n)))
      ;; exceptions from the host, caught in wasm
      (func (export "host_catch_then_rec") (param $n i32) (result i32)
        (try (do (call $boom)) (catch_all))
        (call $rec (local.get $n)))
      ;; tail calls: a long chain must not count as depth
      (func $count (param $n i32) (result i32)
        (if (result i32) (i32.eqz (local.get $n))
          (then (i32.const 0))
          (else (return_call $count (i32.sub (local.get $n) (i32.const 1))))))
      (func $count_ind (type $count_t)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 0))
          (else (return_call_indirect (type $count_t) (i32.sub (local.get 0) (i32.const 1)) (i32.const 0)))))
      (func (export "tail_then_rec") (param $n i32) (result i32)
        (drop (call $count (i32.const 100000)))
        (drop (call $count_ind (i32.const 100000)))
        (call $rec (local.get $n)))
      (func (export "tail_into_rec") (param $n i32) (result i32)
        (return_call $rec (local.get $n)))
      (func (export "guarded_rec") (param $n i32) (result i32)
        (try (result i32) (do (call $rec (local.get $n))) (catch_all (i32.const -1))))
    )`, { stackDepth: D }, { env: { boom: () => { throw new Error('host failure') } } })
  })

  const call = (fn: string, ...args: unknown[]) => {
    l.ctl.set(MAX_FUEL)
    return outcome(() => l.exports[fn](...args))
  }
  const expectOverflow = (fn: string, ...args: unknown[]) => {
    expect(call(fn, ...args), `${fn}(${args})`).toEqual({ trap: { cls: 'RuntimeError', message: 'unreachable' } })
    expect(l.ctl.stackExceeded()).toBe(true)
    expect(l.ctl.exhausted()).toBe(false)
  }

  it('recursion exactly at the limit works, one deeper traps with stackExceeded()', () => {
    // rec(n) uses n + 1 frames
    expect(call('rec', D - 1)).toEqual({ ok: `num:${(0x4058c00000000000n).toString(16)}` }) // 99
    expect(l.ctl.stackExceeded()).toBe(false)
    expectOverflow('rec', D)
    expectOverflow('rec', 100000)
    // set() resets the depth: the instance works again
    expect(call('rec', D - 1)).toHaveProperty('ok')
    expect(l.ctl.stackExceeded()).toBe(false)
  })

  it('depth is balanced on every way out of a function (calls without set() in between)', () => {
    l.ctl.set(MAX_FUEL)
    for (let i = 0; i < 5; i++) {
      for (const fn of ['rec', 'rec_ret', 'rec_br', 'rec_table']) {
        expect(l.exports[fn](D - 1), fn).toBe(D - 1)
      }
    }
    for (const fn of ['rec_ret', 'rec_br', 'rec_table']) expectOverflow(fn, D)
  })

  it('functions with several results work under the limit', () => {
    expect(call('mv', 0)).toEqual({ ok: ['num:0', 'i64:0'] })
    expect(call('mv', 5)).toEqual({ ok: [`num:${(0x401c000000000000n).toString(16)}`, 'i64:9'] }) // [7, 9n]
    l.ctl.set(MAX_FUEL)
    expect(l.exports.mv_rec(D - 1)).toEqual([D - 1, BigInt(2 * (D - 1))])
    expect(l.exports.mv_rec(D - 1)).toEqual([D - 1, BigInt(2 * (D - 1))])
    expectOverflow('mv_rec', D)
  })

  it('depth is restored after exceptions caught in wasm (catch, catch_all, delegate, rethrow)', () => {
    // catch_then_rec itself is 1 frame, rec(n) n + 1: n = D - 2 reaches the limit exactly
    l.ctl.set(MAX_FUEL)
    expect(l.exports.catch_then_rec(1, 50, D - 2)).toBe(D - 2)
    expect(l.exports.catch_then_rec(20, 90, D - 2)).toBe(D - 2)
    expectOverflow('catch_then_rec', 3, 10, D - 1)
    // throwing from deeper than the limit is itself an overflow
    expectOverflow('catch_then_rec', 1, D, 0)
  })

  it('depth is restored after a host exception caught in wasm', () => {
    expect(call('host_catch_then_rec', D - 2)).toHaveProperty('ok')
    expectOverflow('host_catch_then_rec', D - 1)
  })

  it('after an exception escapes to JS, set() resets the depth', () => {
    l.ctl.set(MAX_FUEL)
    expect(() => l.exports.throw_deep(50)).toThrow(WebAssembly.Exception)
    expect(call('rec', D - 1)).toHaveProperty('ok')
  })

  it('tail calls do not accumulate depth (return_call, return_call_indirect)', () => {
    expect(call('tail_then_rec', D - 2)).toHaveProperty('ok')
    expectOverflow('tail_then_rec', D - 1)
    // a tail call replaces the caller's frame: rec(n) through it still has n + 1 frames
    expect(call('tail_into_rec', D - 1)).toHaveProperty('ok')
    expectOverflow('tail_into_rec', D)
  })

  it('a depth overrun inside try/catch_all cannot be caught by the guest', () => {
    expect(call('guarded_rec', D - 2)).toHaveProperty('ok')
    expectOverflow('guarded_rec', D - 1)
    expectOverflow('guarded_rec', 1_000_000)
  })

  it('charges the same fuel with and without depth counting', async () => {
    const text = `(module ${REC})`
    const bytes = await wat(text)
    const used = async (options: MeterOptions) => {
      const m = meter(bytes, { fuel: 'unlimited', ...options })
      const { instance } = await WebAssembly.instantiate(m.bytes)
      const ctl = m.fuel(instance)
      ctl.set(MAX_FUEL)
      ;(instance.exports.rec as (n: number) => number)(40)
      return ctl.used()
    }
    expect(await used({ stackDepth: 50 })).toBe(await used({}))
  })
})

describe('invalid input', () => {
  let valid: Uint8Array
  beforeAll(async () => {
    valid = await wat(`(module (memory 1) (global (mut i32) (i32.const 0)) (type (func (param i32) (result i32)))
      (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (data (i32.const 0) "abc"))`)
  })

  const expectInvalid = (bytes: Uint8Array, offset?: number): SandboxError => {
    const e = sandboxError(() => meter(bytes))
    expect(e.code).toBe('INVALID_MODULE')
    expect(typeof e.offset).toBe('number')
    expect(e.offset).toBeGreaterThanOrEqual(0)
    expect(e.offset).toBeLessThanOrEqual(bytes.length)
    if (offset !== undefined) expect(e.offset).toBe(offset)
    return e
  }

  it('garbage', () => {
    expectInvalid(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), 0)
    expectInvalid(new Uint8Array(0), 0)
    expectInvalid(new TextEncoder().encode('(module)'), 0)
    const rand = prng(42)
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(1 + Math.floor(rand() * 64)).map(() => Math.floor(rand() * 256))
      expectInvalid(junk)
      // a valid header followed by junk
      const withHeader = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x50 + (i % 0x30), ...junk])
      expectInvalid(withHeader)
    }
  })

  it('an unsupported version', () => {
    expectInvalid(new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]), 4)
  })

  it('a component (a component-model header) is refused with an explanation', () => {
    const e = expectInvalid(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 0x01, 0]), 4)
    expect(e.message).toMatch(/component/)
  })

  it('every truncation of a module is refused, unless it is itself a valid module', () => {
    let refused = 0
    for (let n = 0; n < valid.length; n++) {
      const prefix = valid.slice(0, n)
      if (WebAssembly.validate(prefix)) {
        expect(WebAssembly.validate(meter(prefix).bytes), `prefix ${n}`).toBe(true)
      } else {
        expectInvalid(prefix)
        refused++
      }
    }
    expect(refused).toBeGreaterThan(valid.length / 2)
  })

  it('export names reserved by the meter', async () => {
    for (const name of ['__wasm_sandbox_fuel', '__wasm_sandbox_memory', '__wasm_sandbox_anything']) {
      const bytes = await wat(`(module (func (export "ok")) (global (export "${name}") i32 (i32.const 0)))`)
      const e = expectInvalid(bytes)
      expect(e.message).toContain(name)
      // the offset points at the export entry: its name is right there
      const at = e.offset!
      expect(new TextDecoder().decode(bytes.subarray(at + 1, at + 1 + name.length))).toBe(name)
    }
  })

  it('bad options are CONFIG errors', () => {
    for (const options of [{ fuel: -1 }, { fuel: 1.5 }, { fuel: 2n ** 63n }, { stackDepth: 0 }, { stackDepth: 1.5 },
      { tableElements: -1 }, { memory: 'lots' }, { memory: -5 }] as MeterOptions[]) {
      const e = sandboxError(() => meter(valid, options))
      expect(e.code, JSON.stringify(options, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).toBe('CONFIG')
    }
  })

  it('mutated modules are either metered into a valid module or refused with a SandboxError', async () => {
    // Flip bytes of every fixture at seeded positions. The meter must never throw anything but
    // a SandboxError, and when the mutant is still a valid module its output must validate.
    const rand = prng(7)
    let validMutants = 0, refused = 0, accepted = 0
    const files = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.wat')).sort()
    for (const f of files) {
      const bytes = await wat(readFixture(f), f)
      for (let i = 0; i < 150; i++) {
        const mutant = bytes.slice()
        const flips = 1 + Math.floor(rand() * 3)
        for (let k = 0; k < flips; k++) {
          const at = 8 + Math.floor(rand() * (mutant.length - 8))
          mutant[at] = rand() < 0.5 ? Math.floor(rand() * 256) : mutant[at]! ^ (1 << Math.floor(rand() * 8))
        }
        const isValid = WebAssembly.validate(mutant)
        if (isValid) validMutants++
        let out: Uint8Array | null = null
        try {
          out = meter(mutant, { fuel: 'unlimited', stackDepth: 1000 }).bytes
        } catch (e) {
          expect(e, `${f} mutant ${i}: ${(e as Error)?.stack}`).toBeInstanceOf(SandboxError)
          if (isValid) expect((e as SandboxError).code, `${f} mutant ${i}: ${(e as Error).message}`).not.toBe('INVALID_MODULE')
          refused++
          continue
        }
        accepted++
        if (isValid) expect(WebAssembly.validate(out), `${f} mutant ${i} is valid but its metered form is not`).toBe(true)
      }
    }
    expect(validMutants).toBeGreaterThan(50)
    expect(refused).toBeGreaterThan(50)
    expect(accepted).toBeGreaterThan(50)
  }, 60_000)
})

describe('fuel(instance).set()', () => {
  it('takes a number as well as a bigint, and refuses what the i64 counter cannot hold', async () => {
    const m = meter(await wat('(module (func (export "run") (local i32) (local.set 0 (i32.const 100)) (loop $l (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))))'))
    const instance = new WebAssembly.Instance(new WebAssembly.Module(m.bytes))
    const fuel = m.fuel(instance)
    fuel.set(10_000)
    ;(instance.exports.run as () => void)()
    const used = fuel.used()
    expect(used > 0n && used < 10_000n).toBe(true)
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60, -1n, 2n ** 63n]) {
      expect(() => fuel.set(bad), String(bad)).toThrow(expect.objectContaining({ code: 'CONFIG', field: 'fuel' }))
    }
    expect(fuel.limit()).toBe(10_000n) // unchanged by the refused ones
  })
})
