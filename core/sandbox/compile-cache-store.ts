/**
 * Where a runtime keeps compile cache entries (Node: files in `cacheDir`). Core decides what
 * goes in and checks what comes out; the store only moves bytes.
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
}
