/**
 * Red-team checks of fuel passing (core/meter/fuel-passing.ts): guests built to make the
 * counter passed as a parameter disagree with the global counter. Each module is metered as
 * written (its `$h` helpers pass the counter) and with every helper exported (none can), and
 * the two must agree on every result, trap, fuel figure, exhaustion point, counter reading
 * inside host functions (also re-entrant ones), profile and memory; both must agree with the
 * unmetered module on results.
 */
import { describe, expect, it } from 'vitest'
import { meter, readProfile, type MeterControl, type MeterOptions } from 'wasm-sandbox/core'
import { hashBytes, MAX_FUEL, outcome, wat, type Outcome, exportingHelpers, typeCount } from './helpers.js'

type Exports = Record<string, (...a: unknown[]) => unknown>
interface CallResult { outcome: Outcome; used: bigint; exhausted: boolean; memory: string }
interface Variant {
  call: (fn: string, args: unknown[], budget?: bigint) => CallResult
  seen: string[]
  bytes: Uint8Array
  profile: () => unknown
}


/**
 * Host functions: `look` reads the counter (as ctx.fuel would), `boom` throws a JS error
 * for odd arguments, `reenter` calls the guest's `inner` export from inside the call.
 */
function hostImports(seen: string[], ctl: () => MeterControl | null, exports: () => Exports) {
  return {
    host: {
      look: (x: number) => { seen.push(`look ${ctl()?.used() ?? '-'}`); return x + 1 },
      boom: (x: number) => { seen.push(`boom ${ctl()?.used() ?? '-'}`); if (x & 1) throw new Error(`boom ${x}`); return x * 2 },
      reenter: (x: number) => { seen.push(`reenter ${ctl()?.used() ?? '-'}`); const r = exports().inner!(x) as number; seen.push(`back ${ctl()?.used() ?? '-'}`); return r + 1 },
    },
  }
}

function memoryOf(exports: Record<string, unknown>): string {
  const mem = exports.mem as WebAssembly.Memory | undefined
  return mem ? hashBytes(new Uint8Array(mem.buffer)) : '-'
}

async function variant(bytes: Uint8Array, options: MeterOptions): Promise<Variant> {
  const m = meter(bytes, options)
  expect(WebAssembly.validate(m.bytes), 'the metered module validates').toBe(true)
  const seen: string[] = []
  let ctl: MeterControl | null = null
  let exports: Exports = {}
  const { instance } = await WebAssembly.instantiate(m.bytes, hostImports(seen, () => ctl, () => exports))
  exports = instance.exports as Exports
  ctl = m.fuel(instance)
  return {
    bytes: m.bytes,
    seen,
    profile: () => readProfile(instance),
    call(fn, args, budget = MAX_FUEL) {
      ctl!.set(budget)
      const result = outcome(() => {
        try { return exports[fn]!(...args) } catch (error) { ctl!.noteTrap(error); throw error }
      })
      return { outcome: result, used: ctl!.used(), exhausted: ctl!.exhausted(), memory: memoryOf(exports) }
    },
  }
}


interface Check {
  options?: MeterOptions
  /** Whether some helper passes the counter (else the plan or a tail call kept them all on the global). */
  passes?: boolean
  /** Compare with the unmetered module (off where depth limits change outcomes). */
  plain?: boolean
}

