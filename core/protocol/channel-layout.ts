/**
 * Where everything lives in a call channel's SharedArrayBuffer: named indices into typed
 * views (so the code reads `control[Word.DONE]`, never a byte offset), and the views
 * themselves. How the two sides use these words is told in `call-channel.ts`.
 *
 *   bytes 0..256        control: Int32 words ({@link Word})
 *   bytes 256..1024     value slots: 8 bytes each, read as f64 or i64 ({@link Slot})
 *   bytes 1024..256K    data area: a bytes call's input/output, or an error as JSON
 *   bytes 256K..        the ring: {@link RING_SLOTS} slots of {@link RING_SLOT_BYTES}
 *
 * The hot code binds the fields it uses to module constants (`const { DONE } = Word`):
 * measured with both sides of a channel driven in one thread, that costs the same as
 * number literals, while a property load for each `Word.DONE` cost +25% CPU per values
 * call. (`const enum` would inline them, but this project compiles with `isolatedModules`.)
 */

/** The most arguments (or results) a call can carry in the value slots. */
export const MAX_CHANNEL_VALUES = 32

/** Byte offsets of the buffer's regions. */
export const Region = { CONTROL: 0, SLOTS: 256, DATA: 1024, RING: 256 * 1024 } as const

/** Int32 control words, by index into {@link ChannelViews.control}. */
export const Word = {
  /** Bumped by the host for every event (a call in the slot or the ring, a posted message); the worker waits on it. */
  SEQ: 0,
  /** 1 while a call waits in the single slot; the worker takes it by clearing it. */
  CALL_PENDING: 1,
  /** How many messages the host posted; the worker returns to its event loop to take them. */
  POSTED: 2,
  /** The worker's answer ({@link Done}); the host waits on it. */
  DONE: 3,
  /** The export (or, for a host call, the import) index. */
  FN: 4,
  /** How many values are in the value slots. */
  COUNT: 5,
  /** How the single-slot call ended ({@link Status}). */
  STATUS: 6,
  HOST_CALLS: 7,
  /** Bytes used in the data area (input, output or error). */
  DATA_LENGTH: 8,
  /** 1 when the call brings a fuel budget of its own (in {@link Slot.FUEL}). */
  HAS_FUEL: 9,
  /** Values or bytes ({@link Mode}). */
  MODE: 10,
  /** The host's id of a bytes call, for an output that comes by message. */
  CALL_ID: 11,
  /** 1 while this channel's worker holds a process-wide spin slot. */
  SPINNING: 12,
  /** Bumped by the worker when a ring call ends or a host call is asked for; the host waits on it. */
  COMPLETIONS: 13,
  /** Set by the worker after a ring call failed: it runs no more until the host resumes it. */
  HALTED: 14,
  /** The ring slot + 1 of the ring call running, 0 if none. */
  RUNNING: 15,
  /** The first of {@link MAX_CHANNEL_VALUES} tags ({@link Tag}), one per value slot. */
  TAGS: 16,
  /**
   * 1 while the worker is parked (or about to) in `Atomics.wait`: only then does it need a
   * notify; 2 once one was sent (the next event needs none: the worker is waking up).
   */
  PARKED: 16 + MAX_CHANNEL_VALUES,
} as const

/** 8-byte slots, by index into {@link ChannelViews.f64} / {@link ChannelViews.i64}: the values first. */
export const Slot = {
  /** The report: fuel used (i64) and memory size (f64) of the single-slot call. */
  FUEL_USED: MAX_CHANNEL_VALUES,
  MEMORY_BYTES: MAX_CHANNEL_VALUES + 1,
  /** The call's own fuel budget (i64), when {@link Word.HAS_FUEL}. */
  FUEL: MAX_CHANNEL_VALUES + 2,
  /** When (`Date.now()`) the running ring call began (f64). */
  RUNNING_SINCE: MAX_CHANNEL_VALUES + 3,
} as const
const SLOT_COUNT = MAX_CHANNEL_VALUES + 4

/** How a value slot is read. */
export const Tag = { F64: 0, I64: 1 } as const

/** {@link Word.DONE} values. */
export const Done = {
  PENDING: 0, OK: 1, ERROR: 2, KILLED: 3,
  /** Not done: the guest called a host function (index and arguments in the slots). */
  HOST_CALL: 4,
} as const

/** How a call ended ({@link Word.STATUS}, and a ring slot's status). */
export const Status = { OK: 0, FAILED: 1, OUTPUT_BY_MESSAGE: 3 } as const

/** {@link Word.MODE} values. */
export const Mode = { VALUES: 0, BYTES: 1 } as const

/** The largest bytes-call input and output that travel through the single slot. */
export const CHANNEL_DATA_BYTES = Region.RING - Region.DATA

/** The ring: slots after the data area (a single-slot call never touches them). */
export const RING_SLOTS = 32
export const RING_SLOT_BYTES = 8 * 1024
/** A ring slot starts with a header (Int32 words, then 8-byte fields), then its input (later its output or error). */
export const RING_HEADER_BYTES = 48
/** The largest input a ring slot takes (a larger call goes alone). */
export const RING_INPUT_BYTES = RING_SLOT_BYTES - RING_HEADER_BYTES
/** A ring slot's Int32 header words, by index from the slot's first word. */
export const RingWord = {
  /** {@link SlotState}, changed atomically: the hand-over between the two sides. */
  STATE: 0, FN: 1, LENGTH: 2, CALL_ID: 3, STATUS: 4, HOST_CALLS: 5,
} as const
/** A ring slot's 8-byte header fields, by index from the slot's first 8-byte field (after the Int32 words). */
export const RingWide = { FUEL_USED: 3, MEMORY_BYTES: 4, WALL_MS: 5 } as const
/** Ring slot states. */
export const SlotState = { FREE: 0, SUBMITTED: 1, FINISHED: 2 } as const
export const RING_SLOT_WORDS = RING_SLOT_BYTES / 4
export const RING_SLOT_WIDE = RING_SLOT_BYTES / 8

/** The size of a call channel's buffer. */
export const CHANNEL_BYTES = Region.RING + RING_SLOTS * RING_SLOT_BYTES

/** Typed views of one channel buffer, shared by the single slot and the ring. */
export class ChannelViews {
  readonly control: Int32Array
  readonly f64: Float64Array
  readonly i64: BigInt64Array
  readonly data: Uint8Array
  /** The ring as bytes (inputs and outputs), as Int32 words and as 8-byte fields (headers). */
  readonly ring: Uint8Array
  readonly ringWords: Int32Array
  readonly ringF64: Float64Array
  readonly ringI64: BigInt64Array

  constructor(readonly buffer: SharedArrayBuffer) {
    this.control = new Int32Array(buffer, Region.CONTROL, (Region.SLOTS - Region.CONTROL) / 4)
    this.f64 = new Float64Array(buffer, Region.SLOTS, SLOT_COUNT)
    this.i64 = new BigInt64Array(buffer, Region.SLOTS, SLOT_COUNT)
    this.data = new Uint8Array(buffer, Region.DATA, CHANNEL_DATA_BYTES)
    this.ring = new Uint8Array(buffer, Region.RING)
    this.ringWords = new Int32Array(buffer, Region.RING)
    this.ringF64 = new Float64Array(buffer, Region.RING)
    this.ringI64 = new BigInt64Array(buffer, Region.RING)
  }
}
