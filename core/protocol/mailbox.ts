/**
 * The shared mailbox: how the host answers a worker that is blocked inside a host-function
 * call. One SharedArrayBuffer per worker: a few Int32 control words, then a data area.
 * The host writes a command and its operands, stores `command`, and notifies; the worker
 * (in `Atomics.wait` on `command`) acts, clears `command` and replies with a message.
 */
export const MAILBOX_DATA_BYTES = 1 << 20
const SPIN = 20_000
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

/** Slots of the Int32 control words. */
const COMMAND = 0, ARG_A = 1, ARG_B = 2, VALUE_TAG = 3

/** How a returned value is stored: as f64, as i64, or none. */
export const ValueTag = { NONE: 0, NUMBER: 1, BIGINT: 2 } as const

export class Mailbox {
  readonly control: Int32Array
  readonly data: Uint8Array
  private readonly f64: Float64Array
  private readonly i64: BigInt64Array

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

  /** Issues a command (operands in `a`, `b`, and the data area) and wakes the worker. */
  send(command: number, a = 0, b = 0): void {
    this.control[ARG_A] = a
    this.control[ARG_B] = b
    Atomics.store(this.control, COMMAND, command)
    Atomics.notify(this.control, COMMAND)
  }

  setValue(value: number | bigint | undefined): void {
    if (typeof value === 'bigint') { this.i64[0] = value; this.control[VALUE_TAG] = ValueTag.BIGINT }
    else if (typeof value === 'number') { this.f64[0] = value; this.control[VALUE_TAG] = ValueTag.NUMBER }
    else this.control[VALUE_TAG] = ValueTag.NONE
  }

  // Worker side -------------------------------------------------------------------------

  /** Blocks until the host issues a command; returns it (operands via `a`/`b`). */
  waitForCommand(): number {
    // A synchronous host function answers within microseconds: spin before parking.
    for (let i = 0; i < SPIN; i++) {
      const command = Atomics.load(this.control, COMMAND)
      if (command !== Command.NONE) return command
    }
    for (;;) { // a wake-up without a command (a late notify) is not a command
      Atomics.wait(this.control, COMMAND, Command.NONE)
      const command = Atomics.load(this.control, COMMAND)
      if (command !== Command.NONE) return command
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
