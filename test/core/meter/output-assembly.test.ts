/**
 * Red team of `meter()`'s output assembly (core/meter/module-output.ts, the native rewriter's
 * kept output in core/meter/native-rewriter.ts and native/rewrite.c, `rewriteBodies`' pieces):
 * the result is put together once, from small writers, views of the caller's input (sections
 * copied as they are, from 4,096 bytes) and views of the native rewriter's wasm memory (its
 * output, kept there until the section ends, in room reserved up front for twice the section).
 *
 * - Byte identity with the TypeScript rewriter: output rooms from 1 byte to the default, and at
 *   every body boundary of the output (±1); bodies the native rewriter leaves to TypeScript
 *   interleaved with its own, in every pattern; output that outgrows the room on its own (tiny
 *   bodies grow 20x metered); custom, data and data-count sections around the code section at
 *   4,095/4,096/4,097 bytes and large; modules without a code section; every option.
 * - No aliasing: results held while later calls meter bigger, smaller, failing modules, ones
 *   the native rewriter traps on (its instance dropped) and ones that take its memory past what
 *   it keeps; each result has an exact-size buffer of its own, and does not see later writes
 *   to the caller's input.
 * - The results run like the TypeScript path's (generated programs: results and fuel).
 * - Malformed input after the code section: `INVALID_MODULE` on both paths, and the next call
 *   meters as before.
 * - The kept memory and its release timer (real time), and a Node process (and a worker) that
 *   meters a large module and ends: it exits.
 *
 * Bodies the native rewriter declines: with a valid module it declines only bodies over an
 * engine limit, which the TypeScript rewriter then refuses too (the module fails). To put
 * TypeScript-rewritten bodies between native ones in a module that meters, `NativeBodies.rewrite`
 * is wrapped to answer 'failed' for chosen bodies without running: what the native rewriter
 * does when it declines a body (its output is left as it was before the body).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { meter, SandboxError, type MeterOptions, type MeterResult } from 'wasm-sandbox/core'
// The built files `wasm-sandbox/core` loads: one module instance, so the switches apply to it.
import { NativeBodies, nativeRewriterLoaded, setNativeOutputRoom, useNativeRewriter } from '../../../dist/core/meter/native-rewriter.js'
import { randomModule, randomShape } from './random-wasm.js'
import { generateProgram } from './generate.js'
import { prng, REPO_ROOT, wat } from './helpers.js'
import {
  assemble, body, bodySizes, concat, difference, ENGINE_LIMIT_BODY, expectSame, expectValid, IMPORT_F, leb, meterWith, name,
  randomOptions, repeat, resetTypeScriptBodies, runAll, section, typeScriptBodies, unwrapTypeScriptRewriter, vector, VOID,
  type Outcome,
} from './rewriter-compare.js'

// ---- bodies the native rewriter declines, chosen by the test ----

/** Given a body's offset in the code section: whether the native rewriter declines it (null: none). */
let declines: ((start: number) => boolean) | null = null
let declined = 0
const rewriteNatively = NativeBodies.prototype.rewrite
NativeBodies.prototype.rewrite = function (this: NativeBodies, ...args: Parameters<NativeBodies['rewrite']>) {
  if (declines?.(args[0])) { declined++; return 'failed' }
  return rewriteNatively.apply(this, args)
}
afterAll(() => {
  NativeBodies.prototype.rewrite = rewriteNatively
  unwrapTypeScriptRewriter()
})
afterEach(() => {
  declines = null
  useNativeRewriter(true)
  setNativeOutputRoom(null)
})

const PATTERNS: [string, (starts: number[]) => (start: number) => boolean][] = [
  ['the first', (s) => (x) => x === s[0]],
  ['the last', (s) => (x) => x === s[s.length - 1]],
  ['every other', (s) => (x) => s.indexOf(x) % 2 === 1],
  ['all', () => () => true],
  ['all but the middle one', (s) => (x) => x !== s[s.length >> 1]],
  ['every third, from the second', (s) => (x) => s.indexOf(x) % 3 === 1],
  ['all but the first two', (s) => (x) => s.indexOf(x) > 1],
]

/** Where each body's local declarations start in the input's code section, as `NativeBodies.rewrite` gets them (from past the body count). */
function bodyStarts(bytes: Uint8Array): number[] {
  let p = 8
  const read = (): number => { let v = 0, s = 0, b: number; do { b = bytes[p++]!; v += (b & 0x7f) * 2 ** s; s += 7 } while (b & 0x80); return v }
  while (p < bytes.length) {
    const id = bytes[p++]!, size = read(), end = p + size
    if (id === 10) {
      const starts: number[] = []
      let n = read()
      const bodiesStart = p // past the count, as `rewriteBodies` gets it
      for (; n > 0; n--) { const s = read(); starts.push(p - bodiesStart); p += s }
      return starts
    }
    p = end
  }
  return []
}

