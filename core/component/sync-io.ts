import { SandboxError } from '../errors/index.js'
import { sleep } from '../wasi/sleep.js'
import type { Namespace, Preview2Shim } from './preview2-shim.js'

declare const performance: { now(): number }

/** A pollable whose readiness the sandbox can decide without waiting on a Promise. */
type PollableSource = { ready(): boolean; wait(): Promise<void> }

/**
 * Synchronous waiting for WASI 0.2 in a worker. The shim's `poll` and `pollable.block`
 * return Promises (they expect JSPI); a synchronously instantiated component cannot wait on
 * one. Here the worker may block: a pollable is ready now, becomes ready at a known
 * monotonic deadline (then the worker sleeps until it), or can never be waited for
 * synchronously (a trap that says so rather than a guest spinning until its fuel ends).
 */
export class SyncIo {
  /** Deadlines (ms, performance.now()) of clock pollables. */
  private readonly deadlines = new WeakMap<object, number>()

  constructor(private readonly shim: Preview2Shim) {}

  /** A pollable ready when `ready()` says so (checked synchronously). */
  pollable(source: Partial<PollableSource> = {}): object {
    return this.shim.io.pollableCreate({ ready: source.ready ?? (() => true), wait: source.wait ?? (() => Promise.resolve()) })
  }

  /** `wasi:io/poll`: `poll` returns the ready indices, sleeping until the earliest deadline if none is. */
  pollNamespace(): Namespace {
    const Pollable = this.shim.io.poll.Pollable as { prototype: Record<string, unknown> }
    const io = this
    // block() on the shim's class answers a Promise; in this worker it waits for real.
    Pollable.prototype.block = function block(this: { ready(): boolean }) {
      io.waitFor([this])
    }
    return {
      Pollable,
      poll: (list: { ready(): boolean }[]) => {
        if (list.length === 0) throw new SandboxError('TRAP', 'wasi:io/poll: poll of an empty list', { trap: 'poll of an empty list' })
        this.waitFor(list)
        return new Uint32Array(list.flatMap((p, i) => (p.ready() ? [i] : [])))
      },
    }
  }

  /** `wasi:clocks/monotonic-clock` with pollables whose deadline this class knows. */
  monotonicClock(clock: Namespace): Namespace {
    const at = (deadlineMs: number) => {
      const p = this.pollable({ ready: () => performance.now() >= deadlineMs })
      this.deadlines.set(p, deadlineMs)
      return p
    }
    return {
      ...clock,
      subscribeDuration: (ns: bigint) => at(performance.now() + Number(ns) / 1e6),
      subscribeInstant: (instant: bigint) => at(Number(instant) / 1e6),
    }
  }

  private waitFor(list: { ready(): boolean }[]): void {
    for (;;) {
      if (list.some((p) => p.ready())) return
      const deadlines = list.map((p) => this.deadlines.get(p)).filter((d): d is number => d !== undefined)
      if (deadlines.length === 0) {
        throw new SandboxError('TRAP', 'the component waits on something that cannot complete while it runs (only clocks and the sandbox\'s own HTTP can be waited for)', { trap: 'wait that cannot complete' })
      }
      sleep(Math.min(...deadlines) - performance.now())
    }
  }
}