/** Meters `passingBytes` and `globalBytes` (the same program, helpers exported) and compares every call. */
async function compare(original: Uint8Array, passingBytes: Uint8Array, globalBytes: Uint8Array, calls: [string, unknown[]][], check: Check = {}): Promise<void> {
  const options = check.options ?? { fuel: 'unlimited' }
  const passing = await variant(passingBytes, options)
  const global = await variant(globalBytes, options)
  if (check.passes ?? true) expect(typeCount(passing.bytes), 'some helper passes the counter').toBeGreaterThan(typeCount(global.bytes))
  else expect(typeCount(passing.bytes), 'no helper passes the counter').toBe(typeCount(global.bytes))
  let plainExports: Exports = {}
  const plainSeen: string[] = []
  const plain = (await WebAssembly.instantiate(original, hostImports(plainSeen, () => null, () => plainExports))).instance
  plainExports = plain.exports as Exports
  for (const [fn, args] of calls) {
    const ctx = `${fn}(${args.join(', ')})`
    const a = passing.call(fn, args), b = global.call(fn, args)
    expect(a, ctx).toEqual(b)
    expect(passing.seen, ctx).toEqual(global.seen)
    if (options.profile) expect(passing.profile(), ctx).toEqual(global.profile())
    if (check.plain ?? (options.stackDepth === undefined)) {
      expect(a.outcome, ctx).toEqual(outcome(() => plainExports[fn]!(...args)))
      expect(a.memory, ctx).toBe(memoryOf(plainExports))
    }
    // The exhaustion point: exactly the fuel used completes; one less runs out, in both.
    if (a.used > 0n && !(options.metering === 'fast' && 'trap' in a.outcome)) {
      const exact = passing.call(fn, args, a.used), exactGlobal = global.call(fn, args, a.used)
      expect(exact, ctx).toEqual(exactGlobal)
      if ('ok' in a.outcome) expect(exact.exhausted, ctx).toBe(false)
      const short = passing.call(fn, args, a.used - 1n), shortGlobal = global.call(fn, args, a.used - 1n)
      // The memory too: the budget runs out at the same charge, with the same stores done.
      expect(short, ctx).toEqual(shortGlobal)
      expect(short.exhausted, ctx).toBe(true)
      expect(passing.seen, ctx).toEqual(global.seen)
    }
  }
}

async function expectSameMetering(text: string, calls: [string, unknown[]][], check: Check = {}): Promise<void> {
  const original = await wat(text)
  await compare(original, original, await wat(exportingHelpers(text)), calls, check)
}

const MODES: MeterOptions[] = [
  { fuel: 'unlimited' },
  { fuel: 'unlimited', metering: 'fast' },
  { fuel: 'unlimited', stackDepth: 50 },
  { fuel: 'unlimited', profile: true },
]

/** A helper with `params` i32 parameters and `locals` i64 locals that reads and writes the locals at `indices`. */
function boundaryHelper(params: number, locals: number, indices: number[]): string {
  const body = indices.map((i) => i < params
    ? `(local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get ${i}))))`
    : `(local.set ${i} (i64.add (local.get $acc) (i64.const ${i}))) (local.set $acc (i64.add (local.get $acc) (local.tee ${i} (i64.mul (local.get ${i}) (i64.const 3)))))`).join('\n')
  return `(func $hb (param ${'i32 '.repeat(params)}) (result i64) (local ${'i64 '.repeat(locals)}) (local $acc i64)
    ${body}
    (if (i32.eqz (local.get 0)) (then (unreachable) (local.set ${params} (local.tee ${params + locals - 1} (local.get $acc))) (drop (local.get ${params + locals}))))
    (local.get $acc))`
}

