export { AuditCollector, MAX_AUDIT_EVENTS_PER_CALL } from './audit-collector.js'
export { MAX_AUDIT_EVENTS } from './security-event.js'
export type { SecurityEvent } from './security-event.js'
export type { CompileCacheEvent, EventHandler, SandboxEvent } from './sandbox-event.js'
