import type { SandboxError } from '../errors/index.js'
import type { CallChannel } from '../protocol/call-channel.js'
import type { Mailbox } from '../protocol/mailbox.js'
import type { WorkerMessage } from '../protocol/messages.js'
import type { HostCallSession } from './host-context.js'
import type { WorkerHandle } from './platform.js'
import type { PreparedModule } from './prepare-module.js'

export type Reply = Extract<WorkerMessage, { type: 'ready' | 'result' | 'error' }>

/** A live worker and the requests waiting on it. */
export interface Live {
  worker: WorkerHandle
  mailbox: Mailbox | null
  /** The shared-memory call path, where SharedArrayBuffer is available. */
  channel: CallChannel | null
  /** Callbacks by request id: a reply, or the reason the worker stopped. */
  pending: Map<number, (reply: Reply | SandboxError) => void>
  /**
   * Host-function calls in progress, innermost last: a host function's `ctx.alloc` or
   * `ctx.call` runs guest code, which may call another import; the worker's answers are
   * for the innermost one until it has returned.
   */
  sessions: HostCallSession[]
  /** Set once the worker is stopped or has died: nothing more is sent to it. */
  dead: boolean
  /** Called when the worker reports it begins instantiating. */
  onStarting?: () => void
}

/** What the transports need of a sandbox's worker (`WorkerSession`). */
export interface WorkerLink {
  /** The module in force. */
  readonly prepared: PreparedModule
  /** The live worker if there is one (without starting one). */
  current(): Live | null
  /** The live worker, spawning and initializing one if there is none. */
  worker(): Promise<Live>
  nextId(): number
  /** Stops the worker; whatever waits on it gets `reason`. */
  kill(reason: SandboxError, only?: Live): Promise<void>
  /** Runs a host function for the blocked guest. */
  serveHostCall(live: Live, index: number, args: unknown[]): Promise<void>
}
