import type { SerializedError } from '../errors/index.js'
import { parseError, serializeError, type RunCall, type SendOutput, type ValueSlots } from './channel-codec.js'
import { Done, Mode, Slot, Status, Word, type ChannelViews } from './channel-layout.js'
import { hostCanBlock, type AtomicsWaitAsync, type ChannelSignals } from './channel-signals.js'
import type { CallReport } from './messages.js'

/** Spin iterations before the host parks in `waitDone`: ~20-50 us, long enough for a trivial call. */
const HOST_SPIN = 2_000
/**
 * Where the host can block (`hostCanBlock`), its spin adapts between HOST_MIN_SPIN and
 * HOST_SPIN — doubled after a spin that saw the answer (a quiet machine: spinning saves the
 * wake-up), a quarter after one that did not (a busy machine, or a long call) — and then it
 * blocks up to HOST_BLOCK_MS before parking in `waitAsync`.
 */
const HOST_MIN_SPIN = 100
const HOST_BLOCK_MS = 0.05

// The layout's fields as module constants: measured as cheap as literals, unlike `Word.DONE` at each use (see `channel-layout.ts`).
const { MODE, CALL_ID, DATA_LENGTH, FN, HAS_FUEL, DONE, CALL_PENDING, STATUS, HOST_CALLS } = Word
const { FUEL, FUEL_USED, MEMORY_BYTES } = Slot
const { PENDING, HOST_CALL, KILLED, OK: ANSWERED, ERROR: FAILED_ANSWER } = Done
const { OK: STATUS_OK, FAILED, OUTPUT_BY_MESSAGE } = Status
const { VALUES, BYTES } = Mode

/** A single-slot call's answer (see {@link SingleSlot.readAnswer}). */
export type SlotAnswer =
  | { ok: true; values: unknown[]; output?: Uint8Array; outputByMessage?: boolean; report: CallReport }
  | { ok: false; error: SerializedError; report: CallReport }

/**
 * One call at a time, the host waiting for it: arguments in the value slots (or a bytes
 * input in the data area), the answer in the same places, `DONE` saying when. While it
 * runs, the guest may ask for host functions through the same slots (`Done.HOST_CALL`);
 * their answers come back through the mailbox.
 */
export class SingleSlot {
  /** The host's spin budget in `waitDone` (see {@link HOST_MIN_SPIN}). */
  private hostSpin = HOST_SPIN
  private readonly control: Int32Array
  private readonly f64: Float64Array
  private readonly i64: BigInt64Array
  private readonly data: Uint8Array

  constructor(views: ChannelViews, private readonly values: ValueSlots, private readonly signals: ChannelSignals) {
    this.control = views.control
    this.f64 = views.f64
    this.i64 = views.i64
    this.data = views.data
  }

  // Host side ---------------------------------------------------------------------------

  /** Puts a call in the slot (with a fuel budget of its own, when given) and wakes the worker. */
  sendCall(fnIndex: number, args: readonly unknown[], fuel?: bigint): void {
    this.control[MODE] = VALUES
    this.values.write(args)
    this.send(fnIndex, fuel)
  }

  /**
   * A bytes-ABI call with its input in the data area (at most `CHANNEL_DATA_BYTES`).
   * An output that does not fit comes back as a `result` message for `callId`.
   */
  sendBytes(fnIndex: number, input: Uint8Array, callId: number, fuel?: bigint): void {
    const c = this.control
    c[MODE] = BYTES
    c[CALL_ID] = callId
    this.data.set(input)
    c[DATA_LENGTH] = input.length
    this.send(fnIndex, fuel)
  }

  private send(fnIndex: number, fuel: bigint | undefined): void {
    const c = this.control
    c[FN] = fnIndex
    c[HAS_FUEL] = fuel === undefined ? 0 : 1
    if (fuel !== undefined) this.i64[FUEL] = fuel
    Atomics.store(c, DONE, PENDING)
    Atomics.store(c, CALL_PENDING, 1)
    this.signals.wake()
  }

  /**
   * Resolves with the DONE state once the worker answers (spinning briefly, then parking).
   * A wake-up is not an answer: the worker's `notify` for the previous call can arrive late,
   * after this call was sent, so the state is checked again after every wake-up.
   */
  waitDone(): Promise<number> | number {
    const c = this.control
    for (let i = 0; i < this.hostSpin; i++) {
      const done = Atomics.load(c, DONE)
      if (done === PENDING) continue
      if (hostCanBlock) this.hostSpin = Math.min(HOST_SPIN, this.hostSpin * 2)
      return done
    }
    if (hostCanBlock) {
      this.hostSpin = Math.max(HOST_MIN_SPIN, this.hostSpin >> 2)
      Atomics.wait(c, DONE, PENDING, HOST_BLOCK_MS)
      const done = Atomics.load(c, DONE)
      if (done !== PENDING) return done
    }
    return this.parkUntilDone()
  }