describe('red team: fuel passing agrees with the global counter', () => {
  it('locals renumbered across the one-byte boundary (126, 127, 128), with tee in dead code, for 0, 1, 125-128 parameters', async () => {
    for (const params of [1, 2, 125, 126, 127, 128]) {
      const locals = 260 - params
      const indices = [0, params - 1, 125, 126, 127, 128, 129, 200, params + locals - 1].filter((i) => i < params + locals)
      const args = Array.from({ length: params }, (_, i) => i + 1)
      await expectSameMetering(`(module ${boundaryHelper(params, locals, indices)}
        (func (export "run") (param i32) (result i64) (call $hb ${args.map((a, i) => i === 0 ? '(local.get 0)' : `(i32.const ${a})`).join(' ')})))`,
      [['run', [1]], ['run', [0]]])
    }
    // No parameters: the counter is local 0 and every declared local moves.
    await expectSameMetering(`(module
      (func $hz (result i64) (local i64 i32 f64) (local.set 0 (i64.const 5)) (local.set 1 (i32.const 6)) (local.set 2 (f64.const 7))
        (i64.add (local.get 0) (i64.add (i64.extend_i32_u (local.get 1)) (i64.trunc_f64_s (local.get 2)))))
      (func (export "run") (result i64) (i64.add (call $hz) (call $hz))))`,
    [['run', []]])
  })

  it('v128, funcref and externref parameters, locals and results', async () => {
    await expectSameMetering(`(module
      (table 2 funcref)
      (func $hv (param v128 funcref externref i32) (result v128 externref i32) (local v128 funcref externref)
        (local.set 4 (i32x4.add (local.get 0) (v128.const i32x4 1 2 3 4)))
        (local.set 5 (local.get 1)) (local.set 6 (local.get 2))
        (table.set (i32.const 1) (local.get 5))
        (local.get 4) (local.get 6) (i32.add (local.get 3) (i32x4.extract_lane 2 (local.get 4))))
      (func (export "run") (param i32) (result i32)
        (local $i i32) (local $e externref)
        (call $hv (i32x4.splat (local.get 0)) (ref.null func) (ref.null extern) (local.get 0))
        (local.set $i) (local.set $e)
        (i32.add (i32.add (i32x4.extract_lane 0) (local.get $i)) (ref.is_null (local.get $e))))
      (func (export "rec") (param i32) (result i32) (local v128)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
          (else (call $hv (local.get 1) (ref.null func) (ref.null extern) (local.get 0)) (drop) (drop) (drop)
            (i32.add (call $hr (i32.sub (local.get 0) (i32.const 1))) (i32.const 2)))))
      (func $hr (param i32) (result i32) (local v128 funcref) (i32.add (local.get 0) (i32.const 1))))`,
    [['run', [3]], ['run', [-1]], ['rec', [5]]])
  })

  it('multi-value blocks, br_table to the function label, unreachable after br_table, nested blocks', async () => {
    await expectSameMetering(`(module
      (func $hm (param i32) (result i32 i64) (local i32)
        (block $a (result i32 i64)
          (block $b (result i32 i64)
            (local.set 1 (i32.mul (local.get 0) (i32.const 7)))
            (br_table $a $b 2 $b (local.get 1) (i64.const 2) (i32.rem_u (local.get 0) (i32.const 4)))
            (unreachable) (local.tee 1 (i32.const 9)) (drop) (br 0 (i32.const 1) (i64.const 1)))
          (br_if 1 (i32.eq (local.get 0) (i32.const 6))) (drop) (drop) (local.get 1) (i64.const 4)))
      (func (export "run") (param i32) (result f64)
        (local $i i64)
        (call $hm (local.get 0)) (local.set $i)
        (f64.convert_i32_s) (f64.add (f64.convert_i64_s (local.get $i)))))`,
    [['run', [0]], ['run', [1]], ['run', [2]], ['run', [3]], ['run', [6]]])
  })

  it('a type shared by passing helpers, an export, an import and call_indirect', async () => {
    await expectSameMetering(`(module
      (type $t (func (param i32) (result i32)))
      (import "host" "look" (func $look (type $t)))
      (table 2 funcref)
      (elem (i32.const 0) $tabled $look)
      (func $tabled (type $t) (i32.mul (local.get 0) (i32.const 3)))
      (func $ha (type $t) (i32.add (call_indirect (type $t) (local.get 0) (i32.and (local.get 0) (i32.const 1))) (call $hb (local.get 0))))
      (func $hb (type $t) (local i32) (local.set 1 (i32.const 10)) (i32.add (local.get 0) (local.get 1)))
      (func (export "run") (type $t) (i32.add (call $ha (local.get 0)) (call $hb (local.get 0)))))`,
    [['run', [4]], ['run', [5]], ['run', [6]]])
  })

  it('exceptions from host functions and wasm throws, through passing frames: try/catch, catch_all, delegate, rethrow', async () => {
    await expectSameMetering(`(module
      (import "host" "boom" (func $boom (param i32) (result i32)))
      (tag $e (param i32))
      (func $hleaf (param i32) (result i32)
        (if (i32.gt_u (local.get 0) (i32.const 100)) (then (throw $e (i32.sub (local.get 0) (i32.const 100)))))
        (i32.add (call $boom (local.get 0)) (i32.const 1)))
      (func $hdeleg (param i32) (result i32)
        (try (result i32) (do (try (result i32) (do (call $hleaf (local.get 0))) (delegate 0))) (catch $e (drop) (i32.const 55))))
      (func $hrethrow (param i32) (result i32) (local i32)
        (try (result i32) (do (call $hdeleg (local.get 0)))
          (catch_all (local.set 1 (i32.const 3)) (rethrow 0))))
      (func $hcatch (param i32) (result i32) (local i32)
        (local.set 1 (i32.const 1))
        (try (do (local.set 1 (call $hrethrow (local.get 0))))
          (catch $e (local.set 1 (i32.add (i32.const 2000))))
          (catch_all (local.set 1 (i32.add (local.get 1) (i32.const 1000)))))
        (i32.add (local.get 1) (call $hleaf (i32.const 2))))
      (func (export "run") (param i32) (result i32) (call $hcatch (local.get 0)))
      (func (export "raw") (param i32) (result i32) (call $hrethrow (local.get 0))))`,
    [['run', [2]], ['run', [3]], ['run', [150]], ['raw', [4]], ['raw', [5]], ['raw', [151]]])
  })

  it('traps at every position in passing functions: first instruction, after a passing call in the same segment, in a loop nobody branches to, in if/else arms', async () => {
    const text = `(module
      (memory (export "mem") 1)
      (func $hfirst (param i32) (result i32) (i32.div_u (i32.const 7) (local.get 0)))
      (func $hinc (param i32) (result i32) (i32.store (i32.const 8) (local.get 0)) (i32.add (local.get 0) (i32.const 1)))
      (func $hafter (param i32) (result i32) (local i32)
        (local.set 1 (call $hinc (local.get 0)))
        (i32.store (i32.const 16) (local.get 1))
        (i32.load (i32.mul (local.get 1) (i32.const 8192))))
      (func $honce (param i32) (result i32) (local i32)
        (local.set 1 (call $hinc (local.get 0)))
        (loop (local.set 1 (i32.add (local.get 1) (i32.load (i32.mul (local.get 0) (i32.const 8192))))))
        (loop (local.set 1 (i32.add (local.get 1) (call $hinc (local.get 1))))
          (loop (local.set 1 (i32.div_s (local.get 1) (i32.sub (local.get 0) (i32.const 3))))))
        (local.get 1))
      (func $harms (param i32) (result i32)
        (if (result i32) (i32.and (local.get 0) (i32.const 1))
          (then (drop (call $hinc (local.get 0))) (i32.rem_s (i32.const 5) (i32.sub (local.get 0) (i32.const 5))))
          (else (call $hinc (i32.const 1)) (drop) (i32.trunc_f32_u (f32.convert_i32_s (i32.sub (i32.const 4) (local.get 0)))))))
      (func $hjoined (param i32) (result i32) (local i32) ;; the loop joins the charge before the call: the load's store must not
        (local.set 1 (call $hpure (local.get 0)))
        (loop (local.set 1 (i32.add (local.get 1) (i32.const 1))))
        (i32.load (i32.mul (local.get 1) (i32.const 8192))))
      (func $hpure (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func $hloopload (param i32) (result i32) (local i32) ;; the loop joins the charge before the call: its load's store stays in it
        (local.set 1 (call $hpure (local.get 0)))
        (loop (local.set 1 (i32.add (local.get 1) (i32.load (i32.mul (local.get 0) (i32.const 8192))))))
        (local.get 1))
      (func (export "loopload") (param i32) (result i32) (call $hloopload (local.get 0)))
      (func (export "joined") (param i32) (result i32) (call $hjoined (local.get 0)))
      (func $hunr (param i32) (result i32) (if (i32.eq (local.get 0) (i32.const 9)) (then (unreachable))) (local.get 0))
      (func (export "first") (param i32) (result i32) (call $hfirst (local.get 0)))
      (func (export "after") (param i32) (result i32) (call $hafter (local.get 0)))
      (func (export "once") (param i32) (result i32) (call $honce (local.get 0)))
      (func (export "arms") (param i32) (result i32) (call $harms (local.get 0)))
      (func (export "unr") (param i32) (result i32) (i32.add (call $hunr (local.get 0)) (call $hinc (local.get 0)))))`
    const calls: [string, unknown[]][] = [['first', [0]], ['first', [2]], ['after', [1]], ['after', [7]], ['once', [1]], ['once', [3]], ['once', [9]],
      ['arms', [5]], ['arms', [3]], ['arms', [2]], ['arms', [8]], ['unr', [9]], ['unr', [2]], ['joined', [1]], ['joined', [7]], ['loopload', [1]], ['loopload', [9]]]
    for (const options of MODES) await expectSameMetering(text, calls, { options })
  })

  it('passing recursion against stackDepth: the depth trap and the fuel at it', async () => {
    const text = `(module
      (import "host" "look" (func $look (param i32) (result i32)))
      (func $hdown (param i32) (result i32) (local i64)
        (if (result i32) (i32.eqz (local.get 0)) (then (call $look (i32.const 0)))
          (else (i32.add (call $hdown (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
      (func (export "run") (param i32) (result i32) (call $hdown (local.get 0))))`
    for (const depth of [1, 2, 10]) {
      await expectSameMetering(text, [['run', [0]], ['run', [depth - 2]], ['run', [depth - 1]], ['run', [depth]], ['run', [depth + 5]]].filter(([, [n]]) => (n as number) >= 0) as [string, unknown[]][],
        { options: { fuel: 'unlimited', stackDepth: depth }, plain: false })
    }
  })

  it('re-entrancy: a host function calls back into an export that calls passing functions', async () => {
    const text = `(module
      (import "host" "reenter" (func $reenter (param i32) (result i32)))
      (import "host" "look" (func $look (param i32) (result i32)))
      (func $hwork (param i32) (result i32) (local i32)
        (loop $l (local.set 1 (i32.add (local.get 1) (local.get 0)))
          (br_if $l (i32.lt_u (local.get 1) (i32.const 50))))
        (call $look (local.get 1)))
      (func $hmid (param i32) (result i32) (i32.add (call $hwork (local.get 0)) (call $reenter (local.get 0))))
      (func (export "inner") (param i32) (result i32) (if (result i32) (i32.eq (local.get 0) (i32.const 13)) (then (unreachable)) (else (call $hwork (i32.add (local.get 0) (i32.const 1))))))
      (func (export "run") (param i32) (result i32) (i32.add (call $hmid (local.get 0)) (call $hwork (i32.const 3)))))`
    for (const options of MODES) await expectSameMetering(text, [['run', [1]], ['run', [7]], ['run', [13]]], { options })
  })
})

