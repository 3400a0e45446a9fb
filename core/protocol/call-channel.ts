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
 *
 * Bytes calls can also be pipelined through a ring of slots in the data area (see
 * `submit`), which the worker runs in order while the host goes on with other work:
 * - `COMPLETIONS`: bumped by the worker when a ring call ends or a host call is asked for;
 *   the host waits on it.
 * - `HALTED`: set by the worker after a ring call failed; it runs no more until `resume`.
 * - `RUNNING`: the slot + 1 of the ring call running, 0 if none (and `RUNNING_SINCE` when it began).
 */
const SEQ = 0, CALL_PENDING = 1, POSTED = 2, DONE = 3, FN = 4, COUNT = 5, STATUS = 6, HOST_CALLS = 7, DATA_LENGTH = 8, HAS_FUEL = 9, MODE = 10, CALL_ID = 11, SPINNING = 12
const COMPLETIONS = 13, HALTED = 14, RUNNING = 15
const TAGS = 16 // Int32 index of the value tags
export const MAX_CHANNEL_VALUES = 32
/**
 * 1 while the worker is parked (or about to) in `Atomics.wait`: only then does it need a
 * notify; 2 once one was sent (the next event needs none: the worker is waking up).
 */
const PARKED = TAGS + MAX_CHANNEL_VALUES
/** f64 slot: when (`Date.now()`) the running ring call began. */
const RUNNING_SINCE = MAX_CHANNEL_VALUES + 3
const SLOTS_BYTES = 256 // byte offset of the value slots
const DATA_OFFSET = 1024 // byte offset of the data area (error details)
const RING_OFFSET = 256 * 1024 // byte offset of the ring, after the data area
/** The largest bytes-call input and output that travel through the channel. */
export const CHANNEL_DATA_BYTES = RING_OFFSET - DATA_OFFSET
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

/**
 * The ring: slots of 8 KiB after the data area (a call alone never touches them), each a
 * header and the input (then the output or error). Header: state (i32, atomic), fn,
 * length, callId, status, hostCalls (u32 each), fuelUsed (i64), memoryBytes, wallMs (f64).
 */
export const RING_SLOTS = 32
const RING_SLOT_BYTES = 8 * 1024
const RING_HEADER = 48
const CHANNEL_BYTES = RING_OFFSET + RING_SLOTS * RING_SLOT_BYTES
/** The largest input a ring slot takes (a larger call goes alone). */
export const RING_INPUT_BYTES = RING_SLOT_BYTES - RING_HEADER
/** Ring slot states. */
const FREE = 0, SUBMITTED = 1, FINISHED = 2

/** What became of a ring call (an output too large for its slot comes as a message for its callId). */
export type RingOutcome =
  | { ok: true; output: Uint8Array | null; report: CallReport; wallMs: number }
  | { ok: false; error: SerializedError; report: CallReport; wallMs: number }

