/**
 * The metered module's size is linear in the input's with a small factor, also for input
 * built to blow it up: a charge (~14 bytes) goes only where live code can run, at most one
 * per segment, and the smallest live segment is two or three bytes: at most 8x (real
 * binaries: ~1.5x). Dead code and loops nothing branches to add nothing.
 * Modules are built byte by byte (wabt would take longer than the meter on them).
 */
import { describe, expect, it } from 'vitest'
import { meter } from 'wasm-sandbox/core'
import { leb, section } from '../../support/wasm-bytes.js'

/** A module of one `(func (param i32))` per body (instructions, without locals or the final end). */
function moduleOf(bodies: number[][]): Uint8Array {
  let code: number[] = leb(bodies.length)
  for (const b of bodies) code = code.concat(leb(b.length + 2), [0x00], b, [0x0b]) // no locals
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00].concat(
    section(1, [1, 0x60, 1, 0x7f, 0]),
    section(3, [...leb(bodies.length), ...bodies.map(() => 0)]),
    [10], leb(code.length), code))
}

const repeat = (n: number, ...bytes: number[]): number[] => {
  const out = new Array<number>(n * bytes.length)
  for (let i = 0; i < out.length; i++) out[i] = bytes[i % bytes.length]!
  return out
}
const N = 20_000

const PATTERNS: [string, number[], number][] = [
  // [what, body, bound on output / input]
  ['loops nested 20,000 deep that nothing branches to', repeat(N, 0x03, 0x40).concat(repeat(N, 0x0b)), 1.05],
  ['dead code: 20,000 unreachable in a row', repeat(N, 0x00), 1.05],
  ['dead code after return: nested blocks and branches', [0x0f].concat(repeat(N, 0x02, 0x40, 0x0c, 0x00, 0x0b)), 1.05],
  ['blocks nested 20,000 deep', repeat(N, 0x02, 0x40).concat(repeat(N, 0x0b)), 1.05],
  ['20,000 conditional branches: (br_if 0 (local.get 0)) in a block', [0x02, 0x40].concat(repeat(N, 0x20, 0x00, 0x0d, 0x00), [0x0b]), 8],
  ['loops nested 20,000 deep, each branching to itself', repeat(N, 0x03, 0x40, 0x20, 0x00, 0x0d, 0x00).concat(repeat(N, 0x0b)), 8],
  ['20,000 if/else with one-instruction arms', repeat(N, 0x20, 0x00, 0x04, 0x40, 0x01, 0x05, 0x01, 0x0b), 8],
  ['20,000 calls', repeat(N, 0x20, 0x00, 0x10, 0x00), 4],
]

describe('metered size is linear in the input size, with a small factor', () => {
  it.each(PATTERNS)('%s', (_what, body, bound) => {
    const input = moduleOf([body])
    expect(WebAssembly.validate(input)).toBe(true)
    const out = meter(input, { fuel: 'unlimited' }).bytes
    expect(WebAssembly.validate(out)).toBe(true)
    const ratio = out.length / input.length
    expect(ratio).toBeLessThanOrEqual(bound)
    // and with call depth counting, which adds a constant per function
    const deep = meter(input, { fuel: 'unlimited', stackDepth: 100 }).bytes
    expect(deep.length / input.length).toBeLessThanOrEqual(bound + 0.01)
  })

  it('the factor stays the same when the input grows 10x (linear, not worse)', () => {
    const ratio = (n: number) => {
      const input = moduleOf([[0x02, 0x40].concat(repeat(n, 0x20, 0x00, 0x0d, 0x00), [0x0b])])
      return meter(input, { fuel: 'unlimited' }).bytes.length / input.length
    }
    expect(ratio(50_000)).toBeLessThanOrEqual(ratio(5_000) * 1.01)
  })
})
