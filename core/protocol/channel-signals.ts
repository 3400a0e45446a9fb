import { Word, type ChannelViews } from './channel-layout.js'

/**
 * Who wakes whom on a call channel, and how cheaply. The host bumps `SEQ` for every event
 * and the worker waits on it; the worker bumps `COMPLETIONS` (ring calls, host-call
 * requests) and answers in `DONE`, which the host waits on.
 *
 * Both sides spin briefly before parking, so back-to-back calls never sleep: measured on
 * this project's 2-core machine, a postMessage round trip costs ~14 us, the channel a few.
 */

/** `Atomics.waitAsync` (ES2024; the core compiles against ES2022). */
export interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> }
}

/** Whether this runtime can wait for a channel without blocking its thread (the host side needs it). */
export const channelSupported = typeof SharedArrayBuffer !== 'undefined' && typeof (Atomics as unknown as Partial<AtomicsWaitAsync>).waitAsync === 'function'

// The layout's fields as module constants: measured as cheap as literals, unlike `Word.SEQ` at each use (see `channel-layout.ts`).
const { SEQ, POSTED, COMPLETIONS, SPINNING, PARKED } = Word

/** Spin iterations before the worker parks: long enough for a host's next call to follow at once. */
const WORKER_SPIN = 20_000

/**
 * Spinning workers of this process, shared by all channels: [spinning, capacity]. Spinning
 * after a call wins when the next call follows at once, but a spinning worker holds a core:
 * with more workers than cores (several pools, HTTP middleware chains) they would starve
 * the host thread that feeds them. So at most cores - 1 workers spin at a time; the others
 * park at once (even a short spin by each of 32 WebSocket sandboxes cost 4x in messages/s).
 */
let processSpinSlots: SharedArrayBuffer | null = null

/** This process's spin slots, made on first use for a machine of `parallelism` cores. */
export function spinSlotsFor(parallelism: number): SharedArrayBuffer {
  if (!processSpinSlots) {
    processSpinSlots = new SharedArrayBuffer(8)
    new Int32Array(processSpinSlots)[1] = Math.max(1, parallelism - 1)
  }
  return processSpinSlots
}

export class ChannelSignals {
  private readonly control: Int32Array

  constructor(views: ChannelViews, readonly spinSlots: Int32Array | null) {
    this.control = views.control
  }

  // Host side ---------------------------------------------------------------------------

  /**
   * Tells the worker something is new. A worker that is running a call or spinning sees
   * it without a notify (which costs a lock, and a syscall to wake a parked thread): the
   * worker sets PARKED before it looks at SEQ a last time and waits, and this side bumps
   * SEQ before it looks at PARKED, so one of the two always notices. Several calls sent
   * while the worker wakes up cost one notify.
   */
  wake(): void {
    Atomics.add(this.control, SEQ, 1)
    if (Atomics.compareExchange(this.control, PARKED, 1, 2) === 1) Atomics.notify(this.control, SEQ)
  }

  /** Tells a worker in the channel that a message was posted (it returns to its event loop). */
  announceMessage(): void {
    Atomics.add(this.control, POSTED, 1)
    Atomics.add(this.control, SEQ, 1)
    Atomics.notify(this.control, SEQ)
  }

  // Worker side -------------------------------------------------------------------------

  /** Wakes a host waiting on the ring (a ring call ended, a host call is asked for, or the worker was killed). */
  completed(): void {
    Atomics.add(this.control, COMPLETIONS, 1)
    Atomics.notify(this.control, COMPLETIONS)
  }

  /** Waits for an event after `seq`: spins first if a spin slot is free, then parks. */
  park(seq: number): void {
    const c = this.control
    let spins = this.takeSpinSlot() ? WORKER_SPIN : 0
    while (spins-- > 0 && Atomics.load(c, SEQ) === seq) { /* spin: the next call usually follows at once */ }
    this.releaseSpinSlot()
    Atomics.store(c, PARKED, 1)
    if (Atomics.load(c, SEQ) === seq) Atomics.wait(c, SEQ, seq)
    Atomics.store(c, PARKED, 0)
  }

  /** Whether this worker may spin the whole budget (see {@link processSpinSlots}). */
  private takeSpinSlot(): boolean {
    const slots = this.spinSlots
    if (!slots) return true
    if (Atomics.add(slots, 0, 1) < slots[1]!) {
      Atomics.store(this.control, SPINNING, 1)
      return true
    }
    Atomics.sub(slots, 0, 1)
    return false
  }

  /** Gives the spin slot back, once: by the worker after spinning, or by the host when it kills the worker. */
  releaseSpinSlot(): void {
    if (this.spinSlots && Atomics.exchange(this.control, SPINNING, 0) === 1) Atomics.sub(this.spinSlots, 0, 1)
  }
}

/**
 * Whether this thread may block in `Atomics.wait` (Node's main thread, any worker; not a
 * browser page's main thread). Where it may, the host ends its wait for an answer in a short
 * blocking wait rather than a longer spin: the same bound on how long the event loop is held,
 * but the core goes to the worker (on a busy machine perhaps the only one free) and the
 * notify wakes this thread directly, where a spin that ran out parks in `waitAsync`, whose
 * wake-up is an event-loop task (a 2-core VM with one busy process beside: a host-function
 * call 3-4x a raw Atomics.wait/notify ping-pong, 2x with this).
 */
export const hostCanBlock = (() => {
  if (typeof SharedArrayBuffer === 'undefined') return false
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0)
    return true
  } catch {
    return false
  }
})()
