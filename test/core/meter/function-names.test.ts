// info.functionNames: read from the name section when first asked for, with export names for
// the functions it does not name, and a malformed name section ignored as engines ignore it.
import { describe, expect, it } from 'vitest'
import { meter } from 'wasm-sandbox/core'
import { wat } from './helpers.js'

const utf8 = (text: string) => [...new TextEncoder().encode(text)]
const leb = (n: number) => { const out: number[] = []; do { out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7 } while (n); return out }
const name = (text: string) => [...leb(utf8(text).length), ...utf8(text)]
const custom = (content: number[]) => [0x00, ...leb(content.length), ...content]
/** A name section whose function-name subsection holds `entries` (and claims `count` of them). */
const nameSection = (entries: [number, string][], count = entries.length) => {
  const sub = [...leb(count), ...entries.flatMap(([i, n]) => [...leb(i), ...name(n)])]
  return custom([...name('name'), 0x01, ...leb(sub.length), ...sub])
}
const withSections = (bytes: Uint8Array, ...sections: number[][]) => new Uint8Array([...bytes, ...sections.flat()])

const THREE = `(module (func (export "run")) (func) (func (export "other")))`

describe('function names', () => {
  it('come from the name sections in order, non-ASCII too, then from exports', async () => {
    const bytes = withSections(await wat(THREE), nameSection([[0, 'main'], [1, 'ïnner — a longer name than thirty-two bytes']]), nameSection([[1, 'inner']]))
    const { info } = meter(bytes, { fuel: 1 })
    expect([...info.functionNames]).toEqual([[0, 'main'], [1, 'inner'], [2, 'other']])
    expect({ ...info }.functionNames).toBe(info.functionNames) // read once, kept
  })

  it('are the export names where there is no name section, and a malformed one is ignored from where it breaks', async () => {
    expect([...meter(await wat(THREE), { fuel: 1 }).info.functionNames]).toEqual([[0, 'run'], [2, 'other']])
    const truncated = withSections(await wat(THREE), nameSection([[1, 'inner']], 3))
    expect([...meter(truncated, { fuel: 1 }).info.functionNames]).toEqual([[1, 'inner'], [0, 'run'], [2, 'other']])
  })

  it('can be replaced', async () => {
    const { info } = meter(await wat(THREE), { fuel: 1 })
    info.functionNames = new Map([[5, 'five']])
    expect([...info.functionNames]).toEqual([[5, 'five']])
  })
})
