import type { SandboxError, SerializedError } from '../errors/index.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { MAX_CHANNEL_VALUES, Tag, Word, type ChannelViews } from './channel-layout.js'
import type { CallReport } from './messages.js'
import { fromWireJson, toWireJson } from './wire-json.js'

/**
 * What crosses a call channel besides raw bytes: numbers and bigints in the value slots
 * (each with a tag, so an i64 comes back a bigint and an f64 a number), and errors as JSON.
 */

// The layout's fields as module constants: measured as cheap as literals, unlike `Word.COUNT` at each use (see `channel-layout.ts`).
const { COUNT, TAGS } = Word
const { F64, I64 } = Tag

/** Whether values can travel in the slots: numbers and bigints only. */
export function fitsSlots(values: readonly unknown[]): boolean {
  if (values.length > MAX_CHANNEL_VALUES) return false
  for (const v of values) if (typeof v !== 'number' && typeof v !== 'bigint') return false
  return true
}

/** The value slots of one channel: arguments, results, or a host call's arguments. */
export class ValueSlots {
  private readonly control: Int32Array
  private readonly f64: Float64Array
  private readonly i64: BigInt64Array

  constructor(views: ChannelViews) {
    this.control = views.control
    this.f64 = views.f64
    this.i64 = views.i64
  }

  write(values: readonly unknown[]): void {
    const c = this.control
    c[COUNT] = values.length
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if (typeof v === 'bigint') { c[TAGS + i] = I64; this.i64[i] = v }
      else { c[TAGS + i] = F64; this.f64[i] = v as number }
    }
  }

  read(): unknown[] {
    const c = this.control
    const n = c[COUNT]!
    const out = new Array<unknown>(n)
    for (let i = 0; i < n; i++) out[i] = c[TAGS + i] === I64 ? this.i64[i] : this.f64[i]
    return out
  }
}

/** Runs one call in the worker: the export index, its arguments (values) or input (bytes), its own fuel budget. */
export type RunCall = (fnIndex: number, args: unknown[], fuel: bigint | undefined, input: Uint8Array | null) =>
  | { ok: true; value: unknown; report: CallReport }
  | { ok: false; error: SandboxError; report: CallReport }

/** Sends a bytes output too large for the data area (or a ring slot) as a message, before the answer. */
export type SendOutput = (callId: number, output: Uint8Array, report: CallReport) => void

/**
 * Errors cross the channel as wire JSON (a bigint limit survives), in at most `maxBytes`:
 * `toJSON` already bounds every text field, but escapes can still swell it, so an error
 * too large for its room loses its details before it could be cut mid-JSON.
 */
export function serializeError(error: SandboxError, maxBytes: number): Uint8Array {
  const encode = (data: object) => encodeUtf8(toWireJson(data))
  const full = error.toJSON()
  let json = encode(full)
  if (json.length <= maxBytes) return json
  const { code, kind, limit, used } = full
  json = encode({ code, message: full.message.slice(0, 256), kind, limit, used })
  return json.length <= maxBytes ? json : encode({ code, message: 'the error was too large to report' })
}

/** An error from the channel; bytes that do not parse (a bug) are still a typed error. */
export function parseError(bytes: Uint8Array): SerializedError {
  try {
    return fromWireJson(decodeUtf8(bytes)) as SerializedError
  } catch (error) {
    return { code: 'INTERNAL', message: `an error from the sandbox worker could not be read: ${(error as Error).message}` }
  }
}