describe('red team: the plan cannot be fooled into passing for a function reachable from outside', () => {
  const reachable: [string, string][] = [
    ['an element expression', '(table 1 funcref) (elem (i32.const 0) funcref (ref.func $hx)) (func (export "ind") (result i32) (call_indirect (result i32) (i32.const 0)))'],
    ['a declarative segment', '(table 1 funcref) (elem declare func $hx) (func (export "ind") (result i32) (table.set (i32.const 0) (ref.func $hx)) (call_indirect (result i32) (i32.const 0)))'],
    ['a passive segment', '(table 1 funcref) (elem $p func $hx) (func (export "ind") (result i32) (table.init $p (i32.const 0) (i32.const 0) (i32.const 1)) (call_indirect (result i32) (i32.const 0)))'],
    ['a global initialised with ref.func', '(table 1 funcref) (global $g funcref (ref.func $hx)) (func (export "ind") (result i32) (table.set (i32.const 0) (global.get $g)) (call_indirect (result i32) (i32.const 0)))'],
    ['two exports', '(func (export "ind") (result i32) (i32.const 0))'],
  ]
  for (const [how, extra] of reachable) {
    it(how, async () => {
      const text = `(module ${extra}
        (func $hx ${how === 'two exports' ? '(export "a") (export "b")' : ''} (result i32) (i32.const 41))
        (func (export "run") (result i32) (i32.add (call $hx) (call $hx))))`
      await expectSameMetering(text, [['run', []], ['ind', []]], { passes: false })
    })
  }
})

