/**
 * The closed list of stable error codes. A code never changes meaning once published;
 * programs branch on `error.code`, never on the message.
 */
export const ErrorCode = {
  /** Bad bytes or text: carries `offset` (binary) or `line` (text). */
  INVALID_MODULE: 'INVALID_MODULE',
  /** The module imports something the policy does not grant: carries `imports`. */
  LINK_ERROR: 'LINK_ERROR',
  /** A bad option: carries `field` and usually `suggestion`. */
  CONFIG: 'CONFIG',
  /** The called export does not exist or is not a function. */
  NO_SUCH_EXPORT: 'NO_SUCH_EXPORT',
  /** The call used its whole fuel budget. */
  FUEL_EXHAUSTED: 'FUEL_EXHAUSTED',
  /** The call ran past its wall-clock timeout; the worker was killed. */
  TIMEOUT: 'TIMEOUT',
  /** Memory or table growth beyond the cap (or a declaration above it). */
  MEMORY_LIMIT: 'MEMORY_LIMIT',
  /** Nested wasm calls beyond `stackDepth`, or the engine's own stack ran out. */
  STACK_OVERFLOW: 'STACK_OVERFLOW',
  /** The guest trapped (unreachable, out-of-bounds access, divide by zero...). */
  TRAP: 'TRAP',
  /** The guest used a capability the policy denies. */
  SECURITY_VIOLATION: 'SECURITY_VIOLATION',
  /** A host function threw or rejected. */
  HOST_ERROR: 'HOST_ERROR',
  /** The caller aborted the call through its AbortSignal. */
  CANCELLED: 'CANCELLED',
  /**
   * A bytes/JSON reply larger than `maxReplyBytes`: carries `{ kind: 'reply', limit, used }`.
   * Refused in the worker, before the reply is copied out of the guest.
   */
  OUTPUT_LIMIT: 'OUTPUT_LIMIT',
  /** A queue is full. */
  OVERLOADED: 'OVERLOADED',
  /** A tenant quota is used up. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** The sandbox (or pool) was closed. */
  CLOSED: 'CLOSED',
  /** A bug in wasm-sandbox itself; please report it. */
  INTERNAL: 'INTERNAL',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]
