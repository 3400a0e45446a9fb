import { SandboxError } from '../errors/index.js'
import type { ExportDescriptor } from '../meter/module-types.js'

/** Per-call options, passed as a trailing `{ signal?, timeout? }` object. */
export interface CallOptions {
  signal?: AbortSignalLike
  /** Overrides the sandbox's timeout for this call ('250ms', '2s' or ms). */
  timeout?: number | string
}

/** The part of AbortSignal the sandbox uses (core does not assume the DOM). */
export interface AbortSignalLike {
  readonly aborted: boolean
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

const CALL_OPTION_KEYS = new Set(['signal', 'timeout'])

/**
 * Splits `call(fn, ...args)` arguments: a final plain object whose keys are only `signal`
 * and/or `timeout` is the call's options, not an argument (wasm arguments are numbers and
 * bigints, so there is no ambiguity for core modules).
 */
export function splitCallArgs(args: unknown[]): { args: unknown[]; options: CallOptions } {
  const last = args[args.length - 1]
  if (typeof last === 'object' && last !== null && Object.getPrototypeOf(last) === Object.prototype) {
    const keys = Object.keys(last)
    if (keys.length > 0 && keys.every((k) => CALL_OPTION_KEYS.has(k))) {
      return { args: args.slice(0, -1), options: last as CallOptions }
    }
  }
  return { args, options: {} }
}

const I32_MIN = -(2 ** 31)
const U32_MAX = 2 ** 32 - 1
const I64_MIN = -(2n ** 63n)
const U64_MAX = 2n ** 64n - 1n

/**
 * Checks arguments against the export's signature and converts them the way users expect.
 * i32 takes an integer from -2^31 to 2^32-1 (signed or unsigned: 0xffffffff is -1); i64 a
 * bigint (or a safe integer) from -2^63 to 2^64-1; f32/f64 any number. Nothing is wrapped
 * or truncated: a fractional or out-of-range value fails with CONFIG naming the export and
 * the argument, counted from 1 (`field` is the JavaScript path, `args[0]` for argument 1).
 */
export function toWasmArgs(exp: ExportDescriptor, args: unknown[]): unknown[] {
  const { params } = exp
  if (params.length === 0 && exp.results.length === 0 && args.length === 0) return args
  if (args.length !== params.length) {
    throw new SandboxError('CONFIG', `${exp.name} expects ${params.length} argument${params.length === 1 ? '' : 's'} (${params.join(', ')}), got ${args.length}`, {
      field: 'args', export: exp.name,
    })
  }
  const out = new Array<unknown>(args.length)
  for (let i = 0; i < args.length; i++) out[i] = toWasmValue(exp, i, args[i])
  return out
}

function toWasmValue(exp: ExportDescriptor, i: number, value: unknown): unknown {
    const type = exp.params[i]
    const bad = (expected: string) => {
      const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'number' ? String(value) : JSON.stringify(value) ?? typeof value
      return new SandboxError('CONFIG', `${exp.name} argument ${i + 1} is ${type}: expected ${expected}, got ${shown}`, { field: `args[${i}]`, export: exp.name })
    }
    switch (type) {
      case 'i64': {
        const big = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : null
        if (big === null) throw bad(typeof value === 'number' && Number.isInteger(value) ? 'a bigint (this number is past 2^53, where numbers lose precision)' : 'a bigint or a safe integer')
        if (big < I64_MIN || big > U64_MAX) throw bad('an integer from -2^63 to 2^64-1')
        return big
      }
      case 'i32': {
        const n = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : typeof value === 'boolean' ? Number(value) : null
        if (n === null) throw bad('a number')
        if (!Number.isInteger(n)) throw bad('an integer')
        if (n < I32_MIN || n > U32_MAX) throw bad('an integer from -2^31 to 2^32-1')
        return n
      }
      case 'f32': case 'f64':
        if (typeof value === 'number') return value
        if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) return Number(value)
        if (typeof value === 'boolean') return value ? 1 : 0
        throw bad('a number')
      case 'v128':
        throw bad('nothing: v128 values cannot cross into JavaScript')
      default:
        return value
    }
}