describe('red team: the start function', () => {
  it('is not passing, and a passing helper it calls is charged to the start', async () => {
    await expectSameMetering(`(module (global $n (mut i32) (i32.const 0))
      (func $hs (global.set $n (i32.add (global.get $n) (call $hone))))
      (func $hone (result i32) (i32.const 1))
      (start $hs)
      (func (export "run") (result i32) (call $hs) (global.get $n)))`, [['run', []]])
  })
})

describe('red team: tail calls', () => {
  it('return_call into a passing candidate, from one, return_call_indirect: metered without passing, exactly', async () => {
    for (const tail of [
      '(func (export "run") (param i32) (result i32) (return_call $hsq (local.get 0)))',
      '(func $hsq2 (param i32) (result i32) (return_call $hsq (local.get 0))) (func (export "run") (param i32) (result i32) (call $hsq2 (local.get 0)))',
      '(table 1 funcref) (elem (i32.const 0) $sqt) (func $sqt (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))) (func $hti (param i32) (result i32) (return_call_indirect (param i32) (result i32) (local.get 0) (i32.const 0))) (func (export "run") (param i32) (result i32) (call $hti (local.get 0)))',
    ]) {
      await expectSameMetering(`(module (func $hsq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))) ${tail}
        (func (export "other") (param i32) (result i32) (call $hsq (local.get 0))))`, [['run', [7]], ['other', [3]]], { passes: false })
    }
  })
})

