import { SandboxError } from '../errors/index.js'
import type { NetworkFetch, NormalizedPolicy, PolicyPreset, SandboxOptions, WasiOptions } from './options.js'
import { DEFAULT_POLICY, PRESETS } from './presets.js'
import { parseBytes, parseDuration } from './units.js'

const OPTION_KEYS = ['policy', 'fuel', 'memory', 'timeout', 'stackDepth', 'tableElements', 'maxReplyBytes', 'imports', 'wasi', 'network', 'profile', 'isolation', 'metering', 'onEvent', 'cacheDir'] as const
const WASI_KEYS = ['args', 'env', 'stdin', 'preopens', 'clock', 'random'] as const

/** The largest fuel budget: what the meter's i64 counter holds (its MAX_FUEL). */
const MAX_FUEL = 2n ** 63n - 1n

/** Largest wasm32 memory: 65536 pages of 64 KiB. */
const MAX_MEMORY_BYTES = 65536 * 65536

export function configError(field: string, message: string, suggestion?: string): SandboxError {
  return new SandboxError('CONFIG', `${field}: ${message}${suggestion ? `; ${suggestion}` : ''}`, { field, suggestion })
}

/**
 * Applies the preset, parses units and checks every field. Fails fast with `CONFIG`
 * naming the field and, where one helps, a suggestion.
 */
export function normalizeOptions(options: SandboxOptions = {}): NormalizedPolicy {
  if (options === null || typeof options !== 'object') throw configError('options', `expected an object, got ${options === null ? 'null' : typeof options}`)
  rejectUnknownKeys(options, OPTION_KEYS, '')
  const preset = options.policy ?? DEFAULT_POLICY
  if (!(preset in PRESETS)) throw configError('policy', `unknown preset ${JSON.stringify(preset)}`, "use 'strict', 'standard' or 'permissive'")
  const base = PRESETS[preset as PolicyPreset]
  const policy: NormalizedPolicy = {
    preset,
    fuel: options.fuel === undefined ? base.fuel : parseFuel(options.fuel),
    memoryBytes: options.memory === undefined ? base.memoryBytes : parseMemory(options.memory),
    timeoutMs: options.timeout === undefined ? base.timeoutMs : parseDuration(options.timeout, 'timeout'),
    stackDepth: options.stackDepth === undefined ? base.stackDepth : positiveInteger(options.stackDepth, 'stackDepth', 2 ** 31 - 1),
    tableElements: options.tableElements === undefined ? base.tableElements : positiveInteger(options.tableElements, 'tableElements', 2 ** 32 - 1, 0),
    maxReplyBytes: options.maxReplyBytes === undefined ? base.maxReplyBytes : memorySize(options.maxReplyBytes, 'maxReplyBytes'),
    imports: parseImports(options.imports),
    wasi: parseWasi(options.wasi, base.wasiClock, base.wasiRandom),
    networkAllow: parseNetwork(options.network),
    networkFetch: parseNetworkFetch(options.network),
    profile: parseBoolean(options.profile, 'profile') ?? false,
    isolation: parseIsolation(options.isolation),
    metering: parseMetering(options.metering),
    onEvent: parseHandler(options.onEvent),
    cacheDir: parseCacheDir(options.cacheDir),
  }
  if (policy.isolation === 'inline') checkInline(policy, options)
  return policy
}

function parseIsolation(value: unknown): 'worker' | 'inline' {
  if (value === undefined || value === 'worker' || value === 'inline') return value ?? 'worker'
  throw configError('isolation', `expected 'worker' or 'inline', got ${describe(value)}`)
}

/** An inline call cannot be stopped from outside: only its fuel budget ends it. */
function checkInline(policy: NormalizedPolicy, options: SandboxOptions): void {
  if (policy.fuel === null) {
    throw configError('fuel', "an inline sandbox needs a finite fuel budget: fuel is what ends its calls", "set `fuel` (e.g. 1e8), or use isolation: 'worker'")
  }
  if (options.timeout !== undefined) {
    throw configError('timeout', "an inline sandbox runs on the caller's thread, where nothing can stop a call: its fuel budget bounds it instead", "drop `timeout` and size `fuel`, or use isolation: 'worker' for a preemptive timeout")
  }
}

function parseMetering(value: unknown): 'exact' | 'fast' {
  if (value === undefined || value === 'exact' || value === 'fast') return value ?? 'exact'
  throw configError('metering', `expected 'exact' or 'fast', got ${JSON.stringify(value)}`, "use 'exact' (the default) or 'fast'")
}

function parseFuel(value: unknown): bigint | null {
  if (value === 'unlimited') return null
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && Number.isInteger(value) && value < 2 ** 63) return BigInt(value)
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_FUEL) return value
  const suggestion = typeof value === 'string' && /^\d+$/.test(value) ? `use the number ${value}` : "use a whole number of instructions (e.g. 1e6), a bigint or 'unlimited'"
  throw configError('fuel', `cannot use ${describe(value)} as a fuel budget`, suggestion)
}

