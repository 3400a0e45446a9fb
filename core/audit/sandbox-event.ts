import type { SecurityEvent } from './security-event.js'
import type { Usage } from '../errors/index.js'

/**
 * What `onEvent` receives: every finished call, every audit event (a denied capability
 * use, an import the policy does not grant, a quota) and, with `cacheDir`, each look-up in
 * the persistent compile cache.
 */
export type SandboxEvent =
  | { type: 'call'; time: number; export: string; ok: boolean; code?: string; usage: Usage }
  | ({ type: 'audit' } & SecurityEvent)
  | CompileCacheEvent

/**
 * A look-up in the persistent compile cache (`cacheDir`): `hit` (a verified entry was used),
 * `miss` (none: built, and `stored` says whether the entry was written) or `invalid` (an entry
 * failed verification — corrupted, truncated, modified, or written for another key — so it
 * was ignored and rebuilt). `detail` says what went wrong, if anything.
 */
export interface CompileCacheEvent {
  type: 'compile-cache'
  time: number
  outcome: 'hit' | 'miss' | 'invalid'
  kind: 'module' | 'component'
  key: string
  stored?: boolean
  detail?: string
}

export type EventHandler = (event: SandboxEvent) => void
