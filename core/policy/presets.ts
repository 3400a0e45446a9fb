import type { PolicyPreset } from './options.js'

/** The limits each preset sets. Explicit options override them. */
export interface PresetLimits {
  fuel: bigint | null
  memoryBytes: number
  timeoutMs: number
  stackDepth: number
  tableElements: number
  /** Largest reply of one bytes/JSON call (see `SandboxOptions.maxReplyBytes`). */
  maxReplyBytes: number
  /** What `wasi: true` grants beyond args/env/stdin/preopens given explicitly. */
  wasiClock: boolean
  wasiRandom: boolean
}

const MB = 1024 * 1024

/** Default preset: `strict`. */
export const DEFAULT_POLICY: PolicyPreset = 'strict'

/**
 * - `strict` (default): 1e9 fuel, 64MB memory, 5s, depth 1000, 10k table elements, 16MB replies; WASI
 *   clock and random only when asked for.
 * - `standard`: 1e10 fuel, 256MB, 30s, depth 10k, 100k elements, 64MB replies; clock and random granted
 *   with `wasi: true`.
 * - `permissive`: unlimited fuel, 1GB, 5 minutes, depth 20k, 1M elements, 256MB replies.
 * No preset grants host functions, files or network: those are always explicit.
 */
export const PRESETS: Record<PolicyPreset, PresetLimits> = {
  strict: { fuel: 1_000_000_000n, memoryBytes: 64 * MB, timeoutMs: 5_000, stackDepth: 1_000, tableElements: 10_000, maxReplyBytes: 16 * MB, wasiClock: false, wasiRandom: false },
  standard: { fuel: 10_000_000_000n, memoryBytes: 256 * MB, timeoutMs: 30_000, stackDepth: 10_000, tableElements: 100_000, maxReplyBytes: 64 * MB, wasiClock: true, wasiRandom: true },
  permissive: { fuel: null, memoryBytes: 1024 * MB, timeoutMs: 300_000, stackDepth: 20_000, tableElements: 1_000_000, maxReplyBytes: 256 * MB, wasiClock: true, wasiRandom: true },
}

export const DEFAULT_FUEL = PRESETS.strict.fuel
export const DEFAULT_MEMORY_BYTES = PRESETS.strict.memoryBytes
export const DEFAULT_TIMEOUT_MS = PRESETS.strict.timeoutMs
export const DEFAULT_STACK_DEPTH = PRESETS.strict.stackDepth
export const DEFAULT_TABLE_ELEMENTS = PRESETS.strict.tableElements
export const DEFAULT_MAX_REPLY_BYTES = PRESETS.strict.maxReplyBytes
