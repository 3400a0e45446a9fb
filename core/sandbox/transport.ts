import type { SandboxError } from '../errors/index.js'
import type { CallReport, CallRequest } from '../protocol/messages.js'
import type { CallOptions } from './call-args.js'

/**
 * How one call ended, before its usage is recorded. `report` is the guest's own account
 * (absent when the worker was stopped mid-call and could not give one); `skipped` marks a
 * call that never ran (cancelled before its turn), which is not recorded.
 */
export type CallOutcome =
  | { ok: true; value: unknown; report: CallReport; wallMs: number }
  | { ok: false; error: SandboxError; report?: CallReport; wallMs: number; skipped?: boolean }

/**
 * How calls reach the instance: through shared memory or messages to a worker
 * (`ChannelTransport`, `MessageTransport`), or on the caller's thread (`InlineTransport`).
 * Requests are checked and admitted before; outcomes are recorded after (`SandboxBase`).
 */
export interface Transport {
  /** Runs one call. */
  send(request: CallRequest, options: CallOptions): Promise<CallOutcome>
  /** Runs calls back to back: an outcome per call, in order, none lost when one fails. */
  sendAll(requests: CallRequest[], options: CallOptions): Promise<CallOutcome[]>
}
