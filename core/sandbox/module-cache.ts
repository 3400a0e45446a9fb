import { encodeUtf8 } from '../text/index.js'

/**
 * Compiled modules, keyed by the SHA-256 of the source (bytes or text) plus the settings the
 * meter used, so a second sandbox of the same module neither re-meters nor recompiles.
 * In-memory, per process or page (what persists is the `cacheDir` compile cache,
 * compile-cache.ts). Least recently used entries go first beyond {@link MODULE_CACHE_ENTRIES}.
 */
export const MODULE_CACHE_ENTRIES = 64

export class ModuleCache<T> {
  private readonly entries = new Map<string, Promise<T>>()

  /** The cached value for `key`, or the one `make` produces (a failure is not cached). */
  get(key: string, make: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key)
    if (hit) {
      this.entries.delete(key) // re-insert: most recently used last
      this.entries.set(key, hit)
      return hit
    }
    const value = make()
    this.entries.set(key, value)
    value.catch(() => this.entries.delete(key))
    while (this.entries.size > MODULE_CACHE_ENTRIES) this.entries.delete(this.entries.keys().next().value!)
    return value
  }

  clear(): void {
    this.entries.clear()
  }
}

interface SubtleCrypto { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> }

/** Hex SHA-256 of bytes or text, or null where Web Crypto is missing (insecure pages). */
export async function sourceHash(source: Uint8Array | string): Promise<string | null> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle
  if (!subtle) return null
  const digest = await subtle.digest('SHA-256', typeof source === 'string' ? encodeUtf8(source) : source)
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}
