export { parseBytes, parseDuration } from './units.js'
export { configError, editDistance, normalizeOptions } from './normalize.js'
export {
  DEFAULT_FUEL, DEFAULT_MEMORY_BYTES, DEFAULT_POLICY, DEFAULT_STACK_DEPTH, DEFAULT_TABLE_ELEMENTS, DEFAULT_MAX_REPLY_BYTES,
  DEFAULT_TIMEOUT_MS, PRESETS,
} from './presets.js'
export type { PresetLimits } from './presets.js'
export type { HostFunction, NormalizedPolicy, PolicyPreset, SandboxOptions, WasiOptions } from './options.js'
