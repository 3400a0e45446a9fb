import { SandboxError } from '../errors/index.js'
import { configError, normalizeOptions } from '../policy/normalize.js'
import type { SandboxOptions } from '../policy/options.js'
import type { CallOptions } from '../sandbox/call-args.js'
import { splitCallArgs } from '../sandbox/call-args.js'
import type { SandboxBase } from '../sandbox/sandbox-base.js'

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
}

export interface PoolStats {
  /** Sandboxes alive (idle + busy). */
  size: number
  idle: number
  busy: number
  /** Calls waiting for a sandbox. */
  queued: number
  /** Calls finished (either way). */
  calls: number
  /** Calls that ended in an error. */
  failures: number
}

interface Member<S> { sandbox: S; idleTimer: unknown }

type Timers = { setTimer(callback: () => void, ms: number): unknown; clearTimer(handle: unknown): void }
type Limits = Required<Pick<PoolOptions, 'min' | 'max' | 'idleTimeoutMs' | 'maxQueued'>>
type SandboxClass<S> = { create(source: unknown, options?: SandboxOptions): Promise<S> }

/**
 * Several sandboxes of one module, one call per sandbox at a time. Calls beyond the busy
 * sandboxes start a new one (up to `max`) or wait in a bounded queue (`maxQueued`, then
 * OVERLOADED). Every sandbox shares the compiled module (the module cache), so growing the
 * pool costs a worker and an instantiation, not a compilation. A sandbox keeps its instance
 * between calls; a call that times out replaces it (as for any sandbox). Each adapter
 * subclasses this as `SandboxPool`, naming its `Sandbox` class and timers.
 */
export class SandboxPoolBase<S extends SandboxBase> {
  protected static Sandbox: SandboxClass<SandboxBase>
  protected static timers: Timers

  private readonly idle: Member<S>[] = []
  private readonly busy = new Set<S>()
  private readonly waiting: { resolve: (member: Member<S>) => void; reject: (error: SandboxError) => void }[] = []
  private starting = 0
  private calls = 0
  private failures = 0
  private closed = false
  private drained: (() => void) | null = null

  protected constructor(private readonly createSandbox: () => Promise<S>, private readonly timers: Timers, private readonly limits: Limits) {}

  /** Validates the options and starts `min` sandboxes (at least one, so a bad module fails here). */
  static async create<P extends SandboxPoolBase<SandboxBase>>(this: { prototype: P }, source: unknown, options: PoolOptions = {}): Promise<P> {
    const Self = this as unknown as { Sandbox: SandboxClass<SandboxBase>; timers: Timers; new (create: () => Promise<SandboxBase>, timers: Timers, limits: Limits): P }
    const { min = 1, max = 4, idleTimeoutMs = 30_000, maxQueued = 1000, ...sandboxOptions } = options
    normalizeOptions(sandboxOptions) // fail fast on bad sandbox options
    const count = (value: unknown, field: string, least: number) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) throw configError(field, `expected a whole number of at least ${least}, got ${String(value)}`)
    }
    count(min, 'min', 0); count(max, 'max', 1); count(idleTimeoutMs, 'idleTimeoutMs', 0); count(maxQueued, 'maxQueued', 0)
    if (min > max) throw configError('min', `min (${min}) is above max (${max})`)
    const pool = new Self(() => Self.Sandbox.create(source, sandboxOptions), Self.timers, { min, max, idleTimeoutMs, maxQueued })
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
    return this.use((sb) => sb.callJson(fn, value, options))
  }

  callBytes(fn: string, input: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    return this.use((sb) => sb.callBytes(fn, input, options))
  }

  stats(): PoolStats {
    return {
      size: this.idle.length + this.busy.size, idle: this.idle.length, busy: this.busy.size,
      queued: this.waiting.length, calls: this.calls, failures: this.failures,
    }
  }

  /** Stops taking calls, lets the running ones finish, then closes every sandbox. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const waiter of this.waiting.splice(0)) waiter.reject(new SandboxError('CLOSED', 'the pool was closed'))
    if (this.busy.size > 0) await new Promise<void>((resolve) => { this.drained = resolve })
    await Promise.all(this.idle.splice(0).map((m) => { this.timers.clearTimer(m.idleTimer); return m.sandbox.close() }))
  }

  private async use<R>(task: (sandbox: S) => Promise<R>): Promise<R> {
    const member = await this.acquire()
    try {
      const result = await task(member.sandbox)
      this.calls++
      return result
    } catch (error) {
      this.calls++
      this.failures++
      throw error
    } finally {
      this.release(member)
    }
  }

  private acquire(): Promise<Member<S>> {
    if (this.closed) return Promise.reject(new SandboxError('CLOSED', 'the pool is closed'))
    const member = this.idle.pop()
    if (member) {
      this.timers.clearTimer(member.idleTimer)
      this.busy.add(member.sandbox)
      return Promise.resolve(member)
    }
    if (this.busy.size + this.starting < this.limits.max) {
      return this.grow().then((m) => { this.busy.add(m.sandbox); return m })
    }
    if (this.waiting.length >= this.limits.maxQueued) {
      return Promise.reject(new SandboxError('OVERLOADED', `the pool is overloaded: ${this.busy.size} calls running and ${this.waiting.length} queued`, {
        kind: 'queue', limit: this.limits.maxQueued, used: this.waiting.length, suggestion: 'raise `max` or `maxQueued`, or slow down',
      }))
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  private async grow(): Promise<Member<S>> {
    this.starting++
    try {
      return { sandbox: await this.createSandbox(), idleTimer: null }
    } finally {
      this.starting--
    }
  }

  private release(member: Member<S>): void {
    this.busy.delete(member.sandbox)
    if (this.closed) {
      this.idle.push(member)
      if (this.busy.size === 0) this.drained?.()
      return
    }
    const waiter = this.waiting.shift()
    if (waiter) {
      this.busy.add(member.sandbox)
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
      }, this.limits.idleTimeoutMs)
    }
  }
}
