import { describe, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { rejectsWith } from './helpers.js'

const V1 = `(module (global $n (mut i32) (i32.const 0))
  (func (export "version") (result i32) (i32.const 1))
  (func (export "count") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n))
  (func (export "gone") (result i32) (i32.const 0)))`
const V2 = `(module (global $n (mut i32) (i32.const 100))
  (func (export "version") (result i32) (i32.const 2))
  (func (export "count") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n))
  (func (export "gone") (result i32) (i32.const 0))
  (func (export "extra") (result i32) (i32.const 7)))`
const INCOMPATIBLE = `(module (func (export "version") (param i32) (result i32) (local.get 0)))`

describe('hot reload and reset', () => {
  it('swaps in a compatible module; queued calls finish on the old one and none is dropped', async () => {
    const sb = await Sandbox.create(V1)
    const before = Array.from({ length: 20 }, () => sb.call('version'))
    const reloading = sb.reload(V2)
    const after = Array.from({ length: 20 }, () => sb.call('version'))
    expect(await Promise.all(before)).toEqual(Array(20).fill(1))
    expect(await reloading).toEqual({ compatible: true, applied: true, removed: [], changed: [], added: ['extra'] })
    expect(await Promise.all(after)).toEqual(Array(20).fill(2))
    expect(await sb.call('extra')).toBe(7)
    expect(sb.exports().map((e) => e.name)).toContain('extra')
    await sb.close()
  })

  it('refuses an incompatible module unless forced, and reports why', async () => {
    const sb = await Sandbox.create(V1)
    expect(await sb.reload(INCOMPATIBLE)).toEqual({ compatible: false, applied: false, removed: ['count', 'gone'], changed: ['version'], added: [] })
    expect(await sb.call('version')).toBe(1)
    expect((await sb.reload(INCOMPATIBLE, { force: true })).applied).toBe(true)
    expect(await sb.call('version', 41)).toBe(41)
    await rejectsWith(sb.call('count'), 'NO_SUCH_EXPORT')
    await sb.close()
  })

  it('keeps the old module when the new one does not compile or link', async () => {
    const sb = await Sandbox.create(V1)
    await rejectsWith(sb.reload('(module (func (result i32) i64.const 1))'), 'INVALID_MODULE')
    await rejectsWith(sb.reload('(module (import "env" "f" (func)))'), 'LINK_ERROR')
    expect(await sb.call('version')).toBe(1)
    await sb.close()
  })

  it('reset() gives a fresh instance of the same module', async () => {
    const sb = await Sandbox.create(V1)
    await sb.call('count')
    expect(await sb.call('count')).toBe(2)
    await sb.reset()
    expect(await sb.call('count')).toBe(1)
    await sb.close()
  })
})