  private async parkUntilDone(): Promise<number> {
    const c = this.control
    for (;;) {
      const waiting = (Atomics as unknown as AtomicsWaitAsync).waitAsync(c, DONE, PENDING)
      if (waiting.async) await waiting.value
      const done = Atomics.load(c, DONE)
      if (done !== PENDING) return done
    }
  }

  /** Whether the worker asks for a host function (see `takeHostCall`). */
  hostCallPending(): boolean {
    return Atomics.load(this.control, DONE) === HOST_CALL
  }

  /** Takes a host-function call the worker announced with `Done.HOST_CALL`. */
  takeHostCall(): { index: number; args: unknown[] } {
    const request = { index: this.control[FN]!, args: this.values.read() }
    Atomics.store(this.control, DONE, PENDING) // before answering: the worker's next DONE must not be lost
    return request
  }

  /**
   * The answer: values (or, for a bytes call, the output — unless it comes by message) on
   * success, the error otherwise; and the call's report.
   */
  readAnswer(): SlotAnswer {
    const c = this.control
    const report: CallReport = { fuelUsed: this.i64[FUEL_USED]!, memoryBytes: this.f64[MEMORY_BYTES]!, hostCalls: c[HOST_CALLS]! }
    const status = c[STATUS]
    if (status === OUTPUT_BY_MESSAGE) return { ok: true, values: [], outputByMessage: true, report }
    if (status === STATUS_OK && c[MODE] === BYTES) return { ok: true, values: [], output: this.data.slice(0, c[DATA_LENGTH]!), report }
    if (status === STATUS_OK) return { ok: true, values: this.values.read(), report }
    return { ok: false, error: parseError(this.data.slice(0, c[DATA_LENGTH]!)), report }
  }

  /** Releases a host waiting in `waitDone` on a worker that was killed. */
  kill(): void {
    Atomics.store(this.control, DONE, KILLED)
    Atomics.notify(this.control, DONE)
  }

  // Worker side -------------------------------------------------------------------------

  /** Whether a call waits in the slot. */
  pending(): boolean {
    return Atomics.load(this.control, CALL_PENDING) === 1
  }

  /** Takes the call in the slot, runs it and answers. */
  serve(run: RunCall, sendOutput: SendOutput): void {
    const c = this.control
    Atomics.store(c, CALL_PENDING, 0)
    const bytes = c[MODE] === BYTES
    const input = bytes ? this.data.slice(0, c[DATA_LENGTH]!) : null
    const answer = run(c[FN]!, bytes ? [] : this.values.read(), c[HAS_FUEL] ? this.i64[FUEL] : undefined, input)
    this.i64[FUEL_USED] = answer.report.fuelUsed
    this.f64[MEMORY_BYTES] = answer.report.memoryBytes
    c[HOST_CALLS] = answer.report.hostCalls
    if (answer.ok && bytes) {
      const output = answer.value as Uint8Array
      if (output.length <= this.data.length) {
        this.data.set(output)
        c[DATA_LENGTH] = output.length
        c[STATUS] = STATUS_OK
      } else {
        sendOutput(c[CALL_ID]!, output, answer.report)
        c[STATUS] = OUTPUT_BY_MESSAGE
      }
    } else if (answer.ok) {
      c[STATUS] = STATUS_OK
      this.values.write(answer.value === undefined ? [] : Array.isArray(answer.value) ? answer.value : [answer.value])
    } else {
      c[STATUS] = FAILED
      const json = serializeError(answer.error, this.data.length)
      this.data.set(json)
      c[DATA_LENGTH] = json.length
    }
    Atomics.store(c, DONE, answer.ok ? ANSWERED : FAILED_ANSWER)
    Atomics.notify(c, DONE)
  }

  /** Asks the host (waiting in `waitDone`, or on the ring) to run host function `index`; the answer comes through the mailbox. */
  requestHostCall(index: number, args: readonly unknown[]): void {
    this.control[FN] = index
    this.values.write(args)
    Atomics.store(this.control, DONE, HOST_CALL)
    Atomics.notify(this.control, DONE)
    this.signals.completed() // a host waiting on the ring
  }
}
