import type { NormalizedPolicy } from '../policy/options.js'
import { COMPILE_CACHE_FORMAT, decodeEntry, encodeEntry, hex, InvalidEntry, sha256, type CacheEntry, type DetachedBlob } from './compile-cache-entry.js'
import type { CompileCacheStore } from './compile-cache-store.js'
import { sourceHash } from './module-cache.js'
import type { Platform } from './platform.js'

/**
 * How a prepared value becomes an entry and back. Blobs named `*.wasm` are metered core
 * modules: core compiles them on the way back (or has the store compile them where it keeps
 * them apart) and gives them to `unpack` compiled; `unpack` may fail, the entry is then refused.
 */
export interface CacheCodec<T> {
  kind: 'module' | 'component'
  pack(value: T): Pick<CacheEntry, 'meta' | 'blobs'>
  unpack(entry: CacheEntry, modules: Record<string, CompiledBlob>): Promise<T>
}

/** A `*.wasm` blob of an entry, compiled, with its (verified) bytes. */
export interface CompiledBlob {
  module: unknown
  bytes: Uint8Array
}

const isModuleBlob = (name: string) => name.endsWith('.wasm')

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
 * Starts working out the store's build fingerprint (stores keep it) while the source is loaded
 * and hashed: in a browser it is fetched, which would otherwise wait for both.
 */
export function warmCompileCache(platform: Platform, policy: NormalizedPolicy): void {
  if (policy.cacheDir !== null) platform.persistentCache?.(policy.cacheDir).fingerprint().catch(() => {}) // a failure shows when the key is made
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
      const entry = await decodeEntry(bytes, key, codec.kind)
      const value = await codec.unpack(entry, await compileModules(platform, store, key, entry))
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
    await store.write(key, await encodeEntry(key, await detachModules(store, key, { kind: codec.kind, ...codec.pack(value) })))
  } catch (error) {
    stored = false
    writeError = `cannot write: ${describe(error)}`
  }
  const detail = [invalid ?? unreadable, writeError].filter(Boolean).join('; ')
  report(invalid ? 'invalid' : 'miss', key, { stored, ...(detail ? { detail } : {}) })
  return value
}

/**
 * Where the store keeps modules apart, each `*.wasm` blob is written there first and the entry
 * records its length and SHA-256 instead of the bytes.
 */
async function detachModules(store: CompileCacheStore, key: string, entry: CacheEntry): Promise<CacheEntry> {
  const modules = store.modules
  if (!modules) return entry
  const blobs: Record<string, Uint8Array> = {}
  const detached: Record<string, DetachedBlob> = {}
  for (const [name, bytes] of Object.entries(entry.blobs)) {
    if (!isModuleBlob(name)) {
      blobs[name] = bytes
      continue
    }
    const digest = await sha256(bytes)
    if (!digest) throw new Error('no Web Crypto: cannot record a module digest')
    await modules.write(key, name, bytes)
    detached[name] = { length: bytes.length, sha256: hex(digest) }
  }
  return { ...entry, blobs, detached }
}

/**
 * Every `*.wasm` blob of a verified entry, compiled: inline ones from the entry's bytes, detached
 * ones by the store from where it keeps them, each then checked against the length and
 * SHA-256 the entry records before it is handed on (a module compiled from other bytes is
 * dropped unused, and the entry refused).
 */
async function compileModules(platform: Platform, store: CompileCacheStore, key: string, entry: CacheEntry): Promise<Record<string, CompiledBlob>> {
  const inline = Object.entries(entry.blobs).filter(([name]) => isModuleBlob(name))
    .map(async ([name, bytes]) => [name, { module: await platform.compile(bytes), bytes }] as const)
  const detached = Object.entries(entry.detached ?? {}).map(async ([name, expected]) => {
    if (!store.modules) throw new InvalidEntry(`module ${JSON.stringify(name)} is kept apart, and this store keeps none`)
    const compiled = await store.modules.compile(key, name)
    if (!compiled) throw new InvalidEntry(`module ${JSON.stringify(name)} is missing`)
    const digest = await sha256(compiled.bytes)
    if (!digest) throw new InvalidEntry('no Web Crypto to verify the entry')
    if (compiled.bytes.length !== expected.length || hex(digest) !== expected.sha256) {
      throw new InvalidEntry(`module ${JSON.stringify(name)}: digest mismatch (corrupted, truncated or modified)`)
    }
    return [name, compiled] as const
  })
  return Object.fromEntries(await Promise.all([...inline, ...detached]))
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
