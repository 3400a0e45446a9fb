import type { SerializedError } from '../errors/index.js'
import { parseError, serializeError, type RunCall, type SendOutput } from './channel-codec.js'
import {
  RING_HEADER_BYTES, RING_INPUT_BYTES, RING_SLOT_BYTES, RING_SLOT_WIDE, RING_SLOT_WORDS, RING_SLOTS, RingWide, RingWord, Slot, SlotState, Status, Word,
  type ChannelViews,
} from './channel-layout.js'
import type { AtomicsWaitAsync, ChannelSignals } from './channel-signals.js'
import type { CallReport } from './messages.js'

/** What became of a ring call (an output too large for its slot comes as a message for its callId). */
export type RingOutcome =
  | { ok: true; output: Uint8Array | null; report: CallReport; wallMs: number }
  | { ok: false; error: SerializedError; report: CallReport; wallMs: number }

/** The clock for a ring call's wall time in the worker (`performance` is in every runtime the core targets). */
const clock = (globalThis as unknown as { performance?: { now(): number } }).performance ?? Date

// The layout's fields as module constants: measured as cheap as literals, unlike `RingWord.FN` at each use (see `channel-layout.ts`).
const { STATE, FN, LENGTH, CALL_ID, STATUS, HOST_CALLS } = RingWord
const { FUEL_USED, MEMORY_BYTES, WALL_MS } = RingWide
const { FREE, SUBMITTED, FINISHED } = SlotState
const { OK, FAILED, OUTPUT_BY_MESSAGE } = Status
const { COMPLETIONS, HALTED, RUNNING } = Word
const { RUNNING_SINCE } = Slot

/**
 * Pipelined bytes calls: the host fills ring slots in order (`submit`) and goes on with
 * other work; the worker runs them in the same order, back to back, and leaves each outcome
 * in its slot (`take`). A slot's `STATE` word hands it over: FREE -> SUBMITTED (host) ->
 * FINISHED (worker) -> FREE (host). A failed call halts the ring until the host `resume`s
 * it, so no call runs after a failure the host has not seen.
 */
export class CallRing {
  private readonly control: Int32Array
  private readonly f64: Float64Array
  private readonly bytes: Uint8Array
  private readonly words: Int32Array
  private readonly wideF64: Float64Array
  private readonly wideI64: BigInt64Array
  /** The worker's next slot. */
  private next = 0

  constructor(views: ChannelViews, private readonly signals: ChannelSignals) {
    this.control = views.control
    this.f64 = views.f64
    this.bytes = views.ring
    this.words = views.ringWords
    this.wideF64 = views.ringF64
    this.wideI64 = views.ringI64
  }

  // Host side ---------------------------------------------------------------------------

  /** Puts a bytes call (at most `RING_INPUT_BYTES`) in free ring slot `slot` and wakes the worker. */
  submit(slot: number, fnIndex: number, input: Uint8Array, callId: number): void {
    const w = slot * RING_SLOT_WORDS
    this.words[w + FN] = fnIndex
    this.words[w + LENGTH] = input.length
    this.words[w + CALL_ID] = callId
    this.bytes.set(input, slot * RING_SLOT_BYTES + RING_HEADER_BYTES)
    Atomics.store(this.words, w + STATE, SUBMITTED)
    this.signals.wake()
  }

  /** The outcome of the ring call in `slot` once it has finished (freeing the slot), else null. */
  take(slot: number): RingOutcome | null {
    const w = slot * RING_SLOT_WORDS
    if (Atomics.load(this.words, w + STATE) !== FINISHED) return null
    const x = slot * RING_SLOT_WIDE
    const start = slot * RING_SLOT_BYTES + RING_HEADER_BYTES
    const output = this.bytes.slice(start, start + (this.words[w + LENGTH]! >>> 0))
    const report: CallReport = { fuelUsed: this.wideI64[x + FUEL_USED]!, memoryBytes: this.wideF64[x + MEMORY_BYTES]!, hostCalls: this.words[w + HOST_CALLS]! >>> 0 }
    const wallMs = this.wideF64[x + WALL_MS]!
    const status = this.words[w + STATUS]
    Atomics.store(this.words, w + STATE, FREE)
    if (status === FAILED) return { ok: false, error: parseError(output), report, wallMs }
    return { ok: true, output: status === OK ? output : null, report, wallMs }
  }

