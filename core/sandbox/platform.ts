import type { ComponentTools } from '../component/component-tools.js'
import type { GuestEngine } from '../guest/guest-instance.js'
import type { PluginManifest } from '../manifest/plugin-manifest.js'
import type { Endpoint, HostMessage, WorkerMessage } from '../protocol/messages.js'
import type { CompileCacheStore } from './compile-cache-store.js'

/** A source after loading: wasm bytes, WebAssembly text, or a module compiled by the caller. */
export type LoadedSource =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'text'; text: string }
  | { kind: 'module'; module: unknown }

/** A running worker as the host sees it. */
export interface WorkerHandle extends Endpoint<WorkerMessage, HostMessage> {
  /** Called once if the worker dies on its own (crash, out of memory); not after `terminate()`. */
  onExit(handler: (error: Error) => void): void
  terminate(): Promise<void>
  /**
   * Whether the worker keeps the process alive (Node's `ref`/`unref`). A new worker does; the
   * sandbox lets go of it while no call is running, so a forgotten `close()` does not hold
   * the process. Absent where workers never hold anything (browsers).
   */
  keepAlive?(on: boolean): void
}

/**
 * What a runtime adapter provides to the runtime-agnostic sandbox: every capability core
 * uses is passed in here, never imported.
 */
export interface Platform {
  /** Reads bytes, ArrayBuffer, text, URL, a compiled module or (Node) a file path. */
  loadSource(source: unknown): Promise<LoadedSource>
  /** WebAssembly text to binary; fails with INVALID_MODULE carrying the line. */
  watToWasm(text: string): Promise<Uint8Array>
  /** Compiles a binary (rejects with the engine's CompileError). */
  compile(bytes: Uint8Array): Promise<unknown>
  /** Names of a compiled module's exports, with kinds. */
  moduleExports(module: unknown): { name: string; kind: string }[]
  spawnWorker(): WorkerHandle
  /** Gets a worker going ahead of `spawnWorker` (its boot then overlaps loading and metering the module). */
  prepareWorker?(): void
  /** What a worker runs guests with, on this thread: inline sandboxes need it. */
  guestEngine?(): GuestEngine
  /** Reads and checks a manifest file, its module path made relative to it (Node). */
  readManifestFile?(path: string): Promise<PluginManifest>
  /** Component tooling (jco), loaded on first use; absent where components cannot run. */
  componentTools?(): Promise<ComponentTools>
  /** The persistent compile cache named `dir` (the `cacheDir` option: Node a directory, browsers a Cache Storage cache); absent where nothing persists. */
  persistentCache?(dir: string): CompileCacheStore
  /**
   * Whether workers can share memory with the host (SharedArrayBuffer + Atomics): enables
   * host functions and the fast call path. Browsers allow it only on cross-origin-isolated
   * pages.
   */
  readonly sharedMemory: boolean
  /** Whether WASI preopens may mount host directories (Node). */
  readonly hostMounts: boolean
  /** How many threads can run at once (cores). */
  readonly parallelism: number
  now(): number
  /** A timer; a `background` one does not keep the process alive (Node's `unref`). */
  setTimer(callback: () => void, ms: number, background?: boolean): unknown
  clearTimer(handle: unknown): void
}
