import { SandboxError, type Usage } from '../errors/index.js'
import { RING_SLOTS, type CallChannel, type RingOutcome } from '../protocol/call-channel.js'
import type { CallReport } from '../protocol/messages.js'
import type { Live, WorkerLink } from './live-worker.js'
import type { Platform } from './platform.js'
import { timeoutError } from './call-guard.js'
import { StopSignal } from './stop-signal.js'

/** What the pipeline needs of its sandbox besides the worker: where usage goes, and what follows a failed call. */
export interface PipelineHooks {
  /** Records a finished call's usage (also on its error) and returns it. */
  record(fn: string, report: CallReport | undefined, wallMs: number, error?: SandboxError): Usage
  /** Called after a call failed, before the next runs: replaces a faulted instance if the sandbox wants that. */
  afterFailure(): Promise<void>
}

/** A pipelined bytes call. */
interface Ticket {
  fn: string
  /** Its index in the call channel. */
  index: number
  input: Uint8Array
  timeoutMs: number
  /** Its id in the worker it was sent to. */
  callId: number
  resolve(output: Uint8Array): void
  reject(error: unknown): void
  /** An output too large for its ring slot, which came as a message (and who waits for it). */
  byMessage: Uint8Array | null
  onMessage: (() => void) | null
}

/** The ring of one worker: which ticket sits in which slot. */
interface Ring {
  live: Live
  channel: CallChannel
  slots: (Ticket | null)[]
  /** The next slot to fill, and the oldest slot in use. */
  head: number
  tail: number
  /** Why the worker stopped, once it has. */
  killed: SandboxError | null
  /** Set once the worker has stopped. */
  stopped: StopSignal
  /** The slot blamed for a timeout. */
  timedOut: number | null
  /** A failed call was settled: the worker is halted until `resume`. */
  failed: boolean
}

/**
 * Pipelined bytes calls: under load, the thread that feeds a worker is the bottleneck,
 * and a worker that must wait for it between calls sits idle. So bytes calls go into a
 * ring of slots in the call channel, which the worker runs in order while this thread
 * parses the next request or writes the last response; one loop here (`settle`) takes
 * the outcomes as they come, serves host functions and keeps the ring filled.
 *
 * The calls behave exactly as calls one by one: in order, each with its own timeout
 * (counted from when it starts running), usage and error. The worker stops after a failed
 * call until this side has dealt with it (a pool replaces the instance), and calls that
 * had not run when a worker was stopped run on a fresh one.
 */
export class CallPipeline {
  /** Calls waiting for a slot (or for a fresh worker), in order. */
  private readonly waiting: Ticket[] = []
  private ring: Ring | null = null
  /** Calls not yet settled. */
  private inFlight = 0
  private drainWaiters: (() => void)[] = []
  private timer: unknown = null
  private settling = false

  constructor(
    private readonly link: WorkerLink,
    private readonly hooks: PipelineHooks,
    private readonly timers: Pick<Platform, 'setTimer' | 'clearTimer'>,
  ) {}

  /** Whether no call is in the pipeline. */
  idle(): boolean {
    return this.inFlight === 0
  }