/** try_table (exnref exception handling): Node 20 has none; newer engines run this test. */
const hasTryTable = WebAssembly.validate(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, 8, 1, 6, 0, 0x1f, 0x40, 0, 0x0b, 0x0b]))

describe('red team: try_table handlers that leave a passing function', () => {
  it.skipIf(!hasTryTable)('refund nothing the unwound frames charged (the module is metered without passing)', async () => {
    // $hcatch's handler branches to its own label: with the counter passed, it returned its
    // local copy from before the call, refunding all of $work's loop on every call.
    await expectSameMetering(`(module
      (tag $e)
      (func $work (export "work") (param i32) (local i32)
        (loop $l (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
        (throw $e))
      (func $hcatch (param i32) (try_table (catch_all 0) (call $work (local.get 0))))
      (func (export "run") (param i32) (result i32) (call $hcatch (local.get 0)) (call $hcatch (local.get 0)) (i32.const 1)))`,
    [['run', [10]], ['run', [1000]]], { passes: false })
  })
})

describe('red team: the meter stays linear', () => {
  it('thousands of multi-value types share one block type for their results (a lookup, not a scan per type)', async () => {
    // Each type (param i32) (result i32 i32) needs a `[] -> (i32 i32)` block type for its
    // wrapped body (passing functions, or depth counting). Looked up by a scan of the type
    // list, never finding the ones it had appended, it added one per type, in time quadratic
    // in the number of types (40000 types, 620 KB: 14 s). One is enough.
    const n = 3000
    const funcs = Array.from({ length: n }, (_, i) => `(type $t${i} (func (param i32) (result i32 i32))) (func $h${i} (type $t${i}) (local.get 0) (i32.const ${i}))`).join('\n')
    const calls = Array.from({ length: n }, (_, i) => `(drop (call $h${i} (local.get 0))) (drop)`).join(' ')
    const bytes = await wat(`(module ${funcs} (func (export "run") (param i32) ${calls}))`)
    const original = typeCount(bytes)
    const passing = meter(bytes, { fuel: 'unlimited' })
    expect(WebAssembly.validate(passing.bytes)).toBe(true)
    // original + one `[] -> (i32 i32)` + the passing type of each
    expect(typeCount(passing.bytes)).toBe(original + 1 + n)
    const depth = meter(bytes, { fuel: 'unlimited', stackDepth: 100 })
    expect(WebAssembly.validate(depth.bytes)).toBe(true)
    expect(typeCount(depth.bytes)).toBe(original + 1 + n)
    const { instance } = await WebAssembly.instantiate(depth.bytes)
    const ctl = depth.fuel(instance)
    ctl.set(1_000_000n)
    ;(instance.exports.run as (x: number) => void)(5)
    expect(ctl.used()).toBeGreaterThan(BigInt(n))
  })
})
