export { MAX_AUDIT_EVENTS } from './security-event.js'
export type { SecurityEvent } from './security-event.js'