/** Meters natively with `room` bytes of output room reserved and `decline` choosing bodies left to TypeScript. */
function meterNatively(bytes: Uint8Array, options: MeterOptions, room: number | null, decline: ((start: number) => boolean) | null = null): Outcome {
  setNativeOutputRoom(room)
  declines = decline
  declined = 0
  try {
    return meterWith(true, bytes, options)
  } finally {
    declines = null
    setNativeOutputRoom(null)
  }
}

/** Output offsets where the native rewriter's output ends a body (its sized bodies, without the count). */
function bodyBoundaries(metered: Uint8Array): number[] {
  const ends: number[] = []
  let at = 0
  for (const size of bodySizes(metered)) { at += leb(size).length + size; ends.push(at) }
  return ends
}

function expectOwnBuffer(bytes: Uint8Array, what: string): void {
  expect(bytes.buffer.byteLength, `${what}: an exact-size buffer`).toBe(bytes.length)
  expect(bytes.byteOffset, what).toBe(0)
}

// ---- modules ----

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
const CUSTOM = 0, TYPE = 1, FUNCTION = 3, MEMORY = 5, EXPORT = 7, CODE = 10, DATA = 11, DATA_COUNT = 12

/** A custom section of exactly `total` bytes (id and size included), its payload a pattern of `seed`. */
function customSection(total: number, seed: number): Uint8Array {
  for (let sizeBytes = 1; sizeBytes <= 5; sizeBytes++) {
    const size = total - 1 - sizeBytes
    if (leb(size).length !== sizeBytes) continue
    const label = name(`c${seed}`)
    const payload = Array.from({ length: size - label.length }, (_, i) => (i * 31 + seed) & 0xff)
    return section(CUSTOM, [...label, ...payload])
  }
  throw new Error(`no custom section of ${total} bytes`)
}

/** A data section of exactly `total` bytes holding one active segment at address 0 (payload: a pattern of `seed`). */
function dataSection(total: number, seed: number): { section: Uint8Array; payload: Uint8Array } {
  for (let sizeBytes = 1; sizeBytes <= 5; sizeBytes++) {
    const size = total - 1 - sizeBytes
    if (leb(size).length !== sizeBytes) continue
    for (let lengthBytes = 1; lengthBytes <= 5; lengthBytes++) {
      const length = size - 1 - 4 - lengthBytes // count, [0x00 i32.const 0 end], length
      if (length < 0 || leb(length).length !== lengthBytes) continue
      const payload = Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff)
      return { section: section(DATA, concat([[0x01, 0x00, 0x41, 0x00, 0x0b], leb(length), payload])), payload }
    }
  }
  throw new Error(`no data section of ${total} bytes`)
}

/** A loop of calls, local and memory traffic: 28 bytes. */
const UNIT = [0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x10, 0x00, 0x41, 0x00, 0x20, 0x00, 0x36, 0x02, 0x00, 0x23, 0x00, 0x41, 0x01, 0x6a, 0x24, 0x00, 0x0b]

/**
 * Custom sections around everything, a data count section, a code section of bodies of
 * `unitsPerBody` units each (each exported), and a data section: `custom` and `data` give
 * their byte sizes (0: none).
 */
function sectionedModule(custom: number, data: number, unitsPerBody: number[], seed = 1): { bytes: Uint8Array; payload: Uint8Array | null } {
  const pages = Math.max(1, Math.ceil((data + 1) / 65536))
  const d = data ? dataSection(data, seed) : null
  const c = (k: number) => (custom ? customSection(custom + k, seed + k) : [])
  const funcs = unitsPerBody.length
  const bytes = concat([
    HEADER, c(0),
    section(TYPE, vector([VOID])),
    section(2, vector([IMPORT_F])), c(1),
    section(FUNCTION, vector(unitsPerBody.map(() => [0x00]))),
    section(MEMORY, [0x01, 0x00, ...leb(pages)]),
    section(6, vector([[0x7f, 0x01, 0x41, 0x00, 0x0b]])),
    section(EXPORT, vector([...Array.from({ length: funcs }, (_, i) => [...name(`f${i}`), 0x00, ...leb(i + 1)]), [...name('memory'), 0x02, 0x00]])), c(2),
    d ? section(DATA_COUNT, [0x01]) : [], c(3),
    section(CODE, vector(unitsPerBody.map((n) => body([[1, 0x7f]], repeat(UNIT, n, [0x0b]))))), c(4),
    d ? d.section : [], c(5),
  ])
  return { bytes, payload: d?.payload ?? null }
}

