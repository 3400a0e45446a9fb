/**
 * The session in the URL: the module text, the policy and the call, as JSON compressed with
 * deflate-raw and base64url-encoded after `#s=`. Uploaded binaries are not shared (too big
 * for a link): the link says so.
 */
import type { CallMode } from './examples.js'
import type { PolicyForm } from './policy-form.js'

export interface SharedSession {
  v: 1
  text: string
  policy: PolicyForm
  mode: CallMode
  fn: string
  args: string[]
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(stream))
  return new Uint8Array(await out.arrayBuffer())
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

export async function encodeSession(session: SharedSession): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(session))
  return `s=${toBase64Url(await pipe(json, new CompressionStream('deflate-raw')))}`
}

/** The session in `hash` (`#s=...`), or null when there is none or it does not decode. */
export async function decodeSession(hash: string): Promise<SharedSession | null> {
  const match = /^#?s=([A-Za-z0-9_-]+)$/.exec(hash)
  if (!match) return null
  try {
    const json = new TextDecoder().decode(await pipe(fromBase64Url(match[1]!), new DecompressionStream('deflate-raw')))
    const session = JSON.parse(json) as SharedSession
    return session.v === 1 && typeof session.text === 'string' ? session : null
  } catch {
    return null
  }
}