  /** The ring call running now (its slot, and when it began), if any. */
  running(): { slot: number; since: number } | null {
    const slot = Atomics.load(this.control, RUNNING) - 1
    return slot < 0 ? null : { slot, since: this.f64[RUNNING_SINCE]! }
  }

  /** Lets the worker go on with the ring after a failed call (once the host has dealt with it). */
  resume(): void {
    Atomics.store(this.control, HALTED, 0)
    this.signals.wake()
  }

  /** The completion count, to wait on with {@link waitCompletion}. */
  completions(): number {
    return Atomics.load(this.control, COMPLETIONS)
  }

  /** Resolves once the count moves past `seen` (a ring call ended, a host call was asked for, or the worker was killed). */
  async waitCompletion(seen: number): Promise<void> {
    const c = this.control
    // No spinning here, unlike `waitDone`: under load this thread has requests to read
    // meanwhile (measured: spinning cost a fifth of the requests/s).
    while (Atomics.load(c, COMPLETIONS) === seen) {
      const waiting = (Atomics as unknown as AtomicsWaitAsync).waitAsync(c, COMPLETIONS, seen)
      if (waiting.async) await waiting.value
    }
  }

  // Worker side -------------------------------------------------------------------------

  /** Whether the next slot holds a call to run (and the ring is not halted). */
  ready(): boolean {
    return Atomics.load(this.control, HALTED) === 0 && Atomics.load(this.words, this.next * RING_SLOT_WORDS + STATE) === SUBMITTED
  }

  /** Runs the call in the next slot and writes its outcome there; a failure halts the ring. */
  runNext(run: RunCall, sendOutput: SendOutput): void {
    const slot = this.next
    const w = slot * RING_SLOT_WORDS
    const x = slot * RING_SLOT_WIDE
    const start = slot * RING_SLOT_BYTES + RING_HEADER_BYTES
    const callId = this.words[w + CALL_ID]! >>> 0
    const input = this.bytes.slice(start, start + (this.words[w + LENGTH]! >>> 0))
    this.f64[RUNNING_SINCE] = Date.now()
    Atomics.store(this.control, RUNNING, slot + 1)
    const started = clock.now()
    const answer = run(this.words[w + FN]! >>> 0, [], undefined, input)
    const wallMs = clock.now() - started
    let status: number
    let payload: Uint8Array
    if (answer.ok) {
      const output = answer.value as Uint8Array
      if (output.length <= RING_INPUT_BYTES) { status = OK; payload = output }
      else { sendOutput(callId, output, answer.report); status = OUTPUT_BY_MESSAGE; payload = new Uint8Array() }
    } else {
      status = FAILED
      payload = serializeError(answer.error, RING_INPUT_BYTES)
      Atomics.store(this.control, HALTED, 1)
    }
    this.bytes.set(payload, start)
    this.words[w + LENGTH] = payload.length
    this.words[w + STATUS] = status
    this.words[w + HOST_CALLS] = answer.report.hostCalls
    this.wideI64[x + FUEL_USED] = answer.report.fuelUsed
    this.wideF64[x + MEMORY_BYTES] = answer.report.memoryBytes
    this.wideF64[x + WALL_MS] = wallMs
    Atomics.store(this.control, RUNNING, 0)
    Atomics.store(this.words, w + STATE, FINISHED)
    this.next = (slot + 1) % RING_SLOTS
    this.signals.completed()
  }
}
