import { SandboxError } from '../errors/index.js'
import { MetricsRecorder, type Metrics } from '../observe/metrics.js'
import { configError, normalizeOptions } from '../policy/normalize.js'
import type { SandboxOptions } from '../policy/options.js'
import type { CallOptions } from '../sandbox/call-args.js'
import { splitCallArgs } from '../sandbox/call-args.js'
import type { SandboxBase } from '../sandbox/sandbox-base.js'
import type { ReloadReport, SandboxOwner } from '../sandbox/sandbox-types.js'
import type { ExportDescriptor } from '../meter/module-types.js'

/** Options of `SandboxPool.create`: the pool's own, plus any sandbox option. */
export interface PoolOptions extends SandboxOptions {
  /** Sandboxes started at once and kept warm. Default 1. */
  min?: number
  /** Most sandboxes at a time. Default 4. */
  max?: number
  /** An idle sandbox above `min` is closed after this long. Default 30s. */
  idleTimeoutMs?: number
  /** Most calls waiting for a sandbox; beyond, calls reject with OVERLOADED. Default 1000. */
  maxQueued?: number
  /**
   * `'instance'` (default): a sandbox keeps its instance between calls (fast; state carries
   * over). `'fresh'`: every call gets a fresh instance (no state leaks from call to call).
   * Either way, a sandbox whose call trapped gets a fresh instance before its next call.
   */
  reuse?: 'instance' | 'fresh'
}

export interface PoolStats {
  /** Sandboxes alive (idle + busy). */
  size: number
  idle: number
  busy: number
  /** Calls waiting for a sandbox, or queued behind another call in one (see `SandboxPool`). */
  queued: number
  /** Calls finished (either way). */
  calls: number
  /** Calls that ended in an error. */
  failures: number
}

/** A pool's own options, apart from the options of its sandboxes. */
export function splitPoolOptions(options: PoolOptions): { pool: Pick<PoolOptions, 'min' | 'max' | 'idleTimeoutMs' | 'maxQueued' | 'reuse'>; sandbox: SandboxOptions } {
  const { min, max, idleTimeoutMs, maxQueued, reuse, ...sandbox } = options
  return { pool: { min, max, idleTimeoutMs, maxQueued, reuse }, sandbox }
}

interface Member<S> {
  sandbox: S
  idleTimer: unknown
  /** Calls holding it: one, or more while bytes calls are pipelined into it. */
  users: number
  /** Whether its users are all bytes calls, which others may join. */
  pipelined: boolean
}

/** Most bytes calls pipelined into one busy sandbox. */
const MAX_PIPELINED = 64

export type Timers = { setTimer(callback: () => void, ms: number, background?: boolean): unknown; clearTimer(handle: unknown): void; now(): number }
export type Limits = Required<Pick<PoolOptions, 'min' | 'max' | 'idleTimeoutMs' | 'maxQueued' | 'reuse'>>

export type SandboxClass<S> = { create(source: unknown, options?: SandboxOptions, owner?: SandboxOwner | null): Promise<S> }

/**
 * Several sandboxes of one module, one call per sandbox at a time. Calls beyond the busy
 * sandboxes start a new one (up to `max`) or wait in a bounded queue (`maxQueued`, then
 * OVERLOADED). Once all `max` are busy, bytes and JSON calls are pipelined instead: queued
 * in the least busy sandbox (up to 64 each, counted against `maxQueued`), whose worker then
 * runs them back to back without waiting for the host between them (see `CallPipeline`).
 * Every sandbox shares the compiled module (the module cache), so growing the pool costs a
 * worker and an instantiation, not a compilation. A sandbox keeps its instance
 * between calls; a call that times out replaces it (as for any sandbox). Each adapter
 * gets its `SandboxPool` from `bindPlatform`.
 */
export class SandboxPoolBase<S extends SandboxBase> {
  private readonly idle: Member<S>[] = []
  private readonly busy = new Set<Member<S>>()
  private readonly waiting: { resolve: (member: Member<S>) => void; reject: (error: SandboxError) => void }[] = []
  private starting = 0
  private calls = 0
  private failures = 0
  private closed = false
  private drained: (() => void) | null = null
  private readonly metricsRecorder = new MetricsRecorder()

  private createSandbox: () => Promise<S>

  /** @internal Adapters make pools with `create` (see `bindPlatform`). */
  protected constructor(
    private readonly Sandbox: SandboxClass<S>,
    private readonly timers: Timers,
    private readonly limits: Limits,
    private readonly sandboxOptions: SandboxOptions,
    source: unknown,
    private readonly makeOwner: (() => SandboxOwner) | null,
  ) {
    this.createSandbox = () => Sandbox.create(source, sandboxOptions, makeOwner?.() ?? null)
  }

