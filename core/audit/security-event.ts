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
}

/** The most events a sandbox keeps; older ones are dropped first. */
export const MAX_AUDIT_EVENTS = 10_000
