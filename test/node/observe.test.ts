import { describe, expect, it } from 'vitest'
import { Sandbox, SandboxPool, type SandboxEvent } from 'wasm-sandbox'
import { ARITH_WAT, rejectsWith } from './helpers.js'

const WASI_RANDOM = `(module
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $random (i32.const 0) (i32.const 8)))))`

describe('metrics and onEvent', () => {
  it('counts calls, failures by code, fuel and wall-time percentiles', async () => {
    const sb = await Sandbox.create(ARITH_WAT, { fuel: 1e5 })
    for (let i = 0; i < 10; i++) await sb.call('add', i, 1)
    await rejectsWith(sb.call('boom'), 'TRAP')
    await rejectsWith(sb.call('spin'), 'FUEL_EXHAUSTED')
    const m = sb.metrics()
    expect(m.calls).toBe(12)
    expect(m.failures).toEqual({ TRAP: 1, FUEL_EXHAUSTED: 1 })
    expect(m.fuelUsed).toBe(10n * 3n + 1n + 100_000n)
    expect(m.wallMs.p50).toBeGreaterThan(0)
    expect(m.wallMs.p95).toBeGreaterThanOrEqual(m.wallMs.p50)
    expect(m.wallMs.max).toBeGreaterThanOrEqual(m.wallMs.p95)
    await sb.close()
  })

  it('reports every call and every audit event, and survives a throwing handler', async () => {
    const events: SandboxEvent[] = []
    const sb = await Sandbox.create(WASI_RANDOM, { wasi: true, onEvent: (e) => { events.push(e); throw new Error('observer bug') } })
    await sb.runCommand()
    expect(events.map((e) => e.type)).toEqual(['audit', 'call'])
    expect(events[0]).toMatchObject({ type: 'audit', capability: 'random', operation: 'random_get' })
    expect(events[1]).toMatchObject({ type: 'call', export: '_start', ok: true })
    await sb.close()
  })

  it('reports imports the policy does not grant as audit events', async () => {
    const events: SandboxEvent[] = []
    await rejectsWith(Sandbox.create('(module (import "env" "steal" (func)))', { onEvent: (e) => events.push(e) }), 'LINK_ERROR')
    expect(events).toMatchObject([{ type: 'audit', capability: 'import', operation: 'link', detail: 'env.steal is not granted by the policy' }])
    expect(typeof (events[0] as { time: number }).time).toBe('number')
  })

  it('pools have metrics too', async () => {
    const pool = await SandboxPool.create(ARITH_WAT, { max: 2 })
    await Promise.all(Array.from({ length: 8 }, (_, i) => pool.call('add', i, i)))
    await rejectsWith(pool.call('boom'), 'TRAP')
    expect(pool.metrics()).toMatchObject({ calls: 9, failures: { TRAP: 1 } })
    await pool.close()
  })

  it('rejects an onEvent that is not a function', async () => {
    expect((await rejectsWith(Sandbox.create(ARITH_WAT, { onEvent: 1 as never }), 'CONFIG')).field).toBe('onEvent')
  })
})

it('audits denials made during plain calls of a WASI reactor', async () => {
  const REACTOR = `(module
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_initialize"))
    (func (export "roll") (result i32) (call $random (i32.const 0) (i32.const 4))))`
  const sb = await Sandbox.create(REACTOR, { wasi: true })
  expect(await sb.call('roll')).toBe(76) // ENOTCAPABLE
  expect(sb.audit()).toMatchObject([{ capability: 'random', operation: 'random_get' }])
  await sb.close()
})
