import type { SecurityEvent } from '../audit/security-event.js'
import type { SerializedError } from '../errors/index.js'
import type { CommandOptions, WasiSettings } from './wasi-settings.js'
import type { FetchRequest } from './fetch.js'

/**
 * The whole host <-> worker wire format. Every message carries the protocol version `v`
 * and the request `id` it answers; errors travel as plain data and are rebuilt as
 * `SandboxError` on the host. While a host function runs, the worker is blocked in
 * `Atomics.wait` and cannot receive messages: the host then answers through the shared
 * mailbox (`mailbox.ts`), and the worker replies with ordinary messages.
 */
export const PROTOCOL_VERSION = 1

/** What the host sends for a component: the glue and its interface, besides the metered core modules. */
export interface ComponentSettings {
  /** jco's generated ES module (instantiation mode `async`). */
  glue: string
  /** Imported interfaces (unversioned). */
  imports: string[]
  exports: { name: string; path: string[]; returnsResult: boolean }[]
  /** `run` of an exported `wasi:cli/run`: the command entry point. */
  run: string[] | null
  networkAllow: string[]
}

/** A host function the guest imports, as the worker stubs it. */
export interface HostImport {
  module: string
  name: string
  params: string[]
  results: string[]
}

/** What the guest side needs to run a metered module. */
export interface GuestSettings {
  /** Fuel per call; null when unlimited. */
  fuel: bigint | null
  stackDepth: number
  memoryBytes: number
  tableElements: number
  /** Largest bytes-call reply; larger ones fail with OUTPUT_LIMIT before they are copied. */
  maxReplyBytes: number
  /** Host functions in the order the worker numbers them. */
  hostImports: HostImport[]
  /** Exported functions in the order the fast call channel numbers them. */
  exportNames: string[]
  /** WASI (preview1 for modules, 0.2 for components), when granted. */
  wasi: WasiSettings | null
  /** Set when the module is a component: `init` then carries its metered core modules by file name. */
  component: ComponentSettings | null
}

/** Facts about one call, measured in the worker. */
export interface CallReport {
  fuelUsed: bigint
  /** Size of memory 0 after the call, or 0 without a memory. */
  memoryBytes: number
  /** Host function calls the guest made. */
  hostCalls: number
  /** Capability denials during the call. */
  audit?: SecurityEvent[]
}

/** One call of a batch, or of the bytes ABI. */
export interface CallRequest {
  fn: string
  args: unknown[]
  /** Bytes ABI: `args` is `[Uint8Array]`, the result a Uint8Array. */
  bytes?: boolean
  /** A WASI command run (`_start` on a fresh instance); the result is a {@link CommandResult}. */
  command?: CommandOptions
  /** This call's fuel budget, when lower than the sandbox's (a tenant's remaining total). */
  fuel?: bigint
}

/** What a WASI command run produces in the worker. */
export interface CommandResult {
  exitCode: number
  stdout: Uint8Array
  stderr: Uint8Array
  /** Writable in-memory preopens after the run: guest path -> relative path -> bytes. */
  files: Record<string, Record<string, Uint8Array>>
}

type Envelope<T> = T & { v: typeof PROTOCOL_VERSION; id: number }

export type HostMessage = Envelope<
  | { type: 'init'; module: unknown; settings: GuestSettings; mailbox: SharedArrayBuffer | null; channel: SharedArrayBuffer | null; spinSlots?: SharedArrayBuffer | null }
  | { type: 'call'; call: CallRequest }
  /** Runs the calls in order, answering each with its own `result`/`error` (`index` set). */
  | { type: 'batch'; calls: CallRequest[] }
  /** A fresh instance: of the same module, or (hot reload) of `module` with `settings`. Answered by `ready`. */
  | { type: 'reset'; module?: unknown; settings?: GuestSettings }
  /** The profile counters (a module metered with `profile: true`); answered by `result`. */
  | { type: 'profile' }
>

export type WorkerMessage = Envelope<
  | { type: 'ready'; report: CallReport }
  /** The worker has booted and begins instantiating (the start function's clock starts). */
  | { type: 'starting' }
  | { type: 'result'; value: unknown; report: CallReport; index?: number }
  | { type: 'error'; error: SerializedError; report: CallReport; index?: number }
  /** The guest called host function `index`; the worker waits on the mailbox. */
  | { type: 'hostcall'; index: number; args: unknown[] }
  /** Outgoing HTTP of a component (allowed by `network.allow`): the host fetches; the worker waits on the mailbox. */
  | { type: 'fetch'; request: FetchRequest }
  /** Answer to a mailbox request made while a host function runs. */
  | { type: 'mailbox'; ok: true; value: unknown }
  | { type: 'mailbox'; ok: false; error: SerializedError }
>

/** One side of a message channel (a worker, or the worker's parent port). */
export interface Endpoint<In, Out> {
  post(message: Out, transfer?: unknown[]): void
  onMessage(handler: (message: In) => void): void
}
