import { describe, expect, it } from 'vitest'
import { SandboxPool } from 'wasm-sandbox'
import { rejectsWith } from './helpers.js'

const WAT = `(module
  (global $calls (mut i32) (i32.const 0))
  (func (export "add") (param i32 i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.add (local.get 0) (local.get 1)))
  (func (export "calls") (result i32) (global.get $calls))
  (func (export "boom") unreachable)
  (func (export "spin") (loop $l (br $l))))`

describe('SandboxPool', () => {
  it('starts min sandboxes, grows to max under load, and answers every call', async () => {
    const pool = await SandboxPool.create(WAT, { min: 2, max: 4 })
    expect(pool.stats()).toMatchObject({ size: 2, idle: 2, busy: 0, queued: 0, calls: 0, failures: 0 })
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => pool.call('add', i, 1)))
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    const stats = pool.stats()
    expect(stats.size).toBeGreaterThanOrEqual(2)
    expect(stats.size).toBeLessThanOrEqual(4)
    expect(stats).toMatchObject({ busy: 0, queued: 0, calls: 100, failures: 0 })
    await pool.close()
  })

  it('counts failures, and a trapping or timed-out call does not take the pool down', async () => {
    const pool = await SandboxPool.create(WAT, { max: 2, fuel: 'unlimited', timeout: '200ms' })
    await rejectsWith(pool.call('boom'), 'TRAP')
    await rejectsWith(pool.call('spin'), 'TIMEOUT')
    expect(await pool.call('add', 2, 3)).toBe(5)
    expect(pool.stats()).toMatchObject({ calls: 3, failures: 2 })
    await pool.close()
  })

  it('rejects with OVERLOADED beyond maxQueued', async () => {
    const pool = await SandboxPool.create(WAT, { max: 1, maxQueued: 1, fuel: 'unlimited', timeout: '300ms' })
    const running = pool.call('spin')
    const queued = pool.call('add', 1, 1)
    const error = await rejectsWith(pool.call('add', 2, 2), 'OVERLOADED')
    expect(error).toMatchObject({ kind: 'queue', limit: 1, used: 1 })
    await rejectsWith(running, 'TIMEOUT')
    expect(await queued).toBe(2)
    await pool.close()
  })

  it('close() lets running calls finish and refuses new ones', async () => {
    const pool = await SandboxPool.create(WAT, { max: 1 })
    const running = pool.call('add', 20, 22)
    const closing = pool.close()
    expect(await running).toBe(42)
    await closing
    await rejectsWith(pool.call('add', 1, 1), 'CLOSED')
    expect(pool.stats()).toMatchObject({ busy: 0, calls: 2, failures: 1 }) // the refused call counts as failed
  })

  it('shares the compiled module and keeps instance state per sandbox', async () => {
    const pool = await SandboxPool.create(WAT, { min: 1, max: 1 })
    for (let i = 0; i < 5; i++) await pool.call('add', 1, 1)
    expect(await pool.call('calls')).toBe(5)
    await pool.close()
  })

  it('validates its options', async () => {
    expect((await rejectsWith(SandboxPool.create(WAT, { min: 5, max: 2 }), 'CONFIG')).field).toBe('min')
    expect((await rejectsWith(SandboxPool.create(WAT, { max: 0 }), 'CONFIG')).field).toBe('max')
    expect((await rejectsWith(SandboxPool.create(WAT, { fuel: 'x' as never }), 'CONFIG')).field).toBe('fuel')
    await rejectsWith(SandboxPool.create('(module (import "env" "f" (func)))'), 'LINK_ERROR')
  })

  it('closes idle sandboxes above min after idleTimeoutMs', async () => {
    const pool = await SandboxPool.create(WAT, { min: 0, max: 3, idleTimeoutMs: 20 })
    await Promise.all([pool.call('add', 1, 1), pool.call('add', 1, 1), pool.call('add', 1, 1)])
    await new Promise((r) => setTimeout(r, 300))
    expect(pool.stats().size).toBe(0)
    expect(await pool.call('add', 1, 2)).toBe(3)
    await pool.close()
  })
})

