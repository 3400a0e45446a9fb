import { clip } from '../text/index.js'
import type { SecurityEvent } from './security-event.js'

/**
 * The most distinct events one call reports; repeats of one are folded into its `count`,
 * and events past this are counted in a last `{ capability: 'audit', dropped }` event.
 */
export const MAX_AUDIT_EVENTS_PER_CALL = 64
/** Longest `path` and `detail` kept, in UTF-16 units (both can be guest-chosen text). */
const MAX_TEXT = 512

/**
 * The worker's audit events of one call. A guest can be denied millions of times in one
 * call (a loop over two denied WASI calls): each denial is O(1) here (a map lookup), and
 * what crosses to the host is at most {@link MAX_AUDIT_EVENTS_PER_CALL} + 1 events.
 */
export class AuditCollector {
  private events: SecurityEvent[] = []
  private readonly byKey = new Map<string, SecurityEvent>()
  private dropped = 0

  record(capability: string, operation: string, detail: string, path?: string): void {
    const key = `${capability}\u0000${operation}\u0000${path ?? ''}\u0000${detail}`
    const seen = this.byKey.get(key)
    if (seen) {
      seen.count = (seen.count ?? 1) + 1
      return
    }
    if (this.events.length >= MAX_AUDIT_EVENTS_PER_CALL) {
      this.dropped++
      return
    }
    const event: SecurityEvent = { time: Date.now(), capability, operation, ...(path === undefined ? {} : { path: clip(path, MAX_TEXT) }), detail: clip(detail, MAX_TEXT) }
    this.byKey.set(key, event)
    this.events.push(event)
  }

  /** The events since the last take, and a summary of those dropped. */
  take(): SecurityEvent[] {
    const events = this.events
    if (this.dropped > 0) {
      events.push({ time: Date.now(), capability: 'audit', operation: 'dropped', detail: `${this.dropped} more events in this call were dropped (at most ${MAX_AUDIT_EVENTS_PER_CALL} distinct events per call)`, dropped: this.dropped })
    }
    this.events = []
    this.byKey.clear()
    this.dropped = 0
    return events
  }
}