/** The clock for a ring call's wall time in the worker (`performance` is in every runtime the core targets). */
const clock = (globalThis as unknown as { performance?: { now(): number } }).performance ?? Date

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
  /** The ring, as bytes, as a DataView for its headers, and as Int32s for the slots' state words. */
  private readonly ring: Uint8Array
  private readonly view: DataView
  private readonly slotStates: Int32Array
  /** The worker's next ring slot. */
  private ringNext = 0
  /** Process-wide [spinning, capacity]: how many workers may spin at once (see `serve`). */
  readonly spinSlots: Int32Array | null

  constructor(readonly buffer: SharedArrayBuffer, spinSlots: SharedArrayBuffer | null = null) {
    this.spinSlots = spinSlots ? new Int32Array(spinSlots) : null
    this.control = new Int32Array(buffer, 0, SLOTS_BYTES / 4)
    this.f64 = new Float64Array(buffer, SLOTS_BYTES, MAX_CHANNEL_VALUES + 4)
    this.i64 = new BigInt64Array(buffer, SLOTS_BYTES, MAX_CHANNEL_VALUES + 4)
    this.data = new Uint8Array(buffer, DATA_OFFSET, CHANNEL_DATA_BYTES)
    this.ring = new Uint8Array(buffer, RING_OFFSET)
    this.view = new DataView(buffer, RING_OFFSET)
    this.slotStates = new Int32Array(buffer, RING_OFFSET)
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

  // The ring (host side) -----------------------------------------------------------------

  /** Puts a bytes call (at most {@link RING_INPUT_BYTES}) in a free ring slot and wakes the worker. */
  submit(slot: number, fnIndex: number, input: Uint8Array, callId: number): void {
    const at = slot * RING_SLOT_BYTES
    this.view.setUint32(at + 4, fnIndex, true)
    this.view.setUint32(at + 8, input.length, true)
    this.view.setUint32(at + 12, callId, true)
    this.ring.set(input, at + RING_HEADER)
    Atomics.store(this.slotStates, slotWord(slot), SUBMITTED)
    this.wake()
  }

  /** The outcome of the ring call in `slot` once it has finished (freeing the slot), else null. */
  take(slot: number): RingOutcome | null {
    if (Atomics.load(this.slotStates, slotWord(slot)) !== FINISHED) return null
    const v = this.view
    const at = slot * RING_SLOT_BYTES
    const status = v.getUint32(at + 16, true)
    const bytes = this.ring.slice(at + RING_HEADER, at + RING_HEADER + v.getUint32(at + 8, true))
    const report: CallReport = { fuelUsed: v.getBigInt64(at + 24, true), memoryBytes: v.getFloat64(at + 32, true), hostCalls: v.getUint32(at + 20, true) }
    const wallMs = v.getFloat64(at + 40, true)
    Atomics.store(this.slotStates, slotWord(slot), FREE)
    if (status === FAILED) return { ok: false, error: parseError(bytes), report, wallMs }
    return { ok: true, output: status === OK ? bytes : null, report, wallMs }
  }

  /** The ring call running now (its slot, and when it began), if any. */
  running(): { slot: number; since: number } | null {
    const slot = Atomics.load(this.control, RUNNING) - 1
    return slot < 0 ? null : { slot, since: this.f64[RUNNING_SINCE]! }
  }

  /** Lets the worker go on with the ring after a failed call (once the host has dealt with it). */
  resume(): void {
    Atomics.store(this.control, HALTED, 0)
    this.wake()
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

  /** Whether the worker asks for a host function (see `takeHostCall`). */
  hostCallPending(): boolean {
    return Atomics.load(this.control, DONE) === Done.HOST_CALL
  }

  /**
   * Tells the worker something is new. A worker that is running a call or spinning sees
   * it without a notify (which costs a lock, and a syscall to wake a parked thread): the
   * worker sets PARKED before it looks at SEQ a last time and waits, and this side bumps
   * SEQ before it looks at PARKED, so one of the two always notices. Several calls sent
   * while the worker wakes up cost one notify.
   */
  private wake(): void {
    Atomics.add(this.control, SEQ, 1)
    if (Atomics.compareExchange(this.control, PARKED, 1, 2) === 1) Atomics.notify(this.control, SEQ)
  }

  private completed(): void {
    Atomics.add(this.control, COMPLETIONS, 1)
    Atomics.notify(this.control, COMPLETIONS)
  }

  private send(fnIndex: number, fuel: bigint | undefined): void {
    const c = this.control
    c[FN] = fnIndex
    c[HAS_FUEL] = fuel === undefined ? 0 : 1
    if (fuel !== undefined) this.i64[MAX_CHANNEL_VALUES + 2] = fuel
    Atomics.store(c, DONE, Done.PENDING)
    Atomics.store(c, CALL_PENDING, 1)
    this.wake()
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
    this.completed()
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
    return { ok: false, error: parseError(this.data.slice(0, c[DATA_LENGTH]!)), report }
  }

  // Worker side -------------------------------------------------------------------------

  /** Asks the host (waiting in `waitDone`) to run host function `index`; the answer comes through the mailbox. */
  requestHostCall(index: number, args: readonly unknown[]): void {
    this.control[FN] = index
    this.writeValues(args)
    Atomics.store(this.control, DONE, Done.HOST_CALL)
    Atomics.notify(this.control, DONE)
    this.completed() // a host waiting on the ring
  }

  /**
   * Serves calls from the slot until a message is posted (then returns, so the caller's
   * event loop can take it). `handled` is how many messages the worker has taken so far.
   */
  serve(
    handled: number,
    run: RunCall,
    /** Sends a bytes output too large for the data area (or a ring slot) as a message, before the answer. */
    sendOutput: SendOutput,
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
          const json = serializeError(answer.error, this.data.length)
          this.data.set(json)
          c[DATA_LENGTH] = json.length
        }
        Atomics.store(c, DONE, answer.ok ? Done.OK : Done.ERROR)
        Atomics.notify(c, DONE)
        continue
      }
      if (Atomics.load(c, HALTED) === 0 && Atomics.load(this.slotStates, slotWord(this.ringNext)) === SUBMITTED) {
        this.runSlot(this.ringNext, run, sendOutput)
        this.ringNext = (this.ringNext + 1) % RING_SLOTS
        continue
      }
      let spins = this.takeSpinSlot() ? WORKER_SPIN : 0
      while (spins-- > 0 && Atomics.load(c, SEQ) === seq) { /* spin: the next call usually follows at once */ }
      this.releaseSpinSlot()
      Atomics.store(c, PARKED, 1)
      if (Atomics.load(c, SEQ) === seq) Atomics.wait(c, SEQ, seq)
      Atomics.store(c, PARKED, 0)
    }
  }

  /** Runs the ring call in `slot` and writes its outcome there; a failure halts the ring. */
  private runSlot(slot: number, run: RunCall, sendOutput: SendOutput): void {
    const v = this.view
    const at = slot * RING_SLOT_BYTES
    const callId = v.getUint32(at + 12, true)
    const input = this.ring.slice(at + RING_HEADER, at + RING_HEADER + v.getUint32(at + 8, true))
    this.f64[RUNNING_SINCE] = Date.now()
    Atomics.store(this.control, RUNNING, slot + 1)
    const started = clock.now()
    const answer = run(v.getUint32(at + 4, true), [], undefined, input)
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
    this.ring.set(payload, at + RING_HEADER)
    v.setUint32(at + 8, payload.length, true)
    v.setUint32(at + 16, status, true)
    v.setUint32(at + 20, answer.report.hostCalls, true)
    v.setBigInt64(at + 24, answer.report.fuelUsed, true)
    v.setFloat64(at + 32, answer.report.memoryBytes, true)
    v.setFloat64(at + 40, wallMs, true)
    Atomics.store(this.control, RUNNING, 0)
    Atomics.store(this.slotStates, slotWord(slot), FINISHED)
    this.completed()
  }
}

