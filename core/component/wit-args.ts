import { SandboxError } from '../errors/index.js'
import type { ExportDescriptor } from '../meter/module-types.js'

const INT_RANGES: Record<string, [number, number]> = {
  u8: [0, 255], u16: [0, 65535], u32: [0, 2 ** 32 - 1],
  s8: [-128, 127], s16: [-32768, 32767], s32: [-(2 ** 31), 2 ** 31 - 1],
}
const BIG_RANGES: Record<string, [bigint, bigint]> = { u64: [0n, 2n ** 64n - 1n], s64: [-(2n ** 63n), 2n ** 63n - 1n] }

/**
 * Checks arguments for a component's world function against its WIT parameters (`name:
 * type`), before anything is sent to the worker: the count, and every scalar WIT type
 * (`string`, `bool`, `char`, integers with their ranges, floats, `list<u8>`). Compound
 * types (records, variants, lists...) are left to jco's lowering. A mismatch is CONFIG
 * naming the argument, counted from 1. Interface functions (listed with jco's TypeScript
 * types) are left to jco.
 */
export function checkWitArgs(exp: ExportDescriptor, args: unknown[]): void {
  if (!exp.signature?.startsWith('func(')) return
  const params = exp.params.map((p) => {
    const at = p.indexOf(':')
    return { name: p.slice(0, at).trim(), type: p.slice(at + 1).trim() }
  })
  const required = params.filter((p) => !p.type.startsWith('option<')).length
  if (args.length > params.length || args.length < required) {
    throw new SandboxError('CONFIG', `${exp.name} expects ${params.length} argument${params.length === 1 ? '' : 's'} (${exp.params.join(', ')}), got ${args.length}`, { field: 'args', export: exp.name })
  }
  args.forEach((value, i) => {
    const { name, type } = params[i]!
    const expected = expectedFor(type, value)
    if (expected === null) return
    const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'number' ? String(value) : value instanceof Uint8Array ? 'a Uint8Array' : JSON.stringify(value) ?? typeof value
    throw new SandboxError('CONFIG', `${exp.name} argument ${i + 1} (${name}: ${type}): expected ${expected}, got ${shown}`, { field: `args[${i}]`, export: exp.name })
  })
}

/** What a value of WIT `type` must be, or null when `value` is one (or the type is not checked here). */
function expectedFor(type: string, value: unknown): string | null {
  if (type === 'string') return typeof value === 'string' ? null : 'a string'
  if (type === 'bool') return typeof value === 'boolean' ? null : 'true or false'
  if (type === 'char') return typeof value === 'string' && [...value].length === 1 ? null : 'a one-character string'
  if (type === 'f32' || type === 'f64' || type === 'float32' || type === 'float64') return typeof value === 'number' ? null : 'a number'
  const int = INT_RANGES[type]
  if (int) return typeof value === 'number' && Number.isInteger(value) && value >= int[0] && value <= int[1] ? null : `an integer from ${int[0]} to ${int[1]}`
  const big = BIG_RANGES[type]
  if (big) {
    const v = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : null
    return v !== null && v >= big[0] && v <= big[1] ? null : `a bigint from ${big[0]} to ${big[1]}`
  }
  if (type === 'list<u8>') return value instanceof Uint8Array || Array.isArray(value) ? null : 'a Uint8Array'
  return null
}