describe('SandboxPool reuse, replacement, scale and reload', () => {
  it("reuse: 'fresh' gives every call a fresh instance; 'instance' keeps state", async () => {
    const fresh = await SandboxPool.create(WAT, { min: 1, max: 1, reuse: 'fresh' })
    for (let i = 0; i < 3; i++) await fresh.call('add', 1, 1)
    expect(await fresh.call('calls')).toBe(0)
    await fresh.close()
    const kept = await SandboxPool.create(WAT, { min: 1, max: 1, reuse: 'instance' })
    for (let i = 0; i < 3; i++) await kept.call('add', 1, 1)
    expect(await kept.call('calls')).toBe(3)
    await kept.close()
  })

  it('replaces the instance of a sandbox whose call trapped', async () => {
    const pool = await SandboxPool.create(WAT, { min: 1, max: 1 })
    await pool.call('add', 1, 1)
    await rejectsWith(pool.call('boom'), 'TRAP')
    expect(await pool.call('calls')).toBe(0)
    await pool.close()
  })

  it('scale(n) starts and retires sandboxes', async () => {
    const pool = await SandboxPool.create(WAT, { min: 1, max: 2 })
    await pool.scale(4)
    expect(pool.stats().size).toBe(4)
    await pool.scale(1)
    expect(pool.stats().size).toBe(1)
    expect(await pool.call('add', 2, 2)).toBe(4)
    await pool.close()
  })

  it('reload swaps the module of every sandbox while calls keep succeeding', async () => {
    const pool = await SandboxPool.create(WAT, { min: 3, max: 3 })
    const V2 = WAT.replace('(i32.add (local.get 0) (local.get 1))', '(i32.mul (local.get 0) (local.get 1))')
    const load = Array.from({ length: 300 }, (_, i) => pool.call('add', 3, 4).then((v) => [i, v] as const))
    await new Promise((r) => setTimeout(r, 5))
    const report = await pool.reload(V2)
    const results = await Promise.all(load)
    expect(report).toMatchObject({ compatible: true, applied: true })
    expect(results.every(([, v]) => v === 7 || v === 12)).toBe(true)
    expect(results.length).toBe(300)
    expect(await pool.call('add', 3, 4)).toBe(12)
    await pool.scale(5) // new sandboxes start from the new module
    const after = await Promise.all(Array.from({ length: 20 }, () => pool.call('add', 3, 4)))
    expect(new Set(after)).toEqual(new Set([12]))
    expect(pool.stats()).toMatchObject({ failures: 0 })
    await pool.close()
  })
})

describe('SandboxPool edge cases', () => {
  it('close() while a sandbox is still starting leaves nothing running', async () => {
    const pool = await SandboxPool.create(WAT, { min: 0, max: 2 })
    await pool.scale(0)
    const pending = pool.call('add', 1, 1)
    await pool.close()
    const settled = await pending.then((v) => v, (e) => e.code)
    expect([2, 'CLOSED']).toContain(settled)
    expect(pool.stats()).toMatchObject({ size: 0, busy: 0 })
  })

  it('a sandbox that cannot restart after a trap is replaced, or its waiting calls get the error', async () => {
    let starts = 0
    const START = `(module (import "env" "init" (func $init)) (start $init)
      (func (export "boom") unreachable) (func (export "ok") (result i32) (i32.const 1)))`
    const pool = await SandboxPool.create(START, { max: 1, imports: { env: { init: () => { if (++starts > 1) throw new Error('no second start') } } } })
    const boom = pool.call('boom')
    const queued = pool.call('ok')
    await rejectsWith(boom, 'TRAP')
    const outcome = await queued.then((v) => v, (e) => e.code)
    expect(outcome).toBe('HOST_ERROR')
    expect(pool.stats()).toMatchObject({ busy: 0, queued: 0 })
    await pool.close()
  })

  it('counts calls rejected before they reach a sandbox', async () => {
    const pool = await SandboxPool.create(WAT, { max: 1, maxQueued: 0, fuel: 'unlimited', timeout: '200ms' })
    const running = pool.call('spin')
    await rejectsWith(pool.call('add', 1, 1), 'OVERLOADED')
    await rejectsWith(running, 'TIMEOUT')
    expect(pool.stats()).toMatchObject({ calls: 2, failures: 2 })
    expect(pool.metrics().failures).toEqual({ OVERLOADED: 1, TIMEOUT: 1 })
    await pool.close()
  })
})
