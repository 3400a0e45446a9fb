// What `import ... from 'wasm-sandbox'` gives besides Sandbox and run, the same from both
// adapters (each index re-exports this and adds its own Sandbox and run).
export {
  SandboxError, ErrorCode, isSandboxError, meter, PRESETS, DEFAULT_POLICY, DEFAULT_FUEL, DEFAULT_MEMORY_BYTES,
  DEFAULT_STACK_DEPTH, DEFAULT_TABLE_ELEMENTS, DEFAULT_MAX_REPLY_BYTES, DEFAULT_TIMEOUT_MS, MAX_FUEL, parseManifest,
} from './index.js'
export type {
  BatchCall, BatchResult, Metrics, PluginManifest, ProfileEntry, Tenant, TenantQuota, TenantUsage, SandboxEvent, CompileCacheEvent, PoolOptions, PoolStats, ReloadReport, CallOptions, CommandOptions, CommandOutput, SecurityEvent, ExportDescriptor, HostContext, HostFunction, PolicyPreset, SandboxErrorDetails, SandboxOptions, Usage, ValueTypeName, WasiOptions,
} from './index.js'
