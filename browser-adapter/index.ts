export { Sandbox, run } from './sandbox.js'
export {
  SandboxError, ErrorCode, isSandboxError, meter, PRESETS, DEFAULT_POLICY, DEFAULT_FUEL, DEFAULT_MEMORY_BYTES,
  DEFAULT_STACK_DEPTH, DEFAULT_TABLE_ELEMENTS, DEFAULT_TIMEOUT_MS, MAX_FUEL,
} from '../core/index.js'
export type {
  BatchCall, BatchResult, CallOptions, CommandOptions, CommandOutput, SecurityEvent, ExportDescriptor, HostContext, HostFunction, PolicyPreset, SandboxErrorDetails, SandboxOptions, Usage, ValueTypeName, WasiOptions,
} from '../core/index.js'