  /** Resolves once every call in the pipeline has settled (before a call that cannot be pipelined). */
  drained(): Promise<void> | undefined {
    if (this.inFlight === 0) return undefined
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Adds a call for `live` (whose channel has a ring); resolves with its output. */
  add(live: Live, fn: string, index: number, input: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting.push({ fn, index, input, timeoutMs, callId: 0, resolve, reject, byMessage: null, onMessage: null })
      this.inFlight++
      if (!this.settling && this.ring?.live !== live) this.ring = this.newRing(live) // the old ring, if any, is empty
      this.fill()
      this.armTimer()
      if (!this.settling) void this.settle()
    })
  }

  private newRing(live: Live): Ring {
    return { live, channel: live.channel!, slots: new Array(RING_SLOTS).fill(null), head: 0, tail: 0, killed: null, stopped: new StopSignal(), timedOut: null, failed: false }
  }

  /** Moves waiting calls into free slots, in order. */
  private fill(): void {
    const ring = this.ring
    if (!ring || ring.live.dead) return
    while (this.waiting.length > 0 && ring.slots[ring.head] === null) { // slots free up in order, as `take` frees them
      const ticket = this.waiting.shift()!
      const callId = ticket.callId = this.link.nextId()
      ring.live.pending.set(callId, (reply) => {
        if (reply instanceof SandboxError) { // the worker stopped (its channel wakes `settle`)
          ring.killed ??= reply
          ring.stopped.stop()
        } else if (reply.type === 'result') {
          ticket.byMessage = reply.value as Uint8Array
          ticket.onMessage?.()
        }
      })
      ring.slots[ring.head] = ticket
      ring.channel.submit(ring.head, ticket.index, ticket.input, callId)
      ring.head = (ring.head + 1) % RING_SLOTS
    }
  }

  /** The loop that settles calls as the worker finishes them, until the pipeline is empty. */
  private async settle(): Promise<void> {
    this.settling = true
    try {
      for (;;) {
        const ring = this.ring
        if (!ring) { // the worker was stopped: the calls left run on a fresh one
          if (this.inFlight === 0) break
          try {
            this.ring = this.newRing(await this.link.worker())
          } catch (error) {
            for (const ticket of this.waiting.splice(0)) this.finish(ticket, () => ticket.reject(error))
            break
          }
          this.fill()
          continue
        }
        const seen = ring.channel.completions()
        let outcome: RingOutcome | null
        while (ring.slots[ring.tail] && (outcome = ring.channel.take(ring.tail))) {
          const ticket = ring.slots[ring.tail]!
          ring.slots[ring.tail] = null
          ring.tail = (ring.tail + 1) % RING_SLOTS
          await this.settleOne(ring, ticket, outcome)
        }
        if (ring.live.dead) {
          this.afterStop(ring)
          continue
        }
        if (ring.failed) { // the worker halted after it: let the sandbox deal with it first
          ring.failed = false
          await this.hooks.afterFailure().catch(() => {}) // a replacement that fails stops the worker: handled above
          ring.channel.resume()
          continue
        }
        if (ring.channel.hostCallPending()) {
          const call = ring.channel.takeHostCall()
          await ring.stopped.race(this.link.serveHostCall(ring.live, call.index, call.args))
          continue
        }
        if (this.inFlight === 0) break
        this.fill()
        await ring.channel.waitCompletion(seen)
      }
    } catch (error) { // a bug: fail what is left rather than leave it hanging
      const ring = this.ring
      this.ring = null
      if (ring) void this.link.kill(new SandboxError('INTERNAL', 'the call pipeline failed', { cause: error }), ring.live)
      for (const ticket of [...(ring?.slots ?? []), ...this.waiting.splice(0)]) if (ticket) this.finish(ticket, () => ticket.reject(error))
    } finally {
      this.settling = false
      if (this.timer !== null) this.timers.clearTimer(this.timer)
      this.timer = null
    }
  }

  /** Settles a finished call (an `onEvent` that throws fails the call, as it would alone). */
  private async settleOne(ring: Ring, ticket: Ticket, outcome: RingOutcome): Promise<void> {
    if (!outcome.ok) ring.failed = true
    try {
      // An output by message was posted before the call was marked finished: it is on its way.
      const output = !outcome.ok ? null : outcome.output ?? ticket.byMessage ?? (await ring.stopped.race(new Promise<Uint8Array | null>((resolve) => { ticket.onMessage = () => resolve(ticket.byMessage) })) ?? null)
      if (output) {
        this.hooks.record(ticket.fn, outcome.report, outcome.wallMs)
        this.finish(ticket, () => ticket.resolve(output), ring)
        return
      }
      const error = outcome.ok ? ring.killed! : SandboxError.from(outcome.error)
      error.usage = this.hooks.record(ticket.fn, outcome.report, outcome.wallMs, error)
      this.finish(ticket, () => ticket.reject(error), ring)
    } catch (error) {
      this.finish(ticket, () => ticket.reject(error), ring)
    }
  }

  /**
   * After the worker stopped: the call it was running fails with the reason; those it had
   * not started wait for a fresh worker, ahead of the others.
   */
  private afterStop(ring: Ring): void {
    const running = ring.channel.running()
    const blamed = ring.timedOut ?? running?.slot ?? null
    const notRun: Ticket[] = []
    for (let slot = ring.tail; ring.slots[slot]; slot = (slot + 1) % RING_SLOTS) {
      const ticket = ring.slots[slot]!
      ring.slots[slot] = null
      ring.live.pending.delete(ticket.callId)
      if (slot === blamed) {
        const error = ring.killed ?? new SandboxError('INTERNAL', 'the sandbox worker stopped')
        this.finish(ticket, () => {
          try {
            error.usage = this.hooks.record(ticket.fn, undefined, running ? Math.max(0, Date.now() - running.since) : 0, error)
            ticket.reject(error)
          } catch (thrown) {
            ticket.reject(thrown)
          }
        })
      } else notRun.push(ticket)
    }
    this.waiting.unshift(...notRun)
    this.ring = null
  }

  private finish(ticket: Ticket, settle: () => void, ring?: Ring): void {
    ring?.live.pending.delete(ticket.callId)
    settle()
    if (--this.inFlight === 0) for (const resolve of this.drainWaiters.splice(0)) resolve()
  }

  /**
   * One timer for the pipeline: it looks at the call running now, and stops the worker
   * once that call has run longer than its timeout.
   */
  private armTimer(): void {
    if (this.timer !== null) return
    const check = (): void => {
      this.timer = null
      const ring = this.ring
      if (this.inFlight === 0 || !ring || ring.live.dead) return
      const running = ring.channel.running()
      const ticket = running ? ring.slots[running.slot] : null
      if (!running || !ticket) return this.armTimer() // between calls: look again a timeout later
      const ranMs = Date.now() - running.since
      if (ranMs < ticket.timeoutMs) {
        this.timer = this.timers.setTimer(check, ticket.timeoutMs - ranMs)
        return
      }
      ring.timedOut = running.slot
      void this.link.kill(timeoutError(ticket.fn, ticket.timeoutMs, ranMs), ring.live)
    }
    let shortest = Infinity
    for (const t of [...(this.ring?.slots ?? []), ...this.waiting]) if (t && t.timeoutMs < shortest) shortest = t.timeoutMs
    if (shortest !== Infinity) this.timer = this.timers.setTimer(check, shortest)
  }
}
