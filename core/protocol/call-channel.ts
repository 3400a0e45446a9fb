import { SandboxError, type SerializedError } from '../errors/index.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import type { CallReport } from './messages.js'

/**
 * The fast call path: a call whose arguments and results are plain numbers goes through a
 * SharedArrayBuffer instead of postMessage. Measured on this project's 2-core machine: a
 * postMessage round trip costs ~14 us, this path a few: both sides spin briefly before
 * parking (`Atomics.wait` in the worker, `Atomics.waitAsync` on the host), so back-to-back
 * calls never sleep.
 *
 * Layout: Int32 control words, then 8-byte value slots, then a data area for errors.
 * - `SEQ`: bumped by the host for every event (a call in the slot, or a posted message);
 *   the worker waits on it, so no wake-up is lost.
 * - `CALL_PENDING`: 1 while a call waits in the slot; the worker takes it by clearing it.
 * - `POSTED`: messages the host posted; the worker returns to its event loop to take them.
 * - `DONE`: the worker's answer word, which the host waits on.
 */
const SEQ = 0, CALL_PENDING = 1, POSTED = 2, DONE = 3, FN = 4, COUNT = 5, STATUS = 6, HOST_CALLS = 7, DATA_LENGTH = 8, HAS_FUEL = 9, MODE = 10, CALL_ID = 11, SPINNING = 12
const TAGS = 16 // Int32 index of the value tags
export const MAX_CHANNEL_VALUES = 32
const SLOTS_BYTES = 256 // byte offset of the value slots
const DATA_OFFSET = 1024 // byte offset of the data area (error details)
const CHANNEL_BYTES = 256 * 1024
/** The largest bytes-call input and output that travel through the channel. */
export const CHANNEL_DATA_BYTES = CHANNEL_BYTES - DATA_OFFSET
/** STATUS values. */
const OK = 0, FAILED = 1, OUTPUT_BY_MESSAGE = 3
/** MODE values. */
const VALUES = 0, BYTES = 1

/** `Atomics.waitAsync` (ES2024; the core compiles against ES2022). */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> }
}

/** Whether this runtime can wait for the channel without blocking its thread. */
export const channelSupported = typeof SharedArrayBuffer !== 'undefined' && typeof (Atomics as unknown as Partial<AtomicsWaitAsync>).waitAsync === 'function'

export const Done = {
  PENDING: 0, OK: 1, ERROR: 2, KILLED: 3,
  /** Not done: the guest called a host function (index and arguments in the slots). */
  HOST_CALL: 4,
} as const
const Tag = { F64: 0, I64: 1 } as const

/** Spin iterations before parking: ~20-50 us on current CPUs, long enough for a trivial call. */
const HOST_SPIN = 2_000
const WORKER_SPIN = 20_000

/**
 * Spinning workers of this process, shared by all channels. Spinning after a call wins
 * when the next call follows at once, but a spinning worker holds a core: with more workers
 * than cores (several pools, HTTP middleware chains) they would starve the host thread that
 * feeds them. So at most cores - 1 workers spin at a time; the others park at once (even a
 * short spin by each of 32 WebSocket sandboxes cost 4x in messages/s).
 */
let SPIN_SLOTS: SharedArrayBuffer | null = null

export class CallChannel {
  readonly control: Int32Array
  private readonly f64: Float64Array
  private readonly i64: BigInt64Array
  private readonly data: Uint8Array
  /** Process-wide [spinning, capacity]: how many workers may spin at once (see `serve`). */
  readonly spinSlots: Int32Array | null

  constructor(readonly buffer: SharedArrayBuffer, spinSlots: SharedArrayBuffer | null = null) {
    this.spinSlots = spinSlots ? new Int32Array(spinSlots) : null
    this.control = new Int32Array(buffer, 0, SLOTS_BYTES / 4)
    this.f64 = new Float64Array(buffer, SLOTS_BYTES, MAX_CHANNEL_VALUES + 3)
    this.i64 = new BigInt64Array(buffer, SLOTS_BYTES, MAX_CHANNEL_VALUES + 3)
    this.data = new Uint8Array(buffer, DATA_OFFSET)
  }

