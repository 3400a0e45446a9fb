import { SandboxError } from '../errors/index.js'
import type { NormalizedPolicy } from '../policy/options.js'
import { parseDuration } from '../policy/units.js'
import type { CallOptions } from './call-args.js'
import type { Platform } from './platform.js'

type Timers = Pick<Platform, 'now' | 'setTimer' | 'clearTimer'>

/** The wall-clock limit of a call: its own `timeout` option, or the sandbox's. */
export function callTimeoutMs(options: CallOptions, policy: NormalizedPolicy): number {
  return options.timeout === undefined ? policy.timeoutMs : parseDuration(options.timeout, 'timeout')
}

/** The error of a call stopped by its timeout (whichever path it took). */
export function timeoutError(fn: string, limitMs: number, usedMs: number): SandboxError {
  return new SandboxError('TIMEOUT', `${fn}() ran longer than the timeout of ${limitMs}ms; its worker was stopped`, {
    kind: 'time', limit: limitMs, used: Math.max(Math.round(usedMs), limitMs), export: fn,
    suggestion: 'raise the `timeout` option, or set a `fuel` budget to stop runaway loops deterministically',
  })
}

export function cancelled(fn: string): SandboxError {
  return new SandboxError('CANCELLED', `${fn}() was cancelled`, { export: fn })
}

/**
 * The per-call timeout and the caller's AbortSignal for calls sent to a worker: either one
 * calls `stop` with TIMEOUT or CANCELLED (which kills the worker). `arm(fn)` (re)starts the
 * clock for the call now running, so each call of a batch gets the whole timeout.
 */
export class CallGuard {
  private fn = ''
  private startedAt: number
  private timer: unknown = null
  private readonly onAbort: () => void

  constructor(
    private readonly timers: Timers,
    private readonly timeoutMs: number,
    private readonly signal: CallOptions['signal'],
    private readonly stop: (reason: SandboxError) => void,
  ) {
    this.startedAt = timers.now()
    this.onAbort = () => this.stop(cancelled(this.fn))
    signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  arm(fn: string): void {
    if (this.timer !== null) this.timers.clearTimer(this.timer)
    this.fn = fn
    this.startedAt = this.timers.now()
    this.timer = this.timers.setTimer(() => this.stop(timeoutError(this.fn, this.timeoutMs, this.timers.now() - this.startedAt)), this.timeoutMs)
  }

  /** Wall time of the call now running, in milliseconds. */
  elapsed(): number {
    return this.timers.now() - this.startedAt
  }

  disarm(): void {
    if (this.timer !== null) this.timers.clearTimer(this.timer)
    this.timer = null
    this.signal?.removeEventListener('abort', this.onAbort)
  }
}
