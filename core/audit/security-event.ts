/** One denied (or notable) use of a capability, as `sb.audit()` lists it. */
export interface SecurityEvent {
  /** When, in milliseconds since the epoch. */
  time: number
  /** The capability: 'filesystem', 'clock', 'random', 'network', 'process', 'import'. */
  capability: string
  /** What the guest tried: the WASI function or import name. */
  operation: string
  /** The path involved, for filesystem events. */
  path?: string
  /** Why it was denied, in words. */
  detail: string
  /** How many times the same denial happened in the call, when more than once. */
  count?: number
  /** On the `{ capability: 'audit', operation: 'dropped' }` event: denials of the call not kept. */
  dropped?: number
}

/** The most events a sandbox keeps (a ring: older ones are dropped first). */
export const MAX_AUDIT_EVENTS = 10_000
