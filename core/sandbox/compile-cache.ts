import type { NormalizedPolicy } from '../policy/options.js'
import { COMPILE_CACHE_FORMAT, decodeEntry, encodeEntry, InvalidEntry, type CacheEntry } from './compile-cache-entry.js'
import { sourceHash } from './module-cache.js'
import type { Platform } from './platform.js'

/** How a prepared value becomes an entry and back (the way back may compile, and fail: the entry is then refused). */
export interface CacheCodec<T> {
  kind: 'module' | 'component'
  pack(value: T): Omit<CacheEntry, 'kind'>
  unpack(entry: CacheEntry): Promise<T>
}

/** What a value was derived from: the source (its kind and SHA-256) and the meter settings. */
export interface CacheSubject {
  sourceKind: string
  sourceHash: string | null
  meterKey: string
}

/** The entry's key: SHA-256 over the format, the build fingerprint, the kind, the source's hash and the meter settings. */
export async function compileCacheKey(fingerprint: string, kind: string, subject: CacheSubject): Promise<string | null> {
  return sourceHash(['wasm-sandbox compile cache', COMPILE_CACHE_FORMAT, fingerprint, kind, subject.sourceKind, subject.sourceHash, subject.meterKey].join('\n'))
}

/**
 * `build()`, through the persistent compile cache when the policy names a `cacheDir` and the
 * runtime has a store: a verified entry is used instead of building; a missing or refused
 * one is built and stored. The cache never fails a create: whatever goes wrong with it is a
 * miss, reported with `onEvent` (`type: 'compile-cache'`).
 */
export async function throughCompileCache<T>(platform: Platform, policy: NormalizedPolicy, subject: CacheSubject, codec: CacheCodec<T>, build: () => Promise<T>): Promise<T> {
  const store = policy.cacheDir !== null && subject.sourceHash !== null ? platform.persistentCache?.(policy.cacheDir) : undefined
  if (!store) return build()
  const report = (outcome: 'hit' | 'miss' | 'invalid', key: string, more: { stored?: boolean; detail?: string } = {}) =>
    policy.onEvent?.({ type: 'compile-cache', time: Date.now(), outcome, kind: codec.kind, key, ...more })
  let key: string | null
  try {
    key = await compileCacheKey(await store.fingerprint(), codec.kind, subject)
  } catch (error) {
    key = null
    report('miss', '', { stored: false, detail: `no key: ${describe(error)}` })
  }
  if (key === null) return build()
  let invalid: string | undefined
  let unreadable: string | undefined
  let bytes: Uint8Array | null = null
  try {
    bytes = await store.read(key)
  } catch (error) {
    unreadable = `cannot read: ${describe(error)}`
  }
  if (bytes) {
    try {
      const value = await codec.unpack(await decodeEntry(bytes, key, codec.kind))
      report('hit', key)
      return value
    } catch (error) {
      invalid = error instanceof InvalidEntry ? error.message : `unusable: ${describe(error)}`
    }
  }
  const value = await build()
  let stored = true
  let writeError: string | undefined
  try {
    await store.write(key, await encodeEntry(key, { kind: codec.kind, ...codec.pack(value) }))
  } catch (error) {
    stored = false
    writeError = `cannot write: ${describe(error)}`
  }
  const detail = [invalid ?? unreadable, writeError].filter(Boolean).join('; ')
  report(invalid ? 'invalid' : 'miss', key, { stored, ...(detail ? { detail } : {}) })
  return value
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