function parseMemory(value: unknown): number {
  const bytes = memorySize(value, 'memory')
  if (bytes < 65536) throw configError('memory', `${bytes} bytes is less than one 64KiB page`, "use at least '64KiB'")
  return bytes
}

/** A size that a 32-bit memory can hold (memory caps, replies out of guest memory). */
function memorySize(value: unknown, field: string): number {
  const bytes = parseBytes(value, field)
  if (bytes > MAX_MEMORY_BYTES) throw configError(field, `${bytes} bytes is more than a 32-bit memory can hold`, "use at most '4GB'")
  return bytes
}

function positiveInteger(value: unknown, field: string, max: number, min = 1): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value
  throw configError(field, `expected a whole number from ${min} to ${max}, got ${describe(value)}`)
}

function parseBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value
  throw configError(field, `expected true or false, got ${describe(value)}`)
}

function parseHandler(value: unknown): NormalizedPolicy['onEvent'] {
  if (value === undefined) return null
  if (typeof value !== 'function') throw configError('onEvent', `expected a function, got ${describe(value)}`)
  const handler = value as NonNullable<NormalizedPolicy['onEvent']>
  return (event) => {
    try {
      handler(event)
    } catch {
      // An observer must not break the sandbox it observes.
    }
  }
}

function parseCacheDir(value: unknown): string | null {
  if (value === undefined) return null
  if (typeof value === 'string' && value !== '' && !value.includes('\0')) return value
  throw configError('cacheDir', `expected a directory path, got ${describe(value)}`, "e.g. cacheDir: '.cache/wasm-sandbox'")
}

function parseImports(value: unknown): NormalizedPolicy['imports'] {
  if (value === undefined) return {}
  if (!isPlainObject(value)) throw configError('imports', `expected { module: { name: function } }, got ${describe(value)}`)
  const out: NormalizedPolicy['imports'] = {}
  for (const [module, names] of Object.entries(value)) {
    if (!isPlainObject(names)) throw configError(`imports.${module}`, `expected an object of functions, got ${describe(names)}`)
    out[module] = {}
    for (const [name, fn] of Object.entries(names)) {
      if (typeof fn !== 'function') throw configError(`imports.${module}.${name}`, `expected a function, got ${describe(fn)}`, 'host imports are functions; memories, tables and globals cannot be granted')
      out[module]![name] = fn as NormalizedPolicy['imports'][string][string]
    }
  }
  return out
}

function parseWasi(value: unknown, clock: boolean, random: boolean): WasiOptions | null {
  if (value === undefined || value === false) return null
  if (value === true) return { args: [], env: {}, preopens: {}, clock, random }
  if (!isPlainObject(value)) throw configError('wasi', `expected true, false or an object, got ${describe(value)}`)
  rejectUnknownKeys(value, WASI_KEYS, 'wasi.')
  const w = value as WasiOptions
  if (w.args !== undefined && !(Array.isArray(w.args) && w.args.every((a) => typeof a === 'string'))) throw configError('wasi.args', 'expected an array of strings')
  if (w.env !== undefined && !(isPlainObject(w.env) && Object.values(w.env).every((v) => typeof v === 'string'))) throw configError('wasi.env', 'expected an object of string values')
  if (w.stdin !== undefined && typeof w.stdin !== 'string' && !(w.stdin instanceof Uint8Array)) throw configError('wasi.stdin', 'expected a string or a Uint8Array')
  if (w.preopens !== undefined && !isPlainObject(w.preopens)) throw configError('wasi.preopens', 'expected { "/guest/path": { files?, host?, readonly? } }')
  return {
    args: w.args ?? [], env: w.env ?? {}, stdin: w.stdin, preopens: w.preopens ?? {},
    clock: parseBoolean(w.clock, 'wasi.clock') ?? clock,
    random: parseBoolean(w.random, 'wasi.random') ?? random,
  }
}

function parseNetworkFetch(value: unknown): NetworkFetch | null {
  const fetch = isPlainObject(value) ? (value as { fetch?: unknown }).fetch : undefined
  if (fetch === undefined) return null
  if (typeof fetch !== 'function') throw configError('network.fetch', 'expected a fetch-compatible function', 'omit it to use the global fetch')
  return fetch as NetworkFetch
}

function parseNetwork(value: unknown): string[] {
  if (value === undefined) return []
  if (isPlainObject(value)) rejectUnknownKeys(value as object, ['allow', 'fetch'], 'network.')
  const allow = isPlainObject(value) ? (value as { allow?: unknown }).allow : undefined
  if (!Array.isArray(allow) || !allow.every((p) => typeof p === 'string' && /^[^\s:]+:(\d+|\*)$/.test(p))) {
    throw configError('network', `expected { allow: ['host:port', ...] }, got ${describe(value)}`, "use patterns like 'api.example.com:443' or '127.0.0.1:*'")
  }
  return [...allow]
}

function rejectUnknownKeys(value: object, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const close = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2)
    throw configError(prefix + key, 'unknown option', close ? `did you mean '${prefix}${close}'?` : `known options: ${known.join(', ')}`)
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (Array.isArray(value)) return 'an array'
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value)
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[b.length]!
}
