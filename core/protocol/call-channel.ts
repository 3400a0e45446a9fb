import { fitsSlots, ValueSlots, type RunCall, type SendOutput } from './channel-codec.js'
import { CHANNEL_BYTES, ChannelViews, Word } from './channel-layout.js'
import { ChannelSignals, spinSlotsFor } from './channel-signals.js'
import { CallRing, type RingOutcome } from './call-ring.js'
import { SingleSlot, type SlotAnswer } from './single-slot.js'

export { CHANNEL_DATA_BYTES, Done, MAX_CHANNEL_VALUES, RING_INPUT_BYTES, RING_SLOTS } from './channel-layout.js'
export { channelSupported } from './channel-signals.js'
export type { RingOutcome } from './call-ring.js'
export type { RunCall, SendOutput } from './channel-codec.js'
export type { SlotAnswer } from './single-slot.js'

// The layout's fields as module constants: measured as cheap as literals, unlike `Word.SEQ` at each use (see `channel-layout.ts`).
const { SEQ, POSTED } = Word

/**
 * The fast call path: a call whose arguments and results are plain numbers, or a bytes
 * call of moderate size, goes through a SharedArrayBuffer instead of postMessage. One
 * channel per worker, in three parts:
 * - `slot` ({@link SingleSlot}, `single-slot.ts`): one call at a time, the host waiting for
 *   its answer, with host-function calls from the guest in between;
 * - `ring` ({@link CallRing}, `call-ring.ts`): pipelined bytes calls the worker runs in
 *   order while the host goes on with other work;
 * - the wake-ups both share (`channel-signals.ts`), over the words and regions named in
 *   `channel-layout.ts`.
 *
 * The worker `serve`s the channel between messages: the host announces every message it
 * posts, so the worker returns to its event loop to take it.
 */
export class CallChannel {
  readonly slot: SingleSlot
  readonly ring: CallRing
  private readonly signals: ChannelSignals
  /** The Int32 control words (see `Word` in `channel-layout.ts`). */
  readonly control: Int32Array
  /** Process-wide [spinning, capacity]: how many workers may spin at once (see `channel-signals.ts`). */
  readonly spinSlots: Int32Array | null

  constructor(readonly buffer: SharedArrayBuffer, spinSlots: SharedArrayBuffer | null = null) {
    const views = new ChannelViews(buffer)
    this.control = views.control
    this.spinSlots = spinSlots ? new Int32Array(spinSlots) : null
    this.signals = new ChannelSignals(views, this.spinSlots)
    this.slot = new SingleSlot(views, new ValueSlots(views), this.signals)
    this.ring = new CallRing(views, this.signals)
  }

  /** A channel for one worker; `parallelism` is the machine's core count (for the spin slots). */
  static create(parallelism: number): CallChannel {
    return new CallChannel(new SharedArrayBuffer(CHANNEL_BYTES), spinSlotsFor(parallelism))
  }

  /** Whether values can travel in the slots: numbers and bigints only, at most `MAX_CHANNEL_VALUES`. */
  static fits(values: unknown[]): boolean {
    return fitsSlots(values)
  }

  /** Host: tells a worker in the channel that a message was posted. */
  announceMessage(): void {
    this.signals.announceMessage()
  }

  /** Host: releases whatever waits on a worker that was killed (and a spin slot the worker held). */
  abandon(): void {
    this.signals.releaseSpinSlot()
    this.slot.kill()
    this.signals.completed()
  }

  /**
   * Worker: serves calls from the slot and the ring until a message is posted (then
   * returns, so the caller's event loop can take it). `handled` is how many messages the
   * worker has taken so far; `sendOutput` sends a bytes output too large for its room.
   */
  serve(handled: number, run: RunCall, sendOutput: SendOutput): void {
    const c = this.control
    for (;;) {
      const seq = Atomics.load(c, SEQ)
      if (Atomics.load(c, POSTED) !== handled) return
      if (this.slot.pending()) this.slot.serve(run, sendOutput)
      else if (this.ring.ready()) this.ring.runNext(run, sendOutput)
      else this.signals.park(seq)
    }
  }

  // The calls below keep the surface callers used before the split (one method per step).

  sendCall(fnIndex: number, args: readonly unknown[], fuel?: bigint): void { this.slot.sendCall(fnIndex, args, fuel) }
  sendBytes(fnIndex: number, input: Uint8Array, callId: number, fuel?: bigint): void { this.slot.sendBytes(fnIndex, input, callId, fuel) }
  waitDone(): Promise<number> | number { return this.slot.waitDone() }
  hostCallPending(): boolean { return this.slot.hostCallPending() }
  takeHostCall(): { index: number; args: unknown[] } { return this.slot.takeHostCall() }
  readAnswer(): SlotAnswer { return this.slot.readAnswer() }
  requestHostCall(index: number, args: readonly unknown[]): void { this.slot.requestHostCall(index, args) }
  submit(slot: number, fnIndex: number, input: Uint8Array, callId: number): void { this.ring.submit(slot, fnIndex, input, callId) }
  take(slot: number): RingOutcome | null { return this.ring.take(slot) }
  running(): { slot: number; since: number } | null { return this.ring.running() }
  resume(): void { this.ring.resume() }
  completions(): number { return this.ring.completions() }
  waitCompletion(seen: number): Promise<void> { return this.ring.waitCompletion(seen) }
}
