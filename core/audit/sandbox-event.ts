import type { SecurityEvent } from './security-event.js'
import type { Usage } from '../errors/index.js'

/**
 * What `onEvent` receives: every finished call, and every audit event (a denied capability
 * use, an import the policy does not grant, a quota).
 */
export type SandboxEvent =
  | { type: 'call'; time: number; export: string; ok: boolean; code?: string; usage: Usage }
  | ({ type: 'audit' } & SecurityEvent)

export type EventHandler = (event: SandboxEvent) => void
