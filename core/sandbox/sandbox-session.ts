import type { FunctionProfile } from '../meter/meter-control.js'
import type { SandboxError } from '../errors/index.js'
import type { PreparedModule } from './prepare-module.js'
import type { Transport } from './transport.js'

/**
 * Where a sandbox's instance lives: in a worker (`WorkerSession`) or on the caller's thread
 * (`InlineSession`). The sandbox checks, queues and records calls; the session runs them.
 */
export interface SandboxSession {
  /** The module in force (a reload replaces it). */
  prepared: PreparedModule
  closed: boolean
  readonly transport: Transport
  /** Starts the first instance (running its start function). */
  start(): Promise<void>
  /** A fresh instance, of the same module or of `next`; if it fails to start, the error is thrown. */
  renew(next?: PreparedModule): Promise<void>
  /** Stops the instance; whatever waits on it gets `reason`. */
  stop(reason: SandboxError): Promise<void>
  /** The profile counters of the live instance. */
  profile(): Promise<FunctionProfile[]>
  /** A call began or ended (an idle worker does not keep the process alive). */
  busy(on: boolean): void
}
