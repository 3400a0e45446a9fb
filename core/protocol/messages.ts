import type { SerializedError } from '../errors/index.js'

/**
 * The whole host <-> worker wire format. Every message carries the protocol version `v`
 * and the request `id` it answers; errors travel as plain data and are rebuilt as
 * `SandboxError` on the host.
 */
export const PROTOCOL_VERSION = 1

/** What the guest side needs to run a metered module. */
export interface GuestSettings {
  /** Fuel per call; null when unlimited. */
  fuel: bigint | null
  stackDepth: number
  memoryBytes: number
  tableElements: number
}

/** Facts about one call, measured in the worker. */
export interface CallReport {
  fuelUsed: bigint
  /** Size of memory 0 after the call, or 0 without a memory. */
  memoryBytes: number
}

type Envelope<T> = T & { v: typeof PROTOCOL_VERSION; id: number }

export type HostMessage = Envelope<
  | { type: 'init'; module: unknown; settings: GuestSettings }
  | { type: 'call'; fn: string; args: unknown[] }
>

export type WorkerMessage = Envelope<
  | { type: 'ready'; report: CallReport }
  | { type: 'result'; value: unknown; report: CallReport }
  | { type: 'error'; error: SerializedError; report: CallReport }
>

/** One side of a message channel (a worker, or the worker's parent port). */
export interface Endpoint<In, Out> {
  post(message: Out, transfer?: unknown[]): void
  onMessage(handler: (message: In) => void): void
}
