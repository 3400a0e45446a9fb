import { decodeUtf8, encodeUtf8 } from '../text/index.js'

/**
 * One entry of the persistent compile cache, as bytes:
 *
 *   "WSCC" | format u32 | header length u32 | header (JSON) | blobs... | SHA-256 of all before
 *
 * The header names the key the entry was written under, what it holds (`kind`), free-form
 * `meta` (JSON) and the blobs' names and lengths, in order. A store may keep wasm blobs apart
 * (browsers: their own Responses in Cache Storage, so the engine's code cache applies): the
 * header then lists them under `detached` with their length and SHA-256, which the reader
 * checks the stored bytes against before the module is used. Reading checks every part before
 * anything is used: the digest (a flipped or missing byte), the format (an entry of another
 * library version), the key (an entry copied under another key), the lengths. Anything off
 * and the entry is refused — {@link decodeEntry} says why, the caller rebuilds.
 */
export const COMPILE_CACHE_FORMAT = 1

const MAGIC = [0x57, 0x53, 0x43, 0x43] // "WSCC"
const PREFIX_BYTES = 12
const DIGEST_BYTES = 32

export interface CacheEntry {
  /** What the entry holds ('module', 'component'): a reader expecting another refuses it. */
  kind: string
  meta: unknown
  blobs: Record<string, Uint8Array>
  /** Blobs the store keeps apart, by name: the entry holds only their length and hex SHA-256. */
  detached?: Record<string, DetachedBlob>
}

export interface DetachedBlob {
  length: number
  sha256: string
}

/** Why an entry was refused. */
export class InvalidEntry extends Error {}

interface Header {
  key: string
  kind: string
  meta: unknown
  blobs: [string, number][]
  detached?: [string, number, string][]
}

interface SubtleCrypto { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> }

/** Lower-case hex of bytes (how a detached blob's SHA-256 is written). */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Raw SHA-256, or null where Web Crypto is missing (no persistent cache then). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array | null> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle
  return subtle ? new Uint8Array(await subtle.digest('SHA-256', bytes)) : null
}

export async function encodeEntry(key: string, entry: CacheEntry): Promise<Uint8Array> {
  const names = Object.keys(entry.blobs)
  const header: Header = { key, kind: entry.kind, meta: entry.meta, blobs: names.map((n) => [n, entry.blobs[n]!.length]) }
  if (entry.detached) header.detached = Object.entries(entry.detached).map(([n, { length, sha256 }]) => [n, length, sha256])
  const headerBytes = encodeUtf8(JSON.stringify(header))
  const bodyLength = PREFIX_BYTES + headerBytes.length + names.reduce((sum, n) => sum + entry.blobs[n]!.length, 0)
  const out = new Uint8Array(bodyLength + DIGEST_BYTES)
  const view = new DataView(out.buffer)
  out.set(MAGIC, 0)
  view.setUint32(4, COMPILE_CACHE_FORMAT, true)
  view.setUint32(8, headerBytes.length, true)
  out.set(headerBytes, PREFIX_BYTES)
  let at = PREFIX_BYTES + headerBytes.length
  for (const n of names) {
    out.set(entry.blobs[n]!, at)
    at += entry.blobs[n]!.length
  }
  const digest = await sha256(out.subarray(0, bodyLength))
  if (!digest) throw new Error('no Web Crypto: cannot sign a cache entry')
  out.set(digest, bodyLength)
  return out
}

/** The entry in `bytes`, checked against `key` and `kind`; throws {@link InvalidEntry} saying what is wrong. */
export async function decodeEntry(bytes: Uint8Array, key: string, kind: string): Promise<CacheEntry> {
  if (bytes.length < PREFIX_BYTES + DIGEST_BYTES) throw new InvalidEntry(`truncated (${bytes.length} bytes)`)
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new InvalidEntry('not a compile cache entry')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const bodyLength = bytes.length - DIGEST_BYTES
  const digest = await sha256(bytes.subarray(0, bodyLength))
  if (!digest) throw new InvalidEntry('no Web Crypto to verify the entry')
  const stored = bytes.subarray(bodyLength)
  if (digest.some((b, i) => b !== stored[i])) throw new InvalidEntry('digest mismatch (corrupted, truncated or modified)')
  const format = view.getUint32(4, true)
  if (format !== COMPILE_CACHE_FORMAT) throw new InvalidEntry(`format ${format}, expected ${COMPILE_CACHE_FORMAT}`)
  const headerLength = view.getUint32(8, true)
  if (PREFIX_BYTES + headerLength > bodyLength) throw new InvalidEntry('header past the end')
  let header: Header
  try {
    header = JSON.parse(decodeUtf8(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength))) as Header
  } catch {
    throw new InvalidEntry('header is not JSON')
  }
  // The digest covers the key: an entry moved to another key's file is refused here.
  if (header.key !== key) throw new InvalidEntry('written for another key')
  if (header.kind !== kind) throw new InvalidEntry(`holds a ${String(header.kind)}, expected a ${kind}`)
  if (!Array.isArray(header.blobs)) throw new InvalidEntry('header lists no blobs')
  const blobs: Record<string, Uint8Array> = {}
  let at = PREFIX_BYTES + headerLength
  for (const [name, length] of header.blobs) {
    if (typeof name !== 'string' || !Number.isSafeInteger(length) || length < 0 || at + length > bodyLength) throw new InvalidEntry(`blob ${JSON.stringify(name)} past the end`)
    blobs[name] = bytes.slice(at, at + length)
    at += length
  }
  if (at !== bodyLength) throw new InvalidEntry('bytes after the last blob')
  if (header.detached === undefined) return { kind: header.kind, meta: header.meta, blobs }
  if (!Array.isArray(header.detached)) throw new InvalidEntry('detached blobs not listed')
  const detached: Record<string, DetachedBlob> = {}
  for (const item of header.detached as unknown[]) {
    const [name, length, digest] = Array.isArray(item) ? item : []
    if (typeof name !== 'string' || !Number.isSafeInteger(length) || (length as number) < 0 || typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) {
      throw new InvalidEntry(`detached blob ${JSON.stringify(name)} badly listed`)
    }
    if (name in blobs || name in detached) throw new InvalidEntry(`blob ${JSON.stringify(name)} listed twice`)
    detached[name] = { length: length as number, sha256: digest }
  }
  return { kind: header.kind, meta: header.meta, blobs, detached }
}