  /** A channel for one worker; `parallelism` is the machine's core count (for the spin slots). */
  static create(parallelism: number): CallChannel {
    if (!SPIN_SLOTS) {
      SPIN_SLOTS = new SharedArrayBuffer(8)
      new Int32Array(SPIN_SLOTS)[1] = Math.max(1, parallelism - 1)
    }
    return new CallChannel(new SharedArrayBuffer(CHANNEL_BYTES), SPIN_SLOTS)
  }

  /** Whether values can travel in the slots: numbers and bigints only. */
  static fits(values: unknown[]): boolean {
    if (values.length > MAX_CHANNEL_VALUES) return false
    for (const v of values) if (typeof v !== 'number' && typeof v !== 'bigint') return false
    return true
  }

  private writeValues(values: readonly unknown[]): void {
    const c = this.control
    c[COUNT] = values.length
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if (typeof v === 'bigint') { c[TAGS + i] = Tag.I64; this.i64[i] = v }
      else { c[TAGS + i] = Tag.F64; this.f64[i] = v as number }
    }
  }

  private readValues(): unknown[] {
    const c = this.control
    const n = c[COUNT]!
    const out = new Array<unknown>(n)
    for (let i = 0; i < n; i++) out[i] = c[TAGS + i] === Tag.I64 ? this.i64[i] : this.f64[i]
    return out
  }

  // Host side ---------------------------------------------------------------------------

  /** Puts a call in the slot (with a fuel budget of its own, when given) and wakes the worker. */
  sendCall(fnIndex: number, args: readonly unknown[], fuel?: bigint): void {
    this.control[MODE] = VALUES
    this.writeValues(args)
    this.send(fnIndex, fuel)
  }

  /**
   * A bytes-ABI call with its input in the data area (at most {@link CHANNEL_DATA_BYTES}).
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
    if (fuel !== undefined) this.i64[MAX_CHANNEL_VALUES + 2] = fuel
    Atomics.store(c, DONE, Done.PENDING)
    Atomics.store(c, CALL_PENDING, 1)
    Atomics.add(c, SEQ, 1)
    Atomics.notify(c, SEQ)
  }

  /** Tells a worker parked in the channel that a message was posted. */
  announceMessage(): void {
    Atomics.add(this.control, POSTED, 1)
    Atomics.add(this.control, SEQ, 1)
    Atomics.notify(this.control, SEQ)
  }

  /**
   * Resolves with the DONE state once the worker answers (spinning briefly, then parking).
   * A wake-up is not an answer: the worker's `notify` for the previous call can arrive late,
   * after this call was sent, so the state is checked again after every wake-up.
   */
  waitDone(): Promise<number> | number {
    const c = this.control
    for (let i = 0; i < HOST_SPIN; i++) {
      const done = Atomics.load(c, DONE)
      if (done !== Done.PENDING) return done
    }
    return this.parkUntilDone()
  }

  private async parkUntilDone(): Promise<number> {
    const c = this.control
    for (;;) {
      const waiting = (Atomics as unknown as AtomicsWaitAsync).waitAsync(c, DONE, Done.PENDING)
      if (waiting.async) await waiting.value
      const done = Atomics.load(c, DONE)
      if (done !== Done.PENDING) return done
    }
  }

  /** Takes a host-function call the worker announced with `Done.HOST_CALL`. */
  takeHostCall(): { index: number; args: unknown[] } {
    const request = { index: this.control[FN]!, args: this.readValues() }
    Atomics.store(this.control, DONE, Done.PENDING) // before answering: the worker's next DONE must not be lost
    return request
  }

  /** Whether this worker may spin the whole budget (see {@link SPIN_SLOTS}). */
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

  /** Gives the slot back, once: by the worker after spinning, or by the host when it kills the worker. */
  private releaseSpinSlot(): void {
    if (this.spinSlots && Atomics.exchange(this.control, SPINNING, 0) === 1) Atomics.sub(this.spinSlots, 0, 1)
  }

  /** Releases a host waiting on a worker that was killed (and a spin slot the worker held). */
  abandon(): void {
    this.releaseSpinSlot()
    Atomics.store(this.control, DONE, Done.KILLED)
    Atomics.notify(this.control, DONE)
  }

  /**
   * The answer: values (or, for a bytes call, the output — unless it comes by message) on
   * success, the error otherwise; and the call's report.
   */
  readAnswer():
    | { ok: true; values: unknown[]; output?: Uint8Array; outputByMessage?: boolean; report: CallReport }
    | { ok: false; error: SerializedError; report: CallReport } {
    const c = this.control
    const report: CallReport = { fuelUsed: this.i64[MAX_CHANNEL_VALUES]!, memoryBytes: this.f64[MAX_CHANNEL_VALUES + 1]!, hostCalls: c[HOST_CALLS]! }
    if (c[STATUS] === OUTPUT_BY_MESSAGE) return { ok: true, values: [], outputByMessage: true, report }
    if (c[STATUS] === OK && c[MODE] === BYTES) return { ok: true, values: [], output: this.data.slice(0, c[DATA_LENGTH]!), report }
    if (c[STATUS] === OK) return { ok: true, values: this.readValues(), report }
    const json = decodeUtf8(this.data.slice(0, c[DATA_LENGTH]!))
    return { ok: false, error: JSON.parse(json, (_, v) => (v && typeof v === 'object' && typeof v.$bigint === 'string' ? BigInt(v.$bigint) : v)), report }
  }

  // Worker side -------------------------------------------------------------------------

  /** Asks the host (waiting in `waitDone`) to run host function `index`; the answer comes through the mailbox. */
  requestHostCall(index: number, args: readonly unknown[]): void {
    this.control[FN] = index
    this.writeValues(args)
    Atomics.store(this.control, DONE, Done.HOST_CALL)
    Atomics.notify(this.control, DONE)
  }

  /**
   * Serves calls from the slot until a message is posted (then returns, so the caller's
   * event loop can take it). `handled` is how many messages the worker has taken so far.
   */
  serve(
    handled: number,
    run: (fnIndex: number, args: unknown[], fuel: bigint | undefined, input: Uint8Array | null) => { ok: true; value: unknown; report: CallReport } | { ok: false; error: SandboxError; report: CallReport },
    /** Sends a bytes output too large for the data area as a message (before DONE is stored). */
    sendOutput: (callId: number, output: Uint8Array, report: CallReport) => void,
  ): void {
    const c = this.control
    for (;;) {
      const seq = Atomics.load(c, SEQ)
      if (Atomics.load(c, POSTED) !== handled) return
      if (Atomics.load(c, CALL_PENDING) === 1) {
        Atomics.store(c, CALL_PENDING, 0)
        const bytes = c[MODE] === BYTES
        const input = bytes ? this.data.slice(0, c[DATA_LENGTH]!) : null
        const answer = run(c[FN]!, bytes ? [] : this.readValues(), c[HAS_FUEL] ? this.i64[MAX_CHANNEL_VALUES + 2] : undefined, input)
        this.i64[MAX_CHANNEL_VALUES] = answer.report.fuelUsed
        this.f64[MAX_CHANNEL_VALUES + 1] = answer.report.memoryBytes
        c[HOST_CALLS] = answer.report.hostCalls
        if (answer.ok && bytes) {
          const output = answer.value as Uint8Array
          if (output.length <= this.data.length) {
            this.data.set(output)
            c[DATA_LENGTH] = output.length
            c[STATUS] = OK
          } else {
            sendOutput(c[CALL_ID]!, output, answer.report)
            c[STATUS] = OUTPUT_BY_MESSAGE
          }
        } else if (answer.ok) {
          c[STATUS] = OK
          this.writeValues(answer.value === undefined ? [] : Array.isArray(answer.value) ? answer.value : [answer.value])
        } else {
          c[STATUS] = FAILED
          const json = encodeUtf8(JSON.stringify(answer.error.toJSON(), (_, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v)))
          const length = Math.min(json.length, this.data.length)
          this.data.set(json.subarray(0, length))
          c[DATA_LENGTH] = length
        }
        Atomics.store(c, DONE, answer.ok ? Done.OK : Done.ERROR)
        Atomics.notify(c, DONE)
        continue
      }
      let spins = this.takeSpinSlot() ? WORKER_SPIN : 0
      while (spins-- > 0 && Atomics.load(c, SEQ) === seq) { /* spin: the next call usually follows at once */ }
      this.releaseSpinSlot()
      if (Atomics.load(c, SEQ) === seq) Atomics.wait(c, SEQ, seq)
    }
  }
}
