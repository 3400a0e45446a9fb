import { describe, expect, it } from 'vitest'
import { createTenant } from 'wasm-sandbox'
import { ARITH_WAT, rejectsWith } from './helpers.js'

describe('tenants', () => {
  it('counts instances across sandboxes and pools, and closing gives them back', async () => {
    const tenant = createTenant('acme', { maxInstances: 3 })
    const a = await tenant.createSandbox(ARITH_WAT)
    const pool = await tenant.createPool(ARITH_WAT, { min: 2, max: 2 })
    expect(tenant.usage().instances).toBe(3)
    const error = await rejectsWith(tenant.createSandbox(ARITH_WAT), 'QUOTA_EXCEEDED')
    expect(error).toMatchObject({ kind: 'maxInstances', limit: 3, used: 4 })
    expect(error.message).toContain('"acme"')
    await a.close()
    expect(tenant.usage().instances).toBe(2)
    const b = await tenant.createSandbox(ARITH_WAT)
    await pool.close()
    expect(tenant.usage().instances).toBe(1)
    await b.close()
    expect(tenant.usage()).toMatchObject({ instances: 0, memoryBytes: 0 })
  })

  it('reserves memory caps', async () => {
    const tenant = createTenant('memory', { memory: '48MB' })
    const a = await tenant.createSandbox(ARITH_WAT, { memory: '32MB' })
    expect((await rejectsWith(tenant.createSandbox(ARITH_WAT, { memory: '32MB' }), 'QUOTA_EXCEEDED')).kind).toBe('memory')
    const b = await tenant.createSandbox(ARITH_WAT, { memory: '16MB' })
    expect(tenant.usage().memoryBytes).toBe(48 * 2 ** 20)
    await a.close(); await b.close()
  })

  it('caps total fuel: a call gets at most what is left, then calls are refused', async () => {
    const tenant = createTenant('fuel', { fuelTotal: 1000 })
    const sb = await tenant.createSandbox(ARITH_WAT, { fuel: 1e6 })
    for (let i = 0; i < 10; i++) await sb.call('add', 1, 2) // 3 fuel each
    expect(tenant.usage()).toMatchObject({ fuelUsed: 30n, calls: 10 })
    const error = await rejectsWith(sb.call('spin'), 'QUOTA_EXCEEDED')
    expect(error).toMatchObject({ kind: 'fuelTotal', limit: 1000n })
    expect(tenant.usage().fuelUsed).toBe(1000n)
    await rejectsWith(sb.call('add', 1, 2), 'QUOTA_EXCEEDED')
    expect(sb.audit().map((e) => e.capability)).toEqual(['quota', 'quota'])
    await sb.close()
  })

  it('counts a pool growing on demand, refusing sandboxes beyond the quota', async () => {
    const tenant = createTenant('pool', { maxInstances: 2 })
    const pool = await tenant.createPool(ARITH_WAT, { min: 1, max: 4, fuel: 'unlimited', timeout: '300ms' })
    const calls = [pool.call('spin'), pool.call('spin'), pool.call('add', 1, 1)]
    const results = await Promise.allSettled(calls)
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))
    expect(codes).toContain('QUOTA_EXCEEDED')
    expect(tenant.usage().instances).toBeLessThanOrEqual(2)
    await pool.close()
    expect(tenant.usage().instances).toBe(0)
  })
})
