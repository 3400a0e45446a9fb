import type { SandboxError, Usage } from '../errors/index.js'
import { MAX_AUDIT_EVENTS, type SecurityEvent } from '../audit/security-event.js'
import { AuditRing } from '../audit/audit-ring.js'
import { MAX_FUEL } from '../meter/meter-control.js'
import { MetricsRecorder, type Metrics } from '../observe/metrics.js'
import type { NormalizedPolicy } from '../policy/options.js'
import type { CallReport, CallRequest } from '../protocol/messages.js'
import type { SandboxOwner } from './sandbox-types.js'
import { addUsage, emptyUsage } from './usage.js'

/** Errors of a call whose worker was stopped from outside, so it could not report its usage. */
const STOPPED_FROM_OUTSIDE: ReadonlySet<string> = new Set(['TIMEOUT', 'CANCELLED'])

/**
 * Where every call's usage goes, whichever path it took: `lastUsage`, the running total,
 * the metrics, the audit log, the owner's (a tenant's) account and `onEvent`. Also asks the
 * owner to admit each call.
 */
export class UsageRecorder {
  /** Usage of the last finished call. */
  lastUsage: Usage | null = null
  /** Every call so far; fuel budgets are per call, so the total has none. */
  readonly total: Usage = emptyUsage(null)
  private readonly auditLog = new AuditRing<SecurityEvent>(MAX_AUDIT_EVENTS)
  private readonly metricsRecorder = new MetricsRecorder()

  constructor(private readonly policy: NormalizedPolicy, public owner: SandboxOwner | null) {}

  /** Records one call's usage and returns it. */
  record(fn: string, report: CallReport | undefined, wallMs: number, error?: SandboxError): Usage {
    const total = this.total
    const memoryBytes = report?.memoryBytes ?? total.memoryBytes
    const usage: Usage = {
      fuelUsed: report?.fuelUsed ?? 0n, fuelLimit: this.policy.fuel, memoryBytes,
      memoryPeakBytes: Math.max(total.memoryPeakBytes, memoryBytes), wallMs, calls: 1, traps: error ? 1 : 0,
      hostCalls: report?.hostCalls ?? 0,
    }
    this.lastUsage = usage
    addUsage(total, usage)
    this.metricsRecorder.record(wallMs, usage.fuelUsed, error?.code)
    this.owner?.charge(report === undefined && error && STOPPED_FROM_OUTSIDE.has(error.code) ? { ...usage, fuelUsed: this.wholeBudget() } : usage)
    if (report?.audit) for (const event of report.audit) this.recordAudit(event)
    this.policy.onEvent?.({ type: 'call', time: Date.now(), export: fn, ok: !error, ...(error ? { code: error.code } : {}), usage: { ...usage } })
    return usage
  }

  /** A fresh instance is up: its start function's fuel is charged, its memory is the current size. */
  recordStart(report: CallReport): void {
    if (report.fuelUsed > 0n) this.owner?.charge({ ...emptyUsage(this.policy.fuel), fuelUsed: report.fuelUsed, calls: 0 })
    this.total.memoryBytes = report.memoryBytes
    this.total.memoryPeakBytes = Math.max(this.total.memoryPeakBytes, report.memoryBytes)
  }

  /** Keeps an audit event (the last {@link MAX_AUDIT_EVENTS}) and tells `onEvent`. */
  recordAudit(event: SecurityEvent): void {
    this.auditLog.push(event)
    this.policy.onEvent?.({ type: 'audit', ...event })
  }

  audit(): SecurityEvent[] {
    return this.auditLog.toArray().map((e) => ({ ...e }))
  }

  metrics(): Metrics {
    return this.metricsRecorder.snapshot()
  }

  /** Asks the owner (a tenant) to admit a call: it may refuse, or lower its fuel budget. */
  admit(request: CallRequest): CallRequest {
    if (!this.owner) return request
    let budget: bigint | undefined
    try {
      budget = this.owner.admit()
    } catch (error) {
      this.recordAudit({ time: Date.now(), capability: 'quota', operation: request.fn, detail: (error as Error).message })
      throw error
    }
    if (budget === undefined || (this.policy.fuel !== null && budget >= this.policy.fuel)) return request
    return { ...request, fuel: budget }
  }

  /** Fuel running out under a budget the owner lowered is the owner's quota, not the call's. */
  quotaError(request: CallRequest, error: SandboxError): SandboxError {
    if (request.fuel === undefined || error.code !== 'FUEL_EXHAUSTED' || !this.owner) return error
    const quota = this.owner.exhausted()
    this.recordAudit({ time: Date.now(), capability: 'quota', operation: request.fn, detail: quota.message })
    return quota
  }

  /**
   * What an owner is charged for a call stopped from outside (timeout, abort): its worker was
   * stopped mid-call and cannot say what it used, so the whole budget the call had, the only
   * figure that is never less than the work done.
   */
  private wholeBudget(): bigint {
    let left: bigint | undefined
    try { left = this.owner?.admit() } catch { left = 0n }
    const budget = this.policy.fuel ?? MAX_FUEL
    return left !== undefined && left < budget ? left : budget
  }
}
