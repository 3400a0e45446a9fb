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

/**
 * Checks arguments against the export's signature and converts them the way users expect:
 * i64 takes a bigint or a safe integer (converted), i32/f32/f64 take numbers (or bigints
 * that fit). Mismatches fail with CONFIG naming the export and parameter.
 */
export function toWasmArgs(exp: ExportDescriptor, args: unknown[]): unknown[] {
  const { params } = exp
  if (params.length === 0 && exp.results.length === 0 && args.length === 0) return args
  if (args.length !== params.length) {
    throw new SandboxError('CONFIG', `${exp.name} expects ${params.length} argument${params.length === 1 ? '' : 's'} (${params.join(', ')}), got ${args.length}`, {
      field: 'args', export: exp.name,
    })
  }
  return args.map((value, i) => {
    const type = params[i]
    const bad = (expected: string) => new SandboxError('CONFIG', `${exp.name} argument ${i} is ${type}: expected ${expected}, got ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? typeof value}`, { field: `args[${i}]`, export: exp.name })
    switch (type) {
      case 'i64':
        if (typeof value === 'bigint') return value
        if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value)
        throw bad('a bigint or a safe integer')
      case 'i32': case 'f32': case 'f64':
        if (typeof value === 'number') return value
        if (typeof value === 'bigint' && Number.isSafeInteger(Number(value))) return Number(value)
        if (typeof value === 'boolean') return value ? 1 : 0
        throw bad('a number')
      case 'v128':
        throw bad('nothing: v128 values cannot cross into JavaScript')
      default:
        return value
    }
  })
}
