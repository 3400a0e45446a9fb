/**
 * Where a runtime keeps compile cache entries (Node: files in `cacheDir`; browsers: Cache
 * Storage). Core decides what goes in and checks what comes out; the store only moves bytes.
 */
export interface CompileCacheStore {
  /**
   * What entries depend on besides the source and the meter settings: this library's build
   * (its meter) and the component transpiler's version. Part of every key, so a new version
   * never reads an old version's entries.
   */
  fingerprint(): Promise<string>
  /** The bytes stored under `key`, or null when there are none. A rejection counts as a miss. */
  read(key: string): Promise<Uint8Array | null>
  /** Stores `bytes` under `key` atomically: readers see the whole entry or none. A rejection only skips storing. */
  write(key: string, bytes: Uint8Array): Promise<void>
  /**
   * Present when the store keeps an entry's wasm modules apart from it and compiles them
   * itself, from where they are stored (browsers: a Response in Cache Storage handed to
   * `WebAssembly.compileStreaming`, which lets the engine reuse its compiled code).
   */
  modules?: DetachedModuleStore
}

/**
 * Wasm modules kept next to an entry. The entry records each one's length and SHA-256; core
 * hashes the bytes a module was compiled from and uses the module only when they match.
 */
export interface DetachedModuleStore {
  /** Stores module `name` of the entry `key` (before the entry is written, so a readable entry has its modules). */
  write(key: string, name: string, bytes: Uint8Array): Promise<void>
  /**
   * Compiles module `name` of the entry `key` from the store, giving the module and the very
   * bytes it was compiled from (what core verifies); null when it is not there.
   */
  compile(key: string, name: string): Promise<{ module: unknown; bytes: Uint8Array } | null>
}