/** `n` bodies that do nothing: metered with stackDepth and profile, each grows about twentyfold (past the room reserved). */
function tinyBodies(n: number): Uint8Array {
  return assemble({ types: [VOID], funcs: Array.from({ length: n }, () => 0), exports: [['f', 0], ['g', n - 1]], bodies: Array.from({ length: n }, (_, i) => body(i % 3 ? [] : [[1, 0x7e]], i % 2 ? [0x01, 0x0b] : [0x0b])) })
}

/** The module's sections as [id, content] (content without id and size). */
function sections(bytes: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = []
  let p = 8
  const read = (): number => { let v = 0, s = 0, b: number; do { b = bytes[p++]!; v += (b & 0x7f) * 2 ** s; s += 7 } while (b & 0x80); return v }
  while (p < bytes.length) { const id = bytes[p++]!, size = read(); out.push([id, bytes.subarray(p, p + size)]); p += size }
  return out
}

const OPTION_SETS: MeterOptions[] = [
  { fuel: 1 },
  { fuel: 1e9, sharedFuel: true },
  { fuel: 5, profile: true },
  { fuel: 5, stackDepth: 100 },
  { fuel: 5, deferStart: true },
  { fuel: 5, metering: 'fast' },
  { fuel: 5, sharedFuel: true, profile: true, stackDepth: 3, deferStart: true, metering: 'fast' },
]

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('meter() output assembly', () => {
  describe('byte identity with the TypeScript path', () => {
    it('random modules, every option, output rooms of 1, 100, 65,536 and 65,537 bytes and the default', () => {
      let compared = 0
      for (let seed = 0; seed < 60; seed++) {
        const shape = randomShape(seed)
        shape.paddingTypes = 0
        const m = randomModule(seed, undefined, shape)
        const rand = prng(seed + 7)
        const options = seed % 2 ? randomOptions(rand) : OPTION_SETS[seed % OPTION_SETS.length]!
        const ts = meterWith(false, m.bytes, options)
        expectValid(ts, `seed ${seed}`)
        for (const room of [null, 1, 100, 65_536, 65_537]) {
          resetTypeScriptBodies()
          const native = meterNatively(m.bytes, options, room)
          expect(difference(native, ts), `seed ${seed}, room ${room} ${JSON.stringify(options)}`).toBe('same')
          expect(typeScriptBodies(), `seed ${seed}: all bodies native`).toBe(0)
          expectOwnBuffer(native as Uint8Array, `seed ${seed}`)
          compared++
        }
      }
      expect(compared).toBe(300)
    })

    it('output rooms ending exactly at, one byte before and one after every body of the output, and mid-body', () => {
      // Bodies of 1 to 1,500 units (28 bytes to 42 KB), then a large one past the 1 MiB window.
      const units = [3, 1, 40, 1500, 1, 1, 700, 2, 9, 45_000, 5]
      const { bytes } = sectionedModule(100, 5000, units)
      expect(WebAssembly.validate(bytes)).toBe(true)
      for (const options of [{ fuel: 1 }, { fuel: 1, stackDepth: 9, profile: true }] as MeterOptions[]) {
        const ts = meterWith(false, bytes, options) as Uint8Array
        expectValid(ts, 'bodies')
        const rooms = new Set<number>([0, 1, 7, 8, 9])
        let previous = 0
        for (const end of bodyBoundaries(ts)) {
          for (const room of [end - 1, end, end + 1, (previous + end) >> 1, end + 5, end + 96 + 8]) rooms.add(room)
          previous = end
        }
        for (const room of rooms) {
          resetTypeScriptBodies()
          expect(difference(meterNatively(bytes, options, room), ts), `room ${room} ${JSON.stringify(options)}`).toBe('same')
          expect(typeScriptBodies(), `room ${room}: all native`).toBe(0)
        }
      }
    })

    it('bodies left to TypeScript between native ones, in every pattern, with every room: the same bytes', async () => {
      const modules: [string, Uint8Array][] = [
        ['sectioned', sectionedModule(4096, 4097, [3, 1, 40, 1500, 1, 700, 2, 9, 5]).bytes],
        ['tiny bodies', tinyBodies(500)],
        ...Array.from({ length: 60 }, (_, i) => i).map((seed) => [`random ${seed}`, randomModule(seed).bytes] as [string, Uint8Array]).filter(([, bytes]) => bodyStarts(bytes).length >= 4).slice(0, 2),
        ...(await Promise.all([5, 6, 7, 8, 9].map(async (seed) => [`generated ${seed}`, await wat(generateProgram(seed).wat)] as [string, Uint8Array]))).filter(([, bytes]) => bodyStarts(bytes).length >= 4).slice(0, 1),
      ]
      let compared = 0
      for (const [what, bytes] of modules) {
        const starts = bodyStarts(bytes)
        expect(starts.length, what).toBeGreaterThanOrEqual(4)
        for (const options of [{ fuel: 3 }, { fuel: 3, stackDepth: 40, profile: true, sharedFuel: true }] as MeterOptions[]) {
          const ts = meterWith(false, bytes, options)
          expectValid(ts, what)
          const boundaries = bodyBoundaries(ts as Uint8Array)
          for (const [pattern, make] of PATTERNS) {
            for (const room of [null, 1, 100, 65_536, boundaries[0]!, boundaries[1]! + 1, boundaries[boundaries.length >> 1]! - 1]) {
              resetTypeScriptBodies()
              const native = meterNatively(bytes, options, room, make(starts))
              const label = `${what}, ${pattern} declined, room ${room} ${JSON.stringify(options)}`
              expect(difference(native, ts), label).toBe('same')
              expect(declined, label).toBeGreaterThan(0)
              expect(typeScriptBodies(), `${label}: each declined body rewritten once in TypeScript`).toBe(declined)
              compared++
            }
          }
        }
      }
      expect(compared).toBe(5 * 2 * PATTERNS.length * 7)
    })

    it('output that outgrows the room reserved on its own: 20,000 tiny bodies with stackDepth and profile', () => {
      const bytes = tinyBodies(20_000)
      for (const options of [{ fuel: 1, stackDepth: 1000, profile: true }, { fuel: 1, stackDepth: 7, sharedFuel: true, metering: 'fast' }] as MeterOptions[]) {
        const native = expectSame(bytes, options, 'tiny bodies')
        expectValid(native, 'tiny bodies')
        const code = sections(native as Uint8Array).find(([id]) => id === CODE)![1]
        const input = sections(bytes).find(([id]) => id === CODE)![1]
        // The scenario: the output is well past the 2x room (plus 64 KiB) reserved for it.
        expect(code.length, JSON.stringify(options)).toBeGreaterThan(2 * input.length + 65_536)
      }
    })

    it('custom, data and data-count sections before and after the code section, 0 to 300 KB, views and copies: kept byte for byte', () => {
      const sizes = [0, 20, 4095, 4096, 4097, 300_000]
      for (const custom of sizes) {
        for (const data of sizes) {
          if (data > 0 && data < 12) continue
          const { bytes, payload } = sectionedModule(custom, data, [2, 200, 1])
          expect(WebAssembly.validate(bytes), `custom ${custom}, data ${data}`).toBe(true)
          for (const options of [OPTION_SETS[0]!, OPTION_SETS[OPTION_SETS.length - 1]!]) {
            const out = expectSame(bytes, options, `custom ${custom}, data ${data}`) as Uint8Array
            expectValid(out, `custom ${custom}, data ${data}`)
            expectOwnBuffer(out, `custom ${custom}, data ${data}`)
            // Every custom and data section is in the output as it was in the input, in order.
            const kept = (m: Uint8Array) => sections(m).filter(([id]) => id === CUSTOM || id === DATA || id === DATA_COUNT).map(([id, c]) => `${id}:${Buffer.from(c).toString('base64')}`)
            expect(kept(out), `custom ${custom}, data ${data}`).toEqual(kept(bytes))
            if (payload && options.sharedFuel !== true) {
              // And the segment lands in memory.
              const instance = new WebAssembly.Instance(new WebAssembly.Module(out as BufferSource), { env: { f: () => {} } })
              const memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer, 0, payload.length)
              expect(difference(memory.slice(), payload)).toBe('same')
            }
          }
        }
      }
    })

    it('modules without a code section (or an empty one): the same bytes, valid, in a buffer of their own', () => {
      const { section: data } = dataSection(5000, 3)
      const modules: [string, Uint8Array][] = [
        ['header only', new Uint8Array(HEADER)],
        ['a custom section', concat([HEADER, customSection(5000, 1)])],
        ['small custom sections', concat([HEADER, customSection(40, 1), customSection(4095, 2)])],
        ['memory and data', concat([HEADER, section(MEMORY, [0x01, 0x00, 0x01]), data, customSection(4096, 4)])],
        ['imports and exports only', concat([HEADER, section(TYPE, vector([VOID])), section(2, vector([IMPORT_F])), section(EXPORT, vector([[...name('f'), 0x00, 0x00]]))])],
        ['an empty code section', concat([HEADER, section(CODE, [0x00]), customSection(4097, 5)])],
        ['an empty function and code section', concat([HEADER, section(TYPE, vector([VOID])), section(FUNCTION, [0x00]), section(CODE, [0x00])])],
      ]
      for (const [what, bytes] of modules) {
        expect(WebAssembly.validate(bytes), what).toBe(true)
        for (const options of OPTION_SETS) {
          for (const room of [null, 1]) {
            setNativeOutputRoom(room)
            const out = expectSame(bytes, options, what)
            expectValid(out, what)
            expectOwnBuffer(out as Uint8Array, what)
          }
        }
      }
    })
  })

  describe('engine limits interleaved with native bodies: the same error, and the next call works', () => {
    it('a body with 49,996 locals among native bodies, with every room and declined pattern', () => {
      const good = sectionedModule(5000, 5000, [3, 50, 1])
      const expected = meterWith(true, good.bytes, { fuel: 7, stackDepth: 50 }) as Uint8Array
      const copy = expected.slice()
      const units = (n: number) => body([[1, 0x7f]], repeat(UNIT, n, [0x0b]))
      const bad = assemble({
        types: [VOID], imports: [IMPORT_F], funcs: [0, 0, 0, 0], memory: true, globals: [[0x7f, 0x01, 0x41, 0x00, 0x0b]], exports: [['a', 1]],
        bodies: [units(400), units(2), body([[49_996, 0x7f]], [0x0b]), units(30)],
      })
      const ts = meterWith(false, bad, { fuel: 1 })
      expect(ts).toMatch(/^INVALID_MODULE: function 3 would have 50,001 locals once metered/)
      for (const room of [null, 1, 100, 65_536]) {
        for (const [pattern, make] of [['none', () => null], ...PATTERNS] as [string, (s: number[]) => ((x: number) => boolean) | null][]) {
          expect(meterNatively(bad, { fuel: 1 }, room, make(bodyStarts(bad))), `room ${room}, ${pattern}`).toBe(ts)
          expect(difference(meterWith(true, good.bytes, { fuel: 7, stackDepth: 50 }), copy), `after: room ${room}, ${pattern}`).toBe('same')
        }
      }
      expect(difference(expected, copy), 'the first result is unchanged').toBe('same')
    })

    it('a body metered past 7,654,321 bytes after native bodies fills the native output: the same error; at the limit, the same bytes', () => {
      // Bodies: small, nops (metered to the limit, or one byte over), small.
      const probeNops = 7_654_000
      const withNops = (n: number) => assemble({
        types: [VOID], funcs: [0, 0, 0], exports: [['a', 0], ['b', 1], ['c', 2]],
        bodies: [body([], repeat([0x01, 0x10, 0x02], 300, [0x0b])), body([], repeat([0x01], n, [0x0b])), body([], [0x10, 0x00, 0x0b])],
      })
      const probe = bodySizes(meter(withNops(probeNops), { fuel: 1 }).bytes)[1]!
      const atLimit = withNops(probeNops + ENGINE_LIMIT_BODY - probe)
      const ts = meterWith(false, atLimit, { fuel: 1 }) as Uint8Array
      expect(bodySizes(ts)[1]).toBe(ENGINE_LIMIT_BODY)
      const held = ts.slice()
      // Rooms that run out inside body 1 near its end, and one in body 0.
      const body1Ends = bodyBoundaries(ts)[1]!
      for (const room of [null, 1, body1Ends - 3, body1Ends - 100]) {
        expect(difference(meterNatively(atLimit, { fuel: 1 }, room), ts), `at the limit, room ${room}`).toBe('same')
      }
      const over = withNops(probeNops + ENGINE_LIMIT_BODY - probe + 1)
      const error = meterWith(false, over, { fuel: 1 })
      expect(error).toBe('INVALID_MODULE: function 1 would have 7,654,322 bytes of code once metered, above the engine limit of 7,654,321')
      for (const room of [null, body1Ends - 3]) expect(meterNatively(over, { fuel: 1 }, room), `over, room ${room}`).toBe(error)
      expect(difference(meterWith(true, atLimit, { fuel: 1 }), held), 'the next call').toBe('same')
      expect(difference(ts, held)).toBe('same')
    })
  })

  describe('no aliasing: results hold still', () => {
    it('results held while later calls meter bigger, smaller, failing, trapping and memory-hungry modules', async () => {
      const held: [string, MeterResult, Uint8Array][] = []
      const hold = (what: string, bytes: Uint8Array, options: MeterOptions): MeterResult => {
        const result = meter(bytes, options)
        expectOwnBuffer(result.bytes, what)
        held.push([what, result, result.bytes.slice()])
        return result
      }
      const check = (after: string): void => {
        for (const [what, result, copy] of held) {
          expect(difference(result.bytes, copy), `${what}, after ${after}`).toBe('same')
          expectOwnBuffer(result.bytes, `${what}, after ${after}`)
        }
      }
      const big = sectionedModule(300_000, 300_000, Array.from({ length: 8 }, (_, i) => (i % 2 ? 45_000 : 11_000)))
      const steps: [string, () => void][] = [
        ['small', () => { hold('small', randomModule(1).bytes, { fuel: 1 }) }],
        ['big', () => { hold('big', big.bytes, { fuel: 1, stackDepth: 10 }) }],
        ['smaller', () => { hold('smaller', tinyBodies(3), { fuel: 1 }) }],
        ['custom and data views', () => { hold('custom and data', sectionedModule(4096, 300_000, [1, 2]).bytes, { fuel: 1, profile: true }) }],
        ['an invalid module', () => { expect(() => meter(big.bytes.subarray(0, big.bytes.length - 1), { fuel: 1 })).toThrow(SandboxError) }],
        ['a locals limit after native bodies', () => {
          const bad = assemble({ types: [VOID], funcs: [0, 0], bodies: [body([], repeat([0x01], 100_000, [0x0b])), body([[49_996, 0x7f]], [0x0b])] })
          expect(() => meter(bad, { fuel: 1 })).toThrow(/50,001 locals/)
        }],
        ['declined bodies', () => {
          declines = (x) => x % 2 === 0
          try { hold('declined', randomModule(21).bytes, { fuel: 1, stackDepth: 3 }) } finally { declines = null }
        }],
        ['outgrown room', () => {
          setNativeOutputRoom(1)
          try { hold('outgrown', tinyBodies(2000), { fuel: 1, stackDepth: 3, profile: true }) } finally { setNativeOutputRoom(null) }
        }],
        ['a trap in the native rewriter (its instance dropped)', () => {
          // More room than a 32-bit memory has: the allocation traps, the instance is dropped
          // and the module is redone in TypeScript.
          setNativeOutputRoom(2 ** 32 - 1)
          try {
            const ts = meterWith(false, randomModule(4).bytes, { fuel: 2 })
            const result = hold('after a trap', randomModule(4).bytes, { fuel: 2 })
            expect(nativeRewriterLoaded(), 'the instance was dropped').toBe(false)
            expect(difference(result.bytes, ts)).toBe('same')
          } finally { setNativeOutputRoom(null) }
        }],
        ['big again (a fresh instance)', () => { hold('big again', big.bytes, { fuel: 1, stackDepth: 10 }) }],
        ['more than 16 MiB of native memory', () => {
          hold('loops', assemble({ types: [VOID], funcs: [0], bodies: [body([], concat([repeat([0x03, 0x40], 2_000_000), repeat([0x0b], 2_000_000), [0x0b]]))] }), { fuel: 1, stackDepth: 3 })
        }],
        ['small again', () => { hold('small again', randomModule(1).bytes, { fuel: 1 }) }],
      ]
      for (const [what, step] of steps) {
        step()
        check(what)
      }
      // The same module, metered again and in TypeScript: the same bytes as held.
      expect(difference(held.find(([w]) => w === 'big again')![2], held.find(([w]) => w === 'big')![2])).toBe('same')
      expect(difference(held.find(([w]) => w === 'small again')![2], held.find(([w]) => w === 'small')![2])).toBe('same')
      expect(difference(held.find(([w]) => w === 'big')![2], meterWith(false, big.bytes, { fuel: 1, stackDepth: 10 })), 'big, in TypeScript').toBe('same')
    })

    it('a result does not see the caller\'s input change afterwards, whatever its buffer (pooled Buffer, offset view, ArrayBuffer, SharedArrayBuffer)', () => {
      const { bytes } = sectionedModule(5000, 9000, [2, 300, 1])
      const expected = meter(bytes, { fuel: 1 }).bytes.slice()
      const inputs: [string, () => Uint8Array | ArrayBuffer, (input: Uint8Array | ArrayBuffer) => void][] = [
        ['a Buffer', () => Buffer.from(bytes), (i) => (i as Uint8Array).fill(0)],
        ['a view at an offset', () => { const b = new Uint8Array(bytes.length + 100); b.set(bytes, 37); return b.subarray(37, 37 + bytes.length) }, (i) => new Uint8Array((i as Uint8Array).buffer).fill(0xff)],
        ['an ArrayBuffer', () => bytes.slice().buffer, (i) => new Uint8Array(i as ArrayBuffer).fill(1)],
        ['a SharedArrayBuffer', () => { const s = new Uint8Array(new SharedArrayBuffer(bytes.length)); s.set(bytes); return s }, (i) => (i as Uint8Array).fill(2)],
        ['a small pooled Buffer', () => Buffer.from(tinyBodies(2)), (i) => (i as Uint8Array).fill(3)],
      ]
      for (const [what, make, spoil] of inputs) {
        const input = make()
        const before = new Uint8Array(input instanceof ArrayBuffer ? input : input.slice()).slice()
        const result = meter(input, { fuel: 1 })
        const copy = result.bytes.slice()
        expectOwnBuffer(result.bytes, what)
        if (what !== 'a small pooled Buffer') expect(difference(result.bytes, expected), what).toBe('same')
        spoil(input)
        meter(before, { fuel: 1 })
        expect(difference(result.bytes, copy), `${what}: after the input changed`).toBe('same')
      }
    })
  })

  it('generated programs metered natively (outgrown rooms, bodies declined) run as the TypeScript path\'s: results and fuel', async () => {
    for (let seed = 0; seed < 12; seed++) {
      const program = generateProgram(seed)
      const bytes = await wat(program.wat)
      const options: MeterOptions = { fuel: 'unlimited', ...(seed % 2 ? { stackDepth: 200 } : {}), ...(seed % 3 === 0 ? { metering: 'fast' as const } : {}) }
      useNativeRewriter(false)
      const ts = meter(bytes, options)
      useNativeRewriter(true)
      const exported = program.functions.filter((f) => !f.internal)
      const expected = runAll(ts, exported, seed)
      const starts = bodyStarts(bytes)
      for (const [room, decline] of [[null, null], [1, null], [100, PATTERNS[2]![1](starts)], [65_536, PATTERNS[5]![1](starts)]] as const) {
        setNativeOutputRoom(room)
        declines = decline
        try {
          const native = meter(bytes, options)
          expect(difference(native.bytes, ts.bytes), `seed ${seed}, room ${room}`).toBe('same')
          expect(WebAssembly.validate(native.bytes)).toBe(true)
          expect(runAll(native, exported, seed), `seed ${seed}, room ${room}`).toEqual(expected)
        } finally {
          setNativeOutputRoom(null)
          declines = null
        }
      }
    }
  })

  it('an options getter that meters another module in between (re-entrance): the same bytes', () => {
    // `deferStart` is read while the module is metered (before its code section): the inner call
    // uses the native rewriter (and its memory) between the outer call's start and its bodies.
    const { bytes } = sectionedModule(5000, 5000, [2, 300, 1, 45_000])
    const inner = tinyBodies(3000)
    const innerExpected = meter(inner, { fuel: 1, stackDepth: 5, profile: true }).bytes.slice()
    let reads = 0
    const innerResults: Uint8Array[] = []
    const options = {
      fuel: 1, stackDepth: 9,
      get deferStart() { reads++; innerResults.push(meter(inner, { fuel: 1, stackDepth: 5, profile: true }).bytes); return true },
    }
    const outer = meter(bytes, options).bytes
    expect(reads).toBeGreaterThan(0)
    expect(difference(outer, meterWith(false, bytes, { fuel: 1, stackDepth: 9, deferStart: true })), 'the outer result').toBe('same')
    for (const result of innerResults) expect(difference(result, innerExpected), 'the inner results').toBe('same')
  })

  it('malformed input after the code section: INVALID_MODULE on both paths, and the next call meters as before', () => {
    const { bytes: good } = sectionedModule(0, 0, [2, 300, 1, 200])
    const expected = meterWith(true, good, { fuel: 1 }) as Uint8Array
    const copy = expected.slice()
    const { section: data } = dataSection(6000, 9)
    const withTail = (...tail: ArrayLike<number>[]) => concat([good, ...tail])
    const cases: [string, Uint8Array][] = [
      ['a data section cut short', withTail(data.subarray(0, data.length - 10))],
      ['a data section of size past the end', withTail([DATA, ...leb(1 << 20), 0x01, 0x00, 0x41, 0x00, 0x0b, 0x05, 1, 2, 3, 4, 5])],
      ['a data segment longer than its section', withTail(section(DATA, [0x01, 0x00, 0x41, 0x00, 0x0b, ...leb(100), 1, 2, 3]))],
      ['a data count after the code section', withTail(section(DATA_COUNT, [0x00]))],
      ['a type section after the code section', withTail(section(TYPE, vector([VOID])))],
      ['a second code section', withTail(section(CODE, vector([body([], [0x0b])])))],
      ['a function section after the code section', withTail(section(FUNCTION, vector([[0x00]])))],
      ['an unknown section id', withTail([0x7f, 0x01, 0x00])],
      ['a section id and no size', withTail([DATA])],
      ['a size of six LEB bytes', withTail([CUSTOM, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])],
      ['a custom section cut short', withTail(customSection(5000, 2).subarray(0, 4990))],
      ['a custom section whose name runs past it', withTail([CUSTOM, 0x03, 0x10, 0x61, 0x62])],
      ['data segments fewer than counted', concat([good.subarray(0, 8), ...sectionsWithDataCount(good, 2), data])],
      ['the code section one byte short', concat([good.subarray(0, good.length - 1)])],
    ]
    for (const [what, bytes] of cases) {
      for (const options of [{ fuel: 1 }, { fuel: 1, sharedFuel: true, stackDepth: 5, profile: true }] as MeterOptions[]) {
        for (const room of [null, 1]) {
          const ts = meterWith(false, bytes, options)
          const native = meterNatively(bytes, options, room, (x) => x === 0)
          expect(native, `${what} ${JSON.stringify(options)}, room ${room}`).toBe(ts)
          expect(native, what).toMatch(/^INVALID_MODULE: /)
          expect(difference(meterWith(true, good, { fuel: 1 }), copy), `after ${what}`).toBe('same')
        }
      }
    }
    expect(difference(expected, copy)).toBe('same')
  })

  describe('the kept memory and its release', () => {
    /** About 9 MB of code: twice that reserved takes the native rewriter's memory past the 16 MiB it keeps. */
    const large = () => sectionedModule(5000, 5000, Array.from({ length: 9 }, () => 36_000)).bytes

    it('a large module, then more than two seconds without one: the memory is let go, and it meters the same', async () => {
      const bytes = large()
      const options: MeterOptions = { fuel: 1, stackDepth: 64 }
      const first = meter(bytes, options)
      const copy = first.bytes.slice()
      expect(nativeRewriterLoaded(), 'kept while in use').toBe(true)
      await sleep(2_300)
      await vi.waitFor(() => expect(nativeRewriterLoaded()).toBe(false), { timeout: 20_000, interval: 100 })
      const again = meter(bytes, options)
      expect(difference(again.bytes, copy), 'metered again, by a fresh instance').toBe('same')
      expect(difference(first.bytes, copy), 'the first result').toBe('same')
      expect(difference(again.bytes, meterWith(false, bytes, options)), 'the TypeScript path').toBe('same')
      expectOwnBuffer(again.bytes, 'again')
    })

    it('a Node process, and a worker, that meter a large module and end: they exit', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'output-assembly-'))
      try {
        const file = join(dir, 'large.wasm')
        writeFileSync(file, large())
        const core = JSON.stringify(join(REPO_ROOT, 'dist/core/index.js'))
        const native = JSON.stringify(join(REPO_ROOT, 'dist/core/meter/native-rewriter.js'))
        // The worker meters and ends; then the main thread meters and ends, its release timer pending.
        const workerCode = "import { workerData } from 'node:worker_threads'; import { readFileSync } from 'node:fs'; const { meter } = await import(workerData.core); meter(readFileSync(workerData.file), { fuel: 1 })"
        const script = `import { meter } from ${core}; import { nativeRewriterLoaded } from ${native}
          import { readFileSync } from 'node:fs'; import { Worker } from 'node:worker_threads'; import { pathToFileURL } from 'node:url'
          const file = process.argv[1]
          const worker = new Worker(${JSON.stringify(workerCode)}, { eval: true, workerData: { core: pathToFileURL(${core}).href, file } })
          const workerExit = await new Promise((resolve, reject) => { worker.on('exit', resolve); worker.on('error', reject) })
          const bytes = meter(readFileSync(file), { fuel: 1 }).bytes.length
          console.log(JSON.stringify({ workerExit, bytes, loaded: nativeRewriterLoaded() }))`
        const { code, signal, stdout, stderr } = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
          const child = execFile(process.execPath, ['--input-type=module', '-e', script, file], { timeout: 60_000, encoding: 'utf8' }, (_error, stdout, stderr) => {
            resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr })
          })
        })
        expect(signal, `killed after 60 s: it did not exit (${stderr})`).toBe(null)
        expect(code, stderr).toBe(0)
        const report = JSON.parse(stdout) as { workerExit: number; bytes: number; loaded: boolean }
        expect(report.workerExit).toBe(0)
        expect(report.bytes).toBeGreaterThan(9_000_000)
        expect(report.loaded, 'the memory was past 16 MiB, its release pending when the process ended').toBe(true)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
})

/** The module's sections with a data count section of `count` put before its code section. */
function sectionsWithDataCount(bytes: Uint8Array, count: number): Uint8Array[] {
  return sections(bytes).flatMap(([id, content]) => (id === CODE ? [section(DATA_COUNT, leb(count)), section(id, content)] : [section(id, content)]))
}