  /**
   * @internal What `SandboxPool.create` runs: validates the options and starts `min`
   * sandboxes (at least one, so a bad module fails here). `make` calls the adapter's constructor.
   */
  protected static async start<S extends SandboxBase, P extends SandboxPoolBase<S>>(
    options: PoolOptions,
    make: (limits: Limits, sandboxOptions: SandboxOptions) => P,
  ): Promise<P> {
    const { pool: { min = 1, max = 4, idleTimeoutMs = 30_000, maxQueued = 1000, reuse = 'instance' }, sandbox: sandboxOptions } = splitPoolOptions(options)
    normalizeOptions(sandboxOptions) // fail fast on bad sandbox options
    const count = (value: unknown, field: string, least: number) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) throw configError(field, `expected a whole number of at least ${least}, got ${String(value)}`)
    }
    count(min, 'min', 0); count(max, 'max', 1); count(idleTimeoutMs, 'idleTimeoutMs', 0); count(maxQueued, 'maxQueued', 0)
    if (min > max) throw configError('min', `min (${min}) is above max (${max})`)
    if (reuse !== 'instance' && reuse !== 'fresh') throw configError('reuse', `expected 'instance' or 'fresh', got ${JSON.stringify(reuse)}`)
    const pool = make({ min, max, idleTimeoutMs, maxQueued, reuse }, sandboxOptions)
    const first = await Promise.all(Array.from({ length: Math.max(1, min) }, () => pool.grow()))
    for (const member of first) pool.release(member)
    return pool
  }

  /** Calls an export on an idle sandbox (a trailing `{ signal, timeout }` is the call's options). */
  call(fn: string, ...args: unknown[]): Promise<any> {
    const split = splitCallArgs(args)
    return this.use((sb) => sb.call(fn, ...split.args, ...(Object.keys(split.options).length ? [split.options] : [])))
  }

  callJson(fn: string, value: unknown, options: CallOptions = {}): Promise<any> {
    return this.use((sb) => sb.callJson(fn, value, options), true)
  }

  callBytes(fn: string, input: Uint8Array | string, options: CallOptions = {}): Promise<Uint8Array> {
    return this.use((sb) => sb.callBytes(fn, input, options), true)
  }

  /** The module's exports (as `Sandbox.exports()`). */
  exports(): ExportDescriptor[] {
    const any = this.idle[0]?.sandbox ?? this.busy.values().next().value?.sandbox
    return any ? any.exports() : []
  }

  stats(): PoolStats {
    return {
      size: this.idle.length + this.busy.size, idle: this.idle.length, busy: this.busy.size,
      queued: this.queued(), calls: this.calls, failures: this.failures,
    }
  }

  /** Stops taking calls, lets the running ones finish, then closes every sandbox. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const waiter of this.waiting.splice(0)) waiter.reject(new SandboxError('CLOSED', 'the pool was closed'))
    if (this.busy.size > 0 || this.starting > 0) await new Promise<void>((resolve) => { this.drained = resolve })
    await Promise.all(this.idle.splice(0).map((m) => { this.timers.clearTimer(m.idleTimer); return m.sandbox.close() }))
  }

  /** `await using pool = await SandboxPool.create(...)` closes the pool at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Resizes the pool to `size` sandboxes: starts them now (raising `max` if needed) and
   * lets idle ones above it close; `size` becomes the new `min`.
   */
  async scale(size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw configError('size', `expected a whole number of at least 0, got ${String(size)}`)
    this.limits.min = size
    this.limits.max = Math.max(this.limits.max, size, 1)
    const missing = size - (this.idle.length + this.busy.size + this.starting)
    const started = await Promise.all(Array.from({ length: Math.max(0, missing) }, () => this.grow()))
    for (const member of started) this.release(member)
    for (const member of this.idle.splice(Math.max(0, size - this.busy.size))) {
      this.timers.clearTimer(member.idleTimer)
      void member.sandbox.close()
    }
  }

  /**
   * Hot reload of every sandbox (see `Sandbox.reload`): idle ones at once, busy ones after
   * their call. Resolves with the comparison; an incompatible module is refused unless
   * `force`, and new sandboxes start from the new module.
   */
  async reload(source: unknown, options: { force?: boolean } = {}): Promise<ReloadReport> {
    const members = [...this.idle, ...this.busy].map((m) => m.sandbox)
    if (members.length === 0) throw new SandboxError('CLOSED', 'the pool has no sandbox to reload')
    const [first, ...rest] = members
    const report = await first!.reload(source, options)
    if (report.applied) {
      await Promise.all(rest.map((sb) => sb.reload(source, { force: true })))
      this.createSandbox = () => this.Sandbox.create(source, this.sandboxOptions, this.makeOwner?.() ?? null)
    }
    return report
  }

  /** Calls, failures by code, fuel and wall-time percentiles (queueing included) of the pool. */
  metrics(): Metrics {
    return this.metricsRecorder.snapshot()
  }

  /** Runs `task` on a sandbox of its own — or, for a bytes call (`pipelined`), maybe on a busy one. */
  private async use<R>(task: (sandbox: S) => Promise<R>, pipelined = false): Promise<R> {
    const started = this.timers.now()
    let member: Member<S>
    try {
      // A tenant's sandboxes run calls one by one (it admits and charges each): no sharing.
      member = await this.acquire(pipelined && this.limits.reuse === 'instance' && !this.makeOwner)
    } catch (error) { // OVERLOADED, CLOSED, or no sandbox could start: a failed call too
      this.calls++
      this.failures++
      this.metricsRecorder.record(this.timers.now() - started, 0n, error instanceof SandboxError ? error.code : 'INTERNAL')
      throw error
    }
    try {
      const result = await task(member.sandbox)
      this.calls++
      this.metricsRecorder.record(this.timers.now() - started, member.sandbox.lastUsage?.fuelUsed ?? 0n)
      return result
    } catch (error) {
      this.calls++
      this.failures++
      const code = error instanceof SandboxError ? error.code : 'INTERNAL'
      this.metricsRecorder.record(this.timers.now() - started, (error as SandboxError).usage?.fuelUsed ?? 0n, code)
      throw error
    } finally {
      // After a guest fault the sandbox replaces its instance itself (see `grow`).
      if (this.limits.reuse === 'fresh') {
        // A fresh instance before the next call; a sandbox that cannot restart is dropped.
        member.sandbox.reset().then(() => this.release(member), () => this.drop(member))
      } else {
        this.release(member)
      }
    }
  }

  /**
   * Forgets a broken sandbox. Calls waiting for one get a replacement (or, if none can start,
   * its error); the pool refills to `min` in the background.
   */
  private drop(member: Member<S>): void {
    this.busy.delete(member)
    void member.sandbox.close()
    if (this.closed) {
      this.checkDrained()
      return
    }
    const missing = Math.max(this.waiting.length > 0 ? 1 : 0, this.limits.min - (this.idle.length + this.busy.size + this.starting))
    for (let i = 0; i < missing; i++) {
      this.grow().then((m) => this.release(m), (error: unknown) => {
        const waiter = this.waiting.shift()
        waiter?.reject(error instanceof SandboxError ? error : new SandboxError('INTERNAL', String(error)))
      })
    }
  }

  private checkDrained(): void {
    if (this.busy.size === 0 && this.starting === 0) this.drained?.()
  }

  private acquire(pipelined: boolean): Promise<Member<S>> {
    if (this.closed) return Promise.reject(new SandboxError('CLOSED', 'the pool is closed'))
    const member = this.idle.pop()
    if (member) {
      this.timers.clearTimer(member.idleTimer)
      return Promise.resolve(this.take(member, pipelined))
    }
    if (this.busy.size + this.starting < this.limits.max) {
      return this.grow().then((m) => this.take(m, pipelined))
    }
    const queued = this.queued() // a pipelined call waits too: it counts against maxQueued
    if (queued >= this.limits.maxQueued) {
      return Promise.reject(new SandboxError('OVERLOADED', `the pool is overloaded: ${this.busy.size} calls running and ${queued} queued`, {
        kind: 'queue', limit: this.limits.maxQueued, used: queued, suggestion: 'raise `max` or `maxQueued`, or slow down',
      }))
    }
    if (pipelined) {
      let least: Member<S> | null = null
      for (const m of this.busy) if (m.pipelined && m.users < MAX_PIPELINED && (!least || m.users < least.users)) least = m
      if (least) {
        least.users++
        return Promise.resolve(least)
      }
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve: (m) => resolve(this.take(m, pipelined)), reject }))
  }

  /** Calls waiting for a sandbox, or pipelined behind another call in one. */
  private queued(): number {
    let queued = this.waiting.length
    for (const m of this.busy) queued += m.users - 1
    return queued
  }

  /** Marks a free sandbox busy with its first user. */
  private take(member: Member<S>, pipelined: boolean): Member<S> {
    member.users = 1
    member.pipelined = pipelined
    this.busy.add(member)
    return member
  }

  private async grow(): Promise<Member<S>> {
    this.starting++
    let sandbox: S
    try {
      sandbox = await this.createSandbox()
    } finally {
      this.starting--
    }
    if (this.closed) { // closed while it started: it never serves
      await sandbox.close()
      this.checkDrained()
      throw new SandboxError('CLOSED', 'the pool was closed')
    }
    // A call that faults leaves a fresh instance for the next, even one pipelined already.
    sandbox.replaceAfterFaults()
    return { sandbox, idleTimer: null, users: 0, pipelined: false }
  }

  private release(member: Member<S>): void {
    if (member.users > 1) { // pipelined calls still hold it
      member.users--
      return
    }
    member.users = 0
    this.busy.delete(member)
    if (this.closed) {
      void member.sandbox.close()
      this.checkDrained()
      return
    }
    const waiter = this.waiting.shift()
    if (waiter) {
      waiter.resolve(member)
      return
    }
    this.idle.push(member)
    if (this.idle.length + this.busy.size > this.limits.min) {
      member.idleTimer = this.timers.setTimer(() => {
        const index = this.idle.indexOf(member)
        if (index < 0 || this.idle.length + this.busy.size <= this.limits.min) return
        this.idle.splice(index, 1)
        void member.sandbox.close()
      }, this.limits.idleTimeoutMs, true) // an idle pool does not hold the process
    }
  }
}
