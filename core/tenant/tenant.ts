import { MAX_FUEL } from '../meter/meter-control.js'
import { SandboxError, type Usage } from '../errors/index.js'
import { configError, normalizeOptions } from '../policy/normalize.js'
import type { SandboxOptions } from '../policy/options.js'
import { parseBytes } from '../policy/units.js'
import { splitPoolOptions, type PoolOptions } from '../pool/sandbox-pool.js'
import type { SandboxOwner } from '../sandbox/sandbox-types.js'

/** A tenant's quotas; each is optional (no limit). */
export interface TenantQuota {
  /** Live sandboxes at once, counting every sandbox of its pools. */
  maxInstances?: number
  /** Sum of the `memory` caps of its live sandboxes ('256MB' or bytes). */
  memory?: number | string
  /** Fuel over the tenant's whole life; a call gets at most what is left. */
  fuelTotal?: number | bigint
}

export interface TenantUsage {
  instances: number
  /** Memory caps reserved by live sandboxes, in bytes. */
  memoryBytes: number
  fuelUsed: bigint
  calls: number
}

type Creator<T> = { create(source: unknown, options?: any, owner?: any): Promise<T> }

/**
 * One tenant: every sandbox and pool made through it counts against its quotas, and
 * closing them gives the room back. Over a quota, creating rejects (and calls reject) with
 * QUOTA_EXCEEDED `{ kind, limit, used }` naming the tenant; a call never uses more fuel
 * than the tenant has left (its budget is lowered to what remains).
 */
export class Tenant<S, P> {
  private instances = 0
  private memoryBytes = 0
  private fuelUsed = 0n
  private calls = 0
  private readonly maxInstances: number | null
  private readonly memoryLimit: number | null
  private readonly fuelTotal: bigint | null

  constructor(readonly id: string, quota: TenantQuota, private readonly Sandbox: Creator<S>, private readonly Pool: Creator<P>) {
    if (typeof id !== 'string' || id === '') throw configError('id', 'a tenant needs a non-empty string id')
    const { maxInstances, memory, fuelTotal, ...rest } = quota
    const unknown = Object.keys(rest)[0]
    if (unknown) throw configError(unknown, 'unknown tenant quota', 'known quotas: maxInstances, memory, fuelTotal')
    if (maxInstances !== undefined && !(Number.isSafeInteger(maxInstances) && maxInstances >= 0)) throw configError('maxInstances', `expected a whole number, got ${String(maxInstances)}`)
    if (fuelTotal !== undefined && !((typeof fuelTotal === 'bigint' && fuelTotal >= 0n) || (typeof fuelTotal === 'number' && Number.isSafeInteger(fuelTotal) && fuelTotal >= 0))) {
      throw configError('fuelTotal', `expected a whole number or a bigint, got ${String(fuelTotal)}`)
    }
    // The budget a call gets is what is left; it travels as an i64 (the meter's counter).
    if (fuelTotal !== undefined && BigInt(fuelTotal) > MAX_FUEL) throw configError('fuelTotal', `must be at most 2^63-1, got ${String(fuelTotal)}`)
    this.maxInstances = maxInstances ?? null
    this.memoryLimit = memory === undefined ? null : parseBytes(memory, 'memory')
    this.fuelTotal = fuelTotal === undefined ? null : BigInt(fuelTotal)
  }

  /** A sandbox counted against this tenant (see `Sandbox.create`). */
  async createSandbox(source: unknown, options: SandboxOptions = {}): Promise<S> {
    return this.Sandbox.create(source, options, this.owner(normalizeOptions(options).memoryBytes))
  }

  /** A pool whose every sandbox counts against this tenant (see `SandboxPool.create`). */
  async createPool(source: unknown, options: PoolOptions = {}): Promise<P> {
    const memoryBytes = normalizeOptions(splitPoolOptions(options).sandbox).memoryBytes
    return this.Pool.create(source, options, () => this.owner(memoryBytes))
  }

  usage(): TenantUsage {
    return { instances: this.instances, memoryBytes: this.memoryBytes, fuelUsed: this.fuelUsed, calls: this.calls }
  }

  private exceeded(kind: string, limit: number | bigint, used: number | bigint, what: string): SandboxError {
    return new SandboxError('QUOTA_EXCEEDED', `tenant ${JSON.stringify(this.id)} is over its ${kind} quota: ${what}`, {
      kind, limit, used, suggestion: `close sandboxes of tenant ${JSON.stringify(this.id)}, or raise its ${kind} quota`,
    })
  }

  /** Reserves one instance and its memory cap (or throws), returning the sandbox's owner. */
  private owner(memoryBytes: number): SandboxOwner {
    if (this.maxInstances !== null && this.instances + 1 > this.maxInstances) {
      throw this.exceeded('maxInstances', this.maxInstances, this.instances + 1, `${this.instances} of ${this.maxInstances} instances are live`)
    }
    if (this.memoryLimit !== null && this.memoryBytes + memoryBytes > this.memoryLimit) {
      throw this.exceeded('memory', this.memoryLimit, this.memoryBytes + memoryBytes, `another ${memoryBytes} bytes would make ${this.memoryBytes + memoryBytes}`)
    }
    this.instances++
    this.memoryBytes += memoryBytes
    let released = false
    return {
      admit: () => {
        if (this.fuelTotal === null) return undefined
        const left = this.fuelTotal - this.fuelUsed
        if (left <= 0n) throw this.exceeded('fuelTotal', this.fuelTotal, this.fuelUsed, `all ${this.fuelTotal} fuel is used`)
        return left
      },
      charge: (usage: Usage) => {
        this.calls += usage.calls // 0 for a start function
        // A figure from the worker is never trusted to refund: the total only grows.
        if (usage.fuelUsed > 0n) this.fuelUsed += usage.fuelUsed
      },
      exhausted: () => this.exceeded('fuelTotal', this.fuelTotal ?? 0n, this.fuelUsed, `all ${this.fuelTotal} fuel is used`),
      release: () => {
        if (released) return
        released = true
        this.instances--
        this.memoryBytes -= memoryBytes
      },
    }
  }
}