type RunCall = (fnIndex: number, args: unknown[], fuel: bigint | undefined, input: Uint8Array | null) => { ok: true; value: unknown; report: CallReport } | { ok: false; error: SandboxError; report: CallReport }
type SendOutput = (callId: number, output: Uint8Array, report: CallReport) => void

const slotWord = (slot: number) => (slot * RING_SLOT_BYTES) / 4

/**
 * Errors cross the channel as JSON, bigints (a fuel limit) tagged, in at most `maxBytes`:
 * `toJSON` already bounds every text field, but escapes can still swell it, so an error
 * too large for its room loses its details before it could be cut mid-JSON.
 */
function serializeError(error: SandboxError, maxBytes: number): Uint8Array {
  const encode = (data: object) => encodeUtf8(JSON.stringify(data, (_, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v)))
  const full = error.toJSON()
  let json = encode(full)
  if (json.length <= maxBytes) return json
  const { code, kind, limit, used } = full
  json = encode({ code, message: full.message.slice(0, 256), kind, limit, used })
  return json.length <= maxBytes ? json : encode({ code, message: 'the error was too large to report' })
}

/** An error from the channel; bytes that do not parse (a bug) are still a typed error. */
function parseError(bytes: Uint8Array): SerializedError {
  try {
    return JSON.parse(decodeUtf8(bytes), (_, v) => (v && typeof v === 'object' && typeof v.$bigint === 'string' ? BigInt(v.$bigint) : v))
  } catch (error) {
    return { code: 'INTERNAL', message: `an error from the sandbox worker could not be read: ${(error as Error).message}` }
  }
}
