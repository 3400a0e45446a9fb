/**
 * The shared mailbox: how the host answers a worker that is blocked inside a host-function
 * call. One SharedArrayBuffer per worker: a few Int32 control words, then a data area.
 * The host writes a command and its operands, stores `command`, and notifies; the worker
 * (in `Atomics.wait` on `command`) acts, clears `command` and replies with a message.
 */
export const MAILBOX_DATA_BYTES = 1 << 20
/**
 * Spin budget (iterations of an atomic load) before the worker parks in `Atomics.wait`.
 * A synchronous host function answers within microseconds, and spinning saves the wake-up
 * (a futex wake, ~5-7 us a side on a 2-core VM). But a spin only pays while the host thread
 * runs: on a machine with more busy threads than cores it burns the core the host needs
 * (measured: a host call 4x a raw Atomics.wait/notify ping-pong with a 20,000 spin and one
 * busy process beside). So the budget adapts: it doubles after a spin that saw the answer
 * and drops to a quarter after one that did not, between these bounds.
 */
const MAX_SPIN = 20_000
const MIN_SPIN = 50
const HEADER_BYTES = 64

export const Command = {
  NONE: 0,
  /** The host function returned: a value is in the data area. */
  RETURN: 1,
  /** The host function threw: a UTF-8 message is in the data area. */
  THROW: 2,
  /** Read guest memory [a, a+b) and post it back. */
  READ: 3,
  /** Write the data area's first b bytes to guest memory at a. */
  WRITE: 4,
  /** Call the guest's `alloc(a)` and post the pointer back. */
  ALLOC: 5,
  /** Post back the guest memory's size in bytes. */
  MEMORY_SIZE: 6,
  /** Re-entrant call: a JSON-free call request is in `Mailbox.pending` (see host-context). */
  CALL: 7,
  /** A piece of a reply that does not fit in one message (a fetched response): the data area's first b bytes. */
  DATA: 8,
} as const

/**
 * Slots of the Int32 control words (the f64/i64 value takes words 4-5). `PARKED`: 1 while
 * the worker is (about to be) in `Atomics.wait`: only then does a command need a notify.
 */
const COMMAND = 0, ARG_A = 1, ARG_B = 2, VALUE_TAG = 3, PARKED = 6

/** How a returned value is stored: as f64, as i64, or none. */
export const ValueTag = { NONE: 0, NUMBER: 1, BIGINT: 2 } as const

export class Mailbox {
  readonly control: Int32Array
  readonly data: Uint8Array
  private readonly f64: Float64Array
  private readonly i64: BigInt64Array
  /** The worker's current spin budget (see {@link MAX_SPIN}). */
  private spin = MAX_SPIN

  constructor(readonly buffer: SharedArrayBuffer) {
    this.control = new Int32Array(buffer, 0, HEADER_BYTES / 4)
    this.f64 = new Float64Array(buffer, 16, 1)
    this.i64 = new BigInt64Array(buffer, 16, 1)
    this.data = new Uint8Array(buffer, HEADER_BYTES)
  }

  static create(): Mailbox {
    return new Mailbox(new SharedArrayBuffer(HEADER_BYTES + MAILBOX_DATA_BYTES))
  }

  // Host side ---------------------------------------------------------------------------

  /**
   * Issues a command (operands in `a`, `b`, and the data area) and wakes the worker if it is
   * parked: it stores PARKED before it looks at COMMAND a last time and waits, this side
   * stores COMMAND before it looks at PARKED, so one of the two always notices.
   */
  send(command: number, a = 0, b = 0): void {
    this.control[ARG_A] = a
    this.control[ARG_B] = b
    Atomics.store(this.control, COMMAND, command)
    if (Atomics.load(this.control, PARKED) === 1) Atomics.notify(this.control, COMMAND)
  }

  setValue(value: number | bigint | undefined): void {
    if (typeof value === 'bigint') { this.i64[0] = value; this.control[VALUE_TAG] = ValueTag.BIGINT }
    else if (typeof value === 'number') { this.f64[0] = value; this.control[VALUE_TAG] = ValueTag.NUMBER }
    else this.control[VALUE_TAG] = ValueTag.NONE
  }

  // Worker side -------------------------------------------------------------------------

  /** Blocks until the host issues a command; returns it (operands via `a`/`b`). */
  waitForCommand(): number {
    const c = this.control
    for (let i = 0; i < this.spin; i++) {
      const command = Atomics.load(c, COMMAND)
      if (command !== Command.NONE) {
        this.spin = Math.min(MAX_SPIN, this.spin * 2)
        return command
      }
    }
    this.spin = Math.max(MIN_SPIN, this.spin >> 2)
    Atomics.store(c, PARKED, 1)
    try {
      for (;;) { // a wake-up without a command (a late notify) is not a command
        Atomics.wait(c, COMMAND, Command.NONE)
        const command = Atomics.load(c, COMMAND)
        if (command !== Command.NONE) return command
      }
    } finally {
      Atomics.store(c, PARKED, 0)
    }
  }

  /** Marks the command handled, so the next one can be sent. */
  done(): void {
    Atomics.store(this.control, COMMAND, Command.NONE)
  }

  get a(): number { return this.control[ARG_A]! >>> 0 }
  get b(): number { return this.control[ARG_B]! >>> 0 }

  value(): number | bigint | undefined {
    switch (this.control[VALUE_TAG]) {
      case ValueTag.NUMBER: return this.f64[0]!
      case ValueTag.BIGINT: return this.i64[0]!
      default: return undefined
    }
  }
}
