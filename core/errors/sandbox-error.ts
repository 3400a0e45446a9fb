import { clip, decodeUtf8 } from '../text/index.js'
import type { ErrorCode } from './error-codes.js'

/** Which resource a resource error is about. */
export type ResourceKind = 'fuel' | 'memory' | 'table' | 'stack' | 'time' | 'queue' | string

/** Resource usage of one call (or, cumulated, of a sandbox). */
export interface Usage {
  /** Fuel (weighted instructions) consumed. */
  fuelUsed: bigint
  /** The fuel budget of one call; `null` when unlimited. */
  fuelLimit: bigint | null
  /** Current size of the guest's linear memory, in bytes. */
  memoryBytes: number
  /** Largest size the guest's memory reached, in bytes. */
  memoryPeakBytes: number
  /** Wall-clock time, in milliseconds. */
  wallMs: number
  /** Number of calls. */
  calls: number
  /** Number of calls that ended in an error raised by the guest or its limits. */
  traps: number
  /** Number of host-function calls the guest made. */
  hostCalls: number
}

/** Optional structured details carried by a {@link SandboxError}. */
export interface SandboxErrorDetails {
  /** Resource errors: the resource. */
  kind?: ResourceKind
  /** Resource errors: the limit in force (bytes, fuel, ms, frames, elements). */
  limit?: number | bigint
  /** Resource errors: the amount used or requested when the limit was hit. */
  used?: number | bigint
  /** What to do about it, when there is something to do. */
  suggestion?: string
  /** CONFIG: the option at fault, e.g. `memory` or `wasi.preopens`. */
  field?: string
  /** INVALID_MODULE: byte offset into the binary. */
  offset?: number
  /** INVALID_MODULE: 1-based line in WebAssembly text. */
  line?: number
  /** TRAP and call errors: the export that was called. */
  export?: string
  /** TRAP: the engine's trap message, e.g. "unreachable". */
  trap?: string
  /** LINK_ERROR: the imports that are not granted, as `module.name`. */
  imports?: string[]
  /** SECURITY_VIOLATION: the capability that was denied. */
  capability?: string
  /** Usage of the failed call. */
  usage?: Usage
  /**
   * A WASI command that failed (trap, fuel, memory, stack, or a timeout the worker saw):
   * what it wrote to stdout/stderr before, up to the capture limit. `stdout`/`stderr` are
   * the same as UTF-8 text, set from these.
   */
  stdoutBytes?: Uint8Array
  stderrBytes?: Uint8Array
  cause?: unknown
}

/**
 * Every failure the sandbox reports. `code` is stable (see {@link ErrorCode}); the other
 * fields depend on it. Errors cross the worker boundary as plain data
 * ({@link SandboxError.toJSON}) and are rebuilt with {@link SandboxError.from}.
 */
export class SandboxError extends Error {
  readonly code: ErrorCode
  declare readonly kind?: ResourceKind
  declare readonly limit?: number | bigint
  declare readonly used?: number | bigint
  declare readonly suggestion?: string
  declare readonly field?: string
  declare readonly offset?: number
  declare readonly line?: number
  declare readonly export?: string
  declare readonly trap?: string
  declare readonly imports?: string[]
  declare readonly capability?: string
  declare usage?: Usage
  declare readonly stdoutBytes?: Uint8Array
  declare readonly stderrBytes?: Uint8Array
  /** A failed WASI command's stdout as text (malformed UTF-8 becomes U+FFFD); see `stdoutBytes`. */
  declare readonly stdout?: string
  declare readonly stderr?: string

  constructor(code: ErrorCode, message: string, details: SandboxErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'SandboxError'
    this.code = code
    for (const key of DETAIL_KEYS) {
      if (details[key] !== undefined) (this as Record<string, unknown>)[key] = details[key]
    }
    // The text is derived here, so only the bytes cross the worker boundary.
    if (details.stdoutBytes) (this as { stdout?: string }).stdout = decodeUtf8(details.stdoutBytes)
    if (details.stderrBytes) (this as { stderr?: string }).stderr = decodeUtf8(details.stderrBytes)
  }

  /**
   * Plain data for structured clone / JSON (bigints stay bigints for structured clone).
   * Text fields are cut to a bounded size: many are guest-controlled (an export's name, a
   * trap message), and an error must cross the worker boundary whatever the guest did.
   */
  toJSON(): SerializedError {
    const out: SerializedError = { code: this.code, message: clip(this.message, MAX_MESSAGE_CHARS) }
    for (const key of DETAIL_KEYS) {
      let value = (this as Record<string, unknown>)[key]
      if (typeof value === 'string') value = clip(value, MAX_FIELD_CHARS)
      else if (key === 'imports' && Array.isArray(value)) value = value.slice(0, MAX_LIST_ITEMS).map((name: string) => clip(name, MAX_FIELD_CHARS))
      if (value !== undefined) (out as Record<string, unknown>)[key] = value
    }
    return out
  }

  /** Rebuild an error sent as {@link SerializedError}. */
  static from(data: SerializedError): SandboxError {
    const { code, message, ...details } = data
    return new SandboxError(code, message, details as SandboxErrorDetails)
  }
}

/** Bounds of an error's text as plain data (see `toJSON`), in UTF-16 units. */
const MAX_MESSAGE_CHARS = 2048
const MAX_FIELD_CHARS = 256
const MAX_LIST_ITEMS = 32

const DETAIL_KEYS = [
  'kind', 'limit', 'used', 'suggestion', 'field', 'offset', 'line', 'export', 'trap', 'imports',
  'capability', 'usage', 'stdoutBytes', 'stderrBytes',
] as const satisfies readonly (keyof SandboxErrorDetails)[]

/** A {@link SandboxError} as plain data. */
export type SerializedError = { code: ErrorCode; message: string } & Omit<SandboxErrorDetails, 'cause'>

export function isSandboxError(value: unknown): value is SandboxError {
  return value instanceof SandboxError
}
