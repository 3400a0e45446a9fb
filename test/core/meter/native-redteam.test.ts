/**
 * Red team of the native body rewriter (core/meter/native/rewrite.c): it must give the
 * TypeScript rewriter's bytes for every valid module and option set, take no body it can do
 * back to TypeScript, never trap on what it is given, carry nothing from one module to the
 * next, and leave engine limits to the TypeScript rewriter's typed errors.
 *
 * - Random modules written byte by byte (random-wasm.ts: every opcode class the rewriter
 *   decodes, multi-value blocks, dead code after every kind of branch, multi-byte and padded
 *   immediates, thousands of types, many locals and globals), through `meter()` with random
 *   option sets; the output must validate.
 * - Instructions Node 20's engine lacks (try_table, exnref, typed references, br_on_null, call_ref,
 *   relaxed SIMD), and malformed bodies, through the code section directly
 *   (code-section-harness.ts), as `meter()`'s engine validation would not let them by.
 * - Generated programs run metered by each rewriter: the same results and fuel.
 * - Shapes built to hurt: deep nesting, nested loops a huge br_table leaves (took minutes
 *   in both rewriters before resolve() compressed its paths), a million edits, bodies and
 *   locals at the engine limits (passing used to push 49,995 locals, or 999,999 types, over
 *   them: refused though metering without passing fits), passing bodies at 2 KiB with
 *   renumbered locals crossing one LEB byte, a body larger than the native rewriter's 1 MiB
 *   window, and modules that leave it in odd states before one metered again (which must
 *   give what a fresh process gives).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { meter, type MeterOptions } from 'wasm-sandbox/core'
// The built files `wasm-sandbox/core` loads: one module instance, so the switch applies to it.
import { setNativeOutputRoom, useNativeRewriter } from '../../../dist/core/meter/native-rewriter.js'
import { ENGINE_FEATURES, randomModule, randomShape, type Features, type Shape } from './random-wasm.js'
import { rewriteCodeSection, type HarnessOptions } from './code-section-harness.js'
import { generateProgram } from './generate.js'
import { prng, REPO_ROOT, typeCount, wat } from './helpers.js'
import {
  assemble, body, bodySizes, concat, difference, ENGINE_LIMIT_BODY, expectSame, expectValid, IMPORT_F, inFreshProcess, leb,
  meterWith, name, randomOptions, repeat, resetTypeScriptBodies, runAll, section, typeScriptBodies, unwrapTypeScriptRewriter, vector, VOID,
  type Bytes,
} from './rewriter-compare.js'

afterAll(unwrapTypeScriptRewriter)
afterEach(() => {
  useNativeRewriter(true)
  setNativeOutputRoom(null)
})

describe('native rewriter red team', () => {
  it('random modules of every instruction class meter to the same bytes, all natively, and validate', () => {
    let compared = 0
    for (let seed = 0; seed < 420; seed++) {
      const shape = randomShape(seed)
      if (shape.paddingTypes > 200 && seed % 4 !== 0) shape.paddingTypes = 0 // thousands of types: a quarter of those drawn (they cost 80 ms a module)
      const m = randomModule(seed, ENGINE_FEATURES, shape)
      expect(WebAssembly.validate(m.bytes), `seed ${seed} generates a valid module`).toBe(true)
      const rand = prng(seed + 1)
      for (let k = 0; k < 2; k++) {
        const options = randomOptions(rand)
        const out = expectSame(m.bytes, options, `seed ${seed}`)
        expectValid(out, `seed ${seed} ${JSON.stringify(options)}`)
        compared++
      }
    }
    expect(compared).toBe(840)
  })

  it('every immediate padded to a non-minimal LEB128, 3-byte local indices, huge br_tables: the same bytes', () => {
    const shapes: [string, (s: Shape) => void][] = [
      ['padded', (s) => { s.padding = 1 }],
      ['16,400 locals', (s) => { s.extraLocals = 16_400; s.definedFuncs = 2; s.budget = 120 }],
      ['2,000-entry br_tables, deep', (s) => { s.maxTable = 2000; s.maxDepth = 40; s.budget = 3000 }],
      ['large bodies', (s) => { s.budget = 20_000; s.definedFuncs = 2 }],
    ]
    for (const [what, change] of shapes) {
      for (let seed = 5000; seed < 5012; seed++) {
        const shape = randomShape(seed)
        shape.paddingTypes = 0
        change(shape)
        const m = randomModule(seed, ENGINE_FEATURES, shape)
        const options = randomOptions(prng(seed))
        expectValid(expectSame(m.bytes, options, `${what} seed ${seed}`), `${what} seed ${seed}`)
      }
    }
  })

  it('instructions this engine lacks (try_table, exnref, typed references, call_ref, relaxed SIMD): the same code section', () => {
    const features: Features = { ...ENGINE_FEATURES, tryTable: true, typedRefs: true, callRef: true, relaxedSimd: true }
    let compared = 0
    for (let seed = 0; seed < 400; seed++) {
      const m = randomModule(seed, features)
      const rand = prng(seed + 2)
      for (let k = 0; k < 2; k++) {
        const options: HarnessOptions = { stackDepth: rand() < 0.5 ? 1 + Math.floor(rand() * 1000) : undefined, fast: rand() < 0.3, profile: rand() < 0.3, sharedFuel: rand() < 0.3 }
        resetTypeScriptBodies()
        const native = rewriteCodeSection(m.bytes, options, true)
        expect(typeScriptBodies(), `seed ${seed}: bodies left to TypeScript`).toBe(0)
        expect(difference(native, rewriteCodeSection(m.bytes, options, false)), `seed ${seed} ${JSON.stringify(options)}`).toBe('same')
        expect(typeof native, `seed ${seed}: ${String(native).slice(0, 200)}`).not.toBe('string')
        compared++
      }
    }
    expect(compared).toBe(800)
  })

  it('malformed bodies: the same bytes or the same error, and never a trap in the native rewriter', () => {
    const features: Features = { ...ENGINE_FEATURES, tryTable: true, typedRefs: true, callRef: true, relaxedSimd: true }
    let refused = 0, accepted = 0
    for (let seed = 0; seed < 300; seed++) {
      const m = randomModule(seed, features)
      const rand = prng(seed + 3)
      for (let k = 0; k < 4; k++) {
        const bytes = mutateBodies(m.bytes, rand)
        const options: HarnessOptions = { stackDepth: rand() < 0.5 ? 100 : undefined, fast: rand() < 0.3, profile: rand() < 0.3, sharedFuel: rand() < 0.3 }
        const native = rewriteCodeSection(bytes, options, true)
        expect(String(native), `seed ${seed}/${k}`).not.toMatch(/^NativeRewriterFailed/)
        expect(difference(native, rewriteCodeSection(bytes, options, false)), `seed ${seed}/${k} ${JSON.stringify(options)}`).toBe('same')
        if (typeof native === 'string') refused++
        else accepted++
      }
    }
    // Both kinds are exercised: some mutations keep a body well formed, most do not.
    expect(refused).toBeGreaterThan(300)
    expect(accepted).toBeGreaterThan(300)
  })

  it('generated programs run metered by either rewriter give the same results and fuel', async () => {
    for (let seed = 0; seed < 24; seed++) {
      const program = generateProgram(seed)
      const bytes = await wat(program.wat)
      const options: MeterOptions = { fuel: 'unlimited', ...(seed % 2 ? { stackDepth: 200 } : {}), ...(seed % 3 === 0 ? { metering: 'fast' as const } : {}) }
      useNativeRewriter(true)
      const native = meter(bytes, options)
      useNativeRewriter(false)
      const ts = meter(bytes, options)
      useNativeRewriter(true)
      const exported = program.functions.filter((f) => !f.internal)
      expect(runAll(native, exported, seed), `seed ${seed}`).toEqual(runAll(ts, exported, seed))
    }
  })

  describe('adversarial shapes', () => {
    it('nested loops a 65,520-target br_table leaves: the same bytes, in linear time (this was quadratic)', () => {
      // block { loop^D { i32.const 0; br_table D x 65,521 } } unreachable end: every target is a
      // path from the innermost loop header, whose segment joins D outer ones. With D = 500,000
      // the unfixed resolve() walked 65 billion steps (minutes); the test timeout is the check.
      const D = 500_000, targets = 65_520
      const code = concat([[0x02, 0x40], repeat([0x03, 0x40], D), [0x41, 0x00, 0x0e], leb(targets), repeat(leb(D), targets + 1), repeat([0x0b], D), [0x00, 0x0b, 0x0b]])
      const bytes = assemble({ types: [VOID], funcs: [0], exports: [['f', 0]], bodies: [body([], code)] })
      expect(WebAssembly.validate(bytes)).toBe(true)
      expectValid(expectSame(bytes, { fuel: 1e6 }, 'loops left by a br_table'), 'loops left by a br_table')
    })

    it('a million nested blocks; 100,000 nested loops, ifs; 50,000 nested legacy trys (catch_all, delegate)', () => {
      const n = 100_000
      const shapes: [string, Uint8Array][] = [
        ['blocks', concat([repeat([0x02, 0x40], 1_000_000), repeat([0x0b], 1_000_000), [0x0b]])],
        ['loops with br_if', concat([repeat([0x03, 0x40, 0x41, 0x00, 0x0d, 0x00], n), repeat([0x0b], n), [0x0b]])],
        ['if/else', concat([repeat([0x41, 0x01, 0x04, 0x40], n), repeat([0x05, 0x01, 0x0b], n), [0x0b]])],
        ['try/catch_all', concat([repeat([0x06, 0x40, 0x10, 0x00], n / 2), repeat([0x19, 0x10, 0x00, 0x0b], n / 2), [0x0b]])],
        ['try/delegate', concat([repeat([0x06, 0x40, 0x10, 0x00], n / 2), repeat([0x18, 0x00], n / 2), [0x0b]])],
      ]
      for (const [what, code] of shapes) {
        const bytes = assemble({ types: [VOID], imports: [IMPORT_F], funcs: [0], exports: [['g', 1]], bodies: [body([], code)] })
        expect(WebAssembly.validate(bytes), what).toBe(true)
        for (const options of [{ fuel: 1 }, { fuel: 1, stackDepth: 50, profile: true }] as MeterOptions[]) expectValid(expectSame(bytes, options, what), what)
      }
    })

    it('65,520-entry br_tables to every kind of label, live and in dead code, and 2 million entries past the engine limit', () => {
      // 30 labels: block, loop, if, try in turn; a br_table to all of them, then one in dead code.
      const frames = [[0x02, 0x40], [0x03, 0x40], [0x41, 0x01, 0x04, 0x40], [0x06, 0x40]]
      const opens = concat(Array.from({ length: 30 }, (_, i) => frames[i % 4]!))
      const table = (entries: number) => concat([[0x41, 0x07, 0x0e], leb(entries), Array.from({ length: entries + 1 }, (_, i) => (i * 7) % 31)])
      const code = concat([opens, table(65_520), table(65_520), repeat([0x0b], 30), [0x0b]])
      const bytes = assemble({ types: [VOID], funcs: [0], exports: [['f', 0]], bodies: [body([], code)] })
      expect(WebAssembly.validate(bytes)).toBe(true)
      for (const options of [{ fuel: 1 }, { fuel: 1, stackDepth: 9, metering: 'fast' }] as MeterOptions[]) expectValid(expectSame(bytes, options, 'br_tables'), 'br_tables')
      // Past the engine's 65,520 (the rewriters do not care): straight to the code section.
      const huge = assemble({ types: [VOID], funcs: [0], bodies: [body([], concat([opens, table(2_000_000), repeat([0x0b], 30), [0x0b]]))] })
      for (const options of [{}, { stackDepth: 3 }] as HarnessOptions[]) {
        const native = rewriteCodeSection(huge, options, true)
        expect(typeof native).not.toBe('string')
        expect(difference(native, rewriteCodeSection(huge, options, false))).toBe('same')
      }
    })

    it('750,000 edits (250,000 calls in a try): the same bytes under the body limit; 900,000, the same typed error over it', () => {
      // try { call $import x n } catch_all: per call a store, a depth restore, a reload and a
      // new segment (the callee may throw to the handler).
      const calls = (n: number) => assemble({
        types: [VOID], imports: [IMPORT_F], funcs: [0], exports: [['g', 1]],
        bodies: [body([], concat([[0x06, 0x40], repeat([0x10, 0x00], n), [0x19, 0x0b, 0x0b]]))],
      })
      const under = calls(250_000)
      expectValid(expectSame(under, { fuel: 1, stackDepth: 100 }, '250,000 calls'), '250,000 calls')
      const over = expectSame(calls(300_000), { fuel: 1, stackDepth: 100 }, '300,000 calls', false)
      expect(over).toMatch(/^INVALID_MODULE: function 1 would have 8,400,057 bytes of code once metered, above the engine limit of 7,654,321/)
    })

    it('a body metered to exactly the engine limit meters; one byte more is the same typed error on both paths', () => {
      const nops = (n: number) => assemble({ types: [VOID], funcs: [0], exports: [['f', 0]], bodies: [body([], repeat([0x01], n, [0x0b]))] })
      const probe = 7_654_000
      const metered = expectSame(nops(probe), { fuel: 1 }, 'nops')
      const overhead = bodySizes(metered as Uint8Array)[0]! - probe
      const atLimit = nops(ENGINE_LIMIT_BODY - overhead)
      expect(WebAssembly.validate(atLimit)).toBe(true)
      const out = expectSame(atLimit, { fuel: 1 }, 'at the limit')
      expect(bodySizes(out as Uint8Array)[0]).toBe(ENGINE_LIMIT_BODY)
      expectValid(out, 'at the limit')
      const over = expectSame(nops(ENGINE_LIMIT_BODY - overhead + 1), { fuel: 1 }, 'one over', false)
      expect(over).toBe(`INVALID_MODULE: function 0 would have 7,654,322 bytes of code once metered, above the engine limit of 7,654,321`)
    })

    it('a body metered to exactly the engine limit when the native output buffer runs out in its last bytes: done natively', () => {
      // Body 0: P nops; body 1: N nops and 50 calls, metered to 7,654,321 bytes. With 8 MiB of
      // output room reserved, body 1 fills it up to its last call when body 0's output is
      // 734,180 bytes: room for the final edit was refused there, as if the 5 bytes kept for
      // the size were the body's (the TypeScript rewriter then did it: the same bytes, at its
      // speed).
      const calls = 50
      const twoBodies = (p: number, n: number) => assemble({
        types: [VOID], funcs: [0, 0], exports: [['a', 0], ['b', 1]],
        bodies: [body([], repeat([0x01], p, [0x0b])), body([], concat([repeat([0x01], n), repeat([0x10, 0x00], calls), [0x0b]]))],
      })
      setNativeOutputRoom(8 << 20)
      const probe = bodySizes(meter(twoBodies(1000, 7_653_000), { fuel: 1 }).bytes)
      const n = 7_653_000 + ENGINE_LIMIT_BODY - probe[1]!
      const p = 734_180 - 3 - (probe[0]! - 1000) // body 0's output: a 3-byte size, then its content
      const out = expectSame(twoBodies(p, n), { fuel: 1 }, 'the last bytes')
      expect(bodySizes(out as Uint8Array)).toEqual([734_178, ENGINE_LIMIT_BODY])
    })

    it('locals at the engine limit: 49,995 meter (a passing function too), 49,996 are the same typed error on both paths', () => {
      // f0 (exported) calls f1 (internal: it would pass the counter) with `locals` locals.
      const withLocals = (locals: number) => assemble({
        types: [VOID], funcs: [0, 0], exports: [['f', 0]],
        bodies: [body([], [0x10, 0x01, 0x0b]), body([[locals, 0x7f]], [0x20, ...leb(locals - 1), 0x1a, 0x0b])],
      })
      for (const options of [{ fuel: 1 }, { fuel: 1, stackDepth: 10 }] as MeterOptions[]) {
        for (const locals of [49_993, 49_994, 49_995]) expectValid(expectSame(withLocals(locals), options, `${locals} locals`), `${locals} locals`)
        const over = expectSame(withLocals(49_996), options, '49,996 locals', false)
        expect(over).toBe('INVALID_MODULE: function 1 would have 50,001 locals once metered, above the engine limit of 50,000')
      }
    })

    it('999,999 types and a passing function of multi-value type: metered without passing, not refused', () => {
      // Passing would add two types (its signature with the counter, a block type for its
      // results): 1,000,001, over the engine limit, so the module is metered without passing.
      // In a process of its own: the engine validates a million types in 0.2 s in a fresh
      // process and ten times slower once it has compiled the thousands of modules above.
      const types = concat([leb(999_999), [0x60, 0x01, 0x7f, 0x02, 0x7f, 0x7e], repeat(VOID, 999_998)])
      const bytes = assemble({
        types, funcs: [0, 1], exports: [['f', 1]],
        bodies: [body([], [0x00, 0x0b]), body([], [0x41, 0x00, 0x10, 0x00, 0x1a, 0x1a, 0x0b])],
      })
      const script = `import { meter } from ${JSON.stringify(join(REPO_ROOT, 'dist/core/index.js'))}; import { readFileSync } from 'node:fs'
        const bytes = readFileSync(process.argv[1]), out = meter(bytes, { fuel: 1 }).bytes
        let p = 9, types = 0, shift = 0, b // the type section comes first: its size, then its count
        while (out[p++] & 0x80);
        do { b = out[p++]; types |= (b & 0x7f) << shift; shift += 7 } while (b & 0x80)
        console.log(JSON.stringify({ input: WebAssembly.validate(bytes), output: WebAssembly.validate(out), types }))`
      expect(JSON.parse(inFreshProcess(bytes, script))).toEqual({ input: true, output: true, types: 999_999 })
    })

    it('passing bodies of 2,047, 2,048 and 2,049 bytes whose renumbered locals cross from one LEB byte to two', async () => {
      // $h's locals 124-127 move up by one (two with stackDepth): 127 -> 128/129 takes a second
      // byte, 125 -> 126/127 does not. Padded to the size with nops.
      const source = (nops: number) => `(module
        (global $g (mut i32) (i32.const 0))
        (func $h (param i32 i32) (result i32) (local i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (local i64 f64) ${'(local i32) '.repeat(114)}
          (local.set 124 (local.get 0)) (local.set 125 (i32.const 5)) (local.set 126 (local.get 1)) (local.set 127 (global.get $g))
          (block $out (loop $l
            (br_if $out (i32.eqz (local.get 127)))
            (local.set 127 (i32.sub (local.get 127) (i32.const 1)))
            (if (i32.eq (local.get 125) (i32.const 3)) (then (return (local.get 126))))
            (br $l)))
          ${'(nop) '.repeat(nops)}
          (i32.add (local.get 124) (i32.add (local.get 125) (local.get 126))))
        (func (export "f") (param i32) (result i32) (call $h (local.get 0) (i32.const 2))))`
      const base = bodySizes(await wat(source(0)))[0]!
      for (const size of [2047, 2048, 2049]) {
        const bytes = await wat(source(size - base))
        expect(bodySizes(bytes)[0]).toBe(size)
        for (const options of [{ fuel: 1 }, { fuel: 1, stackDepth: 30 }, { fuel: 1, sharedFuel: true, profile: true }] as MeterOptions[]) {
          const out = expectSame(bytes, options, `${size}-byte $h`)
          expectValid(out, `${size}-byte $h`)
          // Passing adds $h's type: at 2,048 bytes and under only.
          expect(typeCount(out as Uint8Array) > typeCount(bytes), `${size}-byte $h passes`).toBe(size <= 2048)
        }
      }
    })

    it('sharedFuel: globals 126, 127 and 128 move up one (one byte, one byte, a second byte), and imported ones stay', () => {
      const globals = Array.from({ length: 130 }, () => [0x7f, 0x01, 0x41, 0x00, 0x0b])
      const imports = [IMPORT_F, [...name('env'), ...name('g'), 0x03, 0x7f, 0x01]]
      // reads and writes globals 0 (imported), 126, 127, 128, 129, with indices minimal and padded
      const code: number[] = []
      for (const g of [0, 126, 127, 128, 129]) for (const pad of [0, 2]) code.push(0x23, ...leb(g, pad), 0x24, ...leb(g, pad))
      code.push(0x10, 0x00, 0x0b)
      const bytes = assemble({ types: [VOID], imports, funcs: [0], globals, exports: [['h', 1]], bodies: [body([], code)] })
      expect(WebAssembly.validate(bytes)).toBe(true)
      for (const options of [{ fuel: 1, sharedFuel: true }, { fuel: 1, sharedFuel: true, stackDepth: 4, profile: true }] as MeterOptions[]) {
        expectValid(expectSame(bytes, options, 'shared fuel'), 'shared fuel')
      }
    })

    it('bodies larger than the native rewriter\'s 1 MiB window, and a code section of many that straddle it', () => {
      // A loop of calls, local and memory traffic: 28 bytes, repeated.
      const unit = [0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x10, 0x00, 0x41, 0x00, 0x20, 0x00, 0x36, 0x02, 0x00, 0x23, 0x00, 0x41, 0x01, 0x6a, 0x24, 0x00, 0x0b]
      const big = body([[1, 0x7f]], repeat(unit, 45_000, [0x0b])) // 1.26 MB
      const mid = body([[1, 0x7f]], repeat(unit, 11_000, [0x0b])) // 300 KB
      const bytes = assemble({
        types: [VOID], imports: [IMPORT_F], funcs: [0, 0, 0, 0, 0, 0, 0, 0], memory: true, globals: [[0x7f, 0x01, 0x41, 0x00, 0x0b]],
        exports: [['a', 1]], bodies: [mid, big, mid, mid, mid, mid, big, mid],
      })
      expect(WebAssembly.validate(bytes)).toBe(true)
      for (const options of [{ fuel: 1 }, { fuel: 1, stackDepth: 1000, profile: true, metering: 'fast' }] as MeterOptions[]) expectValid(expectSame(bytes, options, 'big bodies'), 'big bodies')
    })

    it('a real multi-megabyte binary (the code section moves through the window; output in its reserved room, or outgrowing a small one)', () => {
      const bytes = new Uint8Array(readFileSync(join(REPO_ROOT, 'node_modules/@bytecodealliance/jco-transpile/vendor/js-component-bindgen-component.core.wasm')))
      for (const room of [null, 1 << 16]) {
        setNativeOutputRoom(room)
        for (const options of [{ fuel: 1 }, { fuel: 1, stackDepth: 5000, profile: true, sharedFuel: true }] as MeterOptions[]) expectSame(bytes, options, `js-component-bindgen, room ${room}`)
      }
    })

    it('nothing carries over: a module meters the same after one that failed, one that could not pass, one that outgrew the kept memory', async () => {
      const a = await wat(generateProgram(11).wat)
      const optionsA: MeterOptions = { fuel: 5, stackDepth: 77, profile: true }
      const first = meterWith(true, a, optionsA)
      expect(difference(first, meterWith(false, a, optionsA))).toBe('same')
      const breakers: [string, Uint8Array, MeterOptions][] = [
        // body 2 of 2 crosses the locals limit: the first is rewritten natively, then TypeScript throws
        ['failed', assemble({ types: [VOID], funcs: [0, 0], exports: [['f', 0], ['g', 1]], bodies: [body([[3, 0x7e]], [0x01, 0x0b]), body([[49_996, 0x7f]], [0x0b])] }), { fuel: 1, metering: 'fast' }],
        // a passing function tail-calls: the module is redone without passing
        ['not passing', await wat('(module (func $h (param i32) (result i32) (return_call $k (local.get 0))) (func $k (param i32) (result i32) (local.get 0)) (func (export "f") (param i32) (result i32) (call $h (local.get 0))))'), { fuel: 1, sharedFuel: true }],
        // 2 million nested loops: the native rewriter's memory passes the 16 MiB it keeps
        ['outgrown', assemble({ types: [VOID], funcs: [0], bodies: [body([], concat([repeat([0x03, 0x40], 2_000_000), repeat([0x0b], 2_000_000), [0x0b]]))] }), { fuel: 1, stackDepth: 3 }],
        ['random', randomModule(77).bytes, { fuel: 9, deferStart: true, sharedFuel: true }],
      ]
      for (const [what, bytes, options] of breakers) {
        expectSame(bytes, options, what, what !== 'failed')
        expect(difference(meterWith(true, a, optionsA), first), `after ${what}`).toBe('same')
      }
      // And what a process that meters nothing else gives.
      const script = `import { meter } from ${JSON.stringify(join(REPO_ROOT, 'dist/core/index.js'))}; import { readFileSync } from 'node:fs'
        process.stdout.write(Buffer.from(meter(readFileSync(process.argv[1]), ${JSON.stringify(optionsA)}).bytes).toString('base64'))`
      expect(difference(new Uint8Array(Buffer.from(inFreshProcess(a, script), 'base64')), first), 'a fresh process').toBe('same')
    })
  })
})

// ---- malformed bodies ----

/** The module with one body of its code section mutated (a byte changed, added, removed; cut short; a control opcode or 0xff run put in). */
function mutateBodies(bytes: Uint8Array, rand: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rand() * n)
  let p = 8
  const read = (): number => { let v = 0, s = 0, b: number; do { b = bytes[p++]!; v += (b & 0x7f) * 2 ** s; s += 7 } while (b & 0x80); return v }
  const parts: Bytes[] = [bytes.subarray(0, 8)]
  while (p < bytes.length) {
    const start = p, id = bytes[p++]!, size = read(), end = p + size
    if (id !== 10) { parts.push(bytes.subarray(start, end)); p = end; continue }
    const bodies: number[][] = []
    for (let n = read(); n > 0; n--) { const s = read(); bodies.push(Array.from(bytes.subarray(p, p + s))); p += s }
    const b = bodies[int(bodies.length)]!
    const at = int(b.length)
    switch (int(6)) {
      case 0: b[at] = int(256); break
      case 1: b.splice(at, 0, int(256)); break
      case 2: b.splice(at, 1); break
      case 3: b.length = at; break
      case 4: b[at] = [0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0b, 0x0c, 0x0e, 0x18, 0x19, 0x1f, 0x10, 0x20, 0x23, 0xfc, 0xfd, 0xfe, 0x80, 0xff][int(20)]!; break
      case 5: for (let i = 0; i < 8; i++) b[Math.min(b.length - 1, at + i)] = 0xff; break
    }
    parts.push(section(10, vector(bodies.map((x) => concat([leb(x.length), x])))))
    p = end
  }
  return concat(parts)
}
