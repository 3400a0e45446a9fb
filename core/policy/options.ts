import type { EventHandler } from '../audit/sandbox-event.js'

/** A `fetch`-compatible function: the global one, or a mock (see `wasm-sandbox/testing`). */
export type NetworkFetch = (url: string, init: { method: string; headers: [string, string][]; body?: Uint8Array; redirect: 'manual' }) => Promise<{
  status: number
  headers: Iterable<[string, string]>
  arrayBuffer(): Promise<ArrayBuffer>
}>

/** A host function: receives the guest's arguments, then a {@link HostContext}. */
export type HostFunction = (...args: any[]) => unknown

/** WASI settings (see the WASI section of the README). */
export interface WasiOptions {
  args?: string[]
  env?: Record<string, string>
  stdin?: string | Uint8Array
  preopens?: Record<string, { files?: Record<string, string | Uint8Array>; host?: string; readonly?: boolean }>
  clock?: boolean
  random?: boolean
}

export type PolicyPreset = 'strict' | 'standard' | 'permissive'

/**
 * Options of `Sandbox.create` and `run`. All optional: `policy` picks a preset (default
 * `'strict'`) and every explicit field overrides it. Values in human units are accepted.
 */
export interface SandboxOptions {
  /** The preset the other fields override. Default `'strict'`. */
  policy?: PolicyPreset
  /**
   * Fuel per call: weighted instructions, counted by rewriting the module (see README,
   * "Fuel"), so the same module and input always use the same amount. Exceeding it ends
   * the call with `FUEL_EXHAUSTED`. `'unlimited'` turns the budget off (the count goes on).
   */
  fuel?: number | bigint | 'unlimited'
  /**
   * Cap on each linear memory, in bytes or as '64MB' / '512KiB' / '1GB'. A module declaring
   * more fails `Sandbox.create` with `MEMORY_LIMIT`; growth beyond it makes `memory.grow`
   * return -1, as an engine limit would, and a trap after that reports `MEMORY_LIMIT`.
   */
  memory?: number | string
  /** Wall-clock limit per call ('30s', '250ms', or ms). Exceeded: the worker is killed, `TIMEOUT`. */
  timeout?: number | string
  /** Maximum nested wasm calls; deeper recursion ends the call with `STACK_OVERFLOW`. */
  stackDepth?: number
  /** Cap on the elements of each table; growth beyond it fails as for memory. */
  tableElements?: number
  /**
   * Largest reply of one `callBytes`/`callJson` call, in bytes or as '4MB'. Checked in the
   * worker against the length the guest returns, before a byte is copied out of its memory
   * or crosses to the host: a larger reply ends the call with `OUTPUT_LIMIT`
   * `{ kind: 'reply', limit, used }` (the instance is kept: the guest ran to its end).
   * Default 16MB (strict), 64MB (standard), 256MB (permissive); HTTP routes default to 4MB.
   * Limitations: numeric results are never large; a component's WIT values and a command's
   * captured stdout/stderr are bounded by `memory` and by 64MB per stream instead.
   */
  maxReplyBytes?: number | string
  /** Host functions the guest may import, by module and name. */
  imports?: Record<string, Record<string, HostFunction>>
  /** WASI preview1 for the guest; `true` grants the preset's defaults. */
  wasi?: boolean | WasiOptions
  /**
   * Network destinations ('host:port' patterns) the guest may reach (components'
   * `wasi:http/outgoing-handler`). Default: none. `fetch` performs the allowed requests on
   * the host (default: the global `fetch`); tests pass a mock (`wasm-sandbox/testing`).
   */
  network?: { allow: string[]; fetch?: NetworkFetch }
  /** Count calls and fuel per function. */
  profile?: boolean
  /**
   * Where the instance runs. `'worker'` (default): in its own worker — a preemptive
   * `timeout`, its own heap, a crash kills only the worker. `'inline'`: on the caller's
   * thread, with no worker hop (calls cost about a microsecond) — safe because a finite
   * `fuel` budget (required) bounds every call, but nothing stops a call before its fuel
   * runs out (`timeout` is refused), host functions must be synchronous, and shared
   * memories and components are refused. See the README, "Inline sandboxes".
   */
  isolation?: 'worker' | 'inline'
  /**
   * `'exact'` (default): a call's fuel is exact whether it returns or traps. `'fast'`:
   * cheaper in loops that touch memory; exact when the call returns, the whole budget when
   * it traps (see README, "How metering works").
   */
  metering?: 'exact' | 'fast'
  /**
   * Called with every finished call and every audit event (denials, imports not granted,
   * quotas). Runs on the host thread; an exception it throws is ignored.
   */
  onEvent?: EventHandler
  /**
   * A directory for the persistent compile cache (Node): what `Sandbox.create` derives from a
   * source — metered bytes, a component's transpiled glue and metered core modules — is
   * stored there, keyed by the source's SHA-256 and the meter settings, so another process
   * skips the work. Entries are verified before use. Ignored where nothing persists (browsers).
   * Default: none (the CLI uses the user's cache directory).
   */
  cacheDir?: string
}

/** Options after presets and unit parsing: units in the names, nothing left to interpret. */
export interface NormalizedPolicy {
  preset: PolicyPreset
  /** Fuel budget per call; null when unlimited. */
  fuel: bigint | null
  memoryBytes: number
  timeoutMs: number
  stackDepth: number
  tableElements: number
  maxReplyBytes: number
  imports: Record<string, Record<string, HostFunction>>
  wasi: WasiOptions | null
  networkAllow: string[]
  networkFetch: NetworkFetch | null
  profile: boolean
  isolation: 'worker' | 'inline'
  metering: 'exact' | 'fast'
  onEvent: EventHandler | null
  /** The persistent compile cache's directory, or null for none. */
  cacheDir: string | null
}
