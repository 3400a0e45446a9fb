/**
 * UsageRecorder: where every call's usage goes, whichever path the call took (channel,
 * messages, pipeline, inline). Driven directly: it is plain bookkeeping.
 */
import { describe, expect, it } from 'vitest'
import { normalizeOptions, SandboxError, type SandboxEvent, type Usage } from 'wasm-sandbox/core'
import { UsageRecorder } from '../../../core/sandbox/usage-recorder.js'
import type { SandboxOwner } from '../../../core/sandbox/sandbox-types.js'

/** A tenant-like owner with `left` fuel, recording what it is charged. */
function owner(left: bigint | null): SandboxOwner & { charged: Usage[] } {
  const charged: Usage[] = []
  return {
    charged,
    admit: () => {
      if (left !== null && left <= 0n) throw new SandboxError('QUOTA_EXCEEDED', 'no fuel left')
      return left ?? undefined
    },
    charge: (usage) => { charged.push(usage); if (left !== null) left -= usage.fuelUsed },
    exhausted: () => new SandboxError('QUOTA_EXCEEDED', 'the tenant ran out of fuel'),
    release: () => {},
  }
}

describe('UsageRecorder', () => {
  it('records a call as lastUsage, in the total, the metrics and onEvent', () => {
    const events: SandboxEvent[] = []
    const recorder = new UsageRecorder(normalizeOptions({ fuel: 1000, onEvent: (e) => events.push(e) }), null)
    recorder.record('f', { fuelUsed: 10n, memoryBytes: 65536, hostCalls: 2 }, 1.5)
    const error = new SandboxError('TRAP', 'boom')
    const usage = recorder.record('g', { fuelUsed: 5n, memoryBytes: 131072, hostCalls: 0 }, 0.5, error)
    expect(usage).toMatchObject({ fuelUsed: 5n, fuelLimit: 1000n, memoryBytes: 131072, memoryPeakBytes: 131072, calls: 1, traps: 1 })
    expect(recorder.lastUsage).toBe(usage)
    expect(recorder.total).toMatchObject({ fuelUsed: 15n, calls: 2, traps: 1, hostCalls: 2, wallMs: 2 })
    expect(recorder.metrics()).toMatchObject({ calls: 2, failures: { TRAP: 1 }, fuelUsed: 15n })
    expect(events.map((e) => e.type === 'call' && [e.export, e.ok, e.code])).toEqual([['f', true, undefined], ['g', false, 'TRAP']])
  })

  it('keeps audit events from a report and tells onEvent', () => {
    const events: SandboxEvent[] = []
    const recorder = new UsageRecorder(normalizeOptions({ onEvent: (e) => events.push(e) }), null)
    const audit = [{ time: 1, capability: 'fs', operation: 'path_open', detail: '/etc/passwd' }]
    recorder.record('main', { fuelUsed: 1n, memoryBytes: 0, hostCalls: 0, audit }, 1)
    expect(recorder.audit()).toEqual(audit)
    expect(events.filter((e) => e.type === 'audit')).toHaveLength(1)
  })

  it('lowers a call\'s budget to what its owner has left, and refuses when it has none', () => {
    const tenant = owner(300n)
    const recorder = new UsageRecorder(normalizeOptions({ fuel: 1000 }), tenant)
    expect(recorder.admit({ fn: 'f', args: [] }).fuel).toBe(300n)
    const spent = owner(0n)
    const refusing = new UsageRecorder(normalizeOptions({ fuel: 1000 }), spent)
    expect(() => refusing.admit({ fn: 'f', args: [] })).toThrow(/no fuel left/)
    expect(refusing.audit()[0]).toMatchObject({ capability: 'quota', operation: 'f' })
    // A budget above the sandbox's own leaves the call as it was.
    expect(new UsageRecorder(normalizeOptions({ fuel: 100 }), owner(300n)).admit({ fn: 'f', args: [] }).fuel).toBeUndefined()
  })

  it('turns fuel running out under a lowered budget into the owner\'s quota error', () => {
    const recorder = new UsageRecorder(normalizeOptions({ fuel: 1000 }), owner(300n))
    const fuel = new SandboxError('FUEL_EXHAUSTED', 'out of fuel')
    expect(recorder.quotaError({ fn: 'f', args: [], fuel: 300n }, fuel).code).toBe('QUOTA_EXCEEDED')
    expect(recorder.quotaError({ fn: 'f', args: [] }, fuel)).toBe(fuel)
    expect(recorder.quotaError({ fn: 'f', args: [], fuel: 300n }, new SandboxError('TRAP', 'x')).code).toBe('TRAP')
  })

  it('charges the owner the whole budget for a call stopped from outside, which could not report', () => {
    const tenant = owner(null)
    const recorder = new UsageRecorder(normalizeOptions({ fuel: 1000 }), tenant)
    recorder.record('f', undefined, 5000, new SandboxError('TIMEOUT', 'too long'))
    recorder.record('g', undefined, 1, new SandboxError('INTERNAL', 'worker died'))
    expect(tenant.charged.map((u) => u.fuelUsed)).toEqual([1000n, 0n])
  })

  it('charges the start function of every fresh instance, and takes its memory size', () => {
    const tenant = owner(null)
    const recorder = new UsageRecorder(normalizeOptions({ fuel: 1000 }), tenant)
    recorder.recordStart({ fuelUsed: 42n, memoryBytes: 65536, hostCalls: 0 })
    recorder.recordStart({ fuelUsed: 0n, memoryBytes: 131072, hostCalls: 0 })
    expect(tenant.charged.map((u) => [u.fuelUsed, u.calls])).toEqual([[42n, 0]])
    expect(recorder.total).toMatchObject({ memoryBytes: 131072, memoryPeakBytes: 131072, calls: 0 })
  })
})
