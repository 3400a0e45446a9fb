export { ErrorCode } from './error-codes.js'
export { SandboxError, isSandboxError } from './sandbox-error.js'
export type { ResourceKind, SandboxErrorDetails, SerializedError, Usage } from './sandbox-error.js'
