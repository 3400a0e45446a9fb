import { bytesLookLikeText, isWatText, SandboxError, type LoadedSource } from '../core/index.js'

/**
 * Browser sources: bytes, ArrayBuffer, WebAssembly text, a compiled WebAssembly.Module, a
 * `URL` or URL string (fetched; a response holding text is compiled as text). File paths do
 * not exist here: a string that is neither text nor a URL is resolved against the page URL.
 */
export async function loadSource(source: unknown): Promise<LoadedSource> {
  if (source instanceof Uint8Array) return { kind: 'bytes', bytes: source }
  if (source instanceof ArrayBuffer) return { kind: 'bytes', bytes: new Uint8Array(source) }
  if (ArrayBuffer.isView(source)) return { kind: 'bytes', bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength) }
  if (source instanceof WebAssembly.Module) return { kind: 'module', module: source }
  if (source instanceof Response) return fromBytes(await readResponse(source, source.url))
  if (source instanceof URL) return fromBytes(await readUrl(source))
  if (typeof source === 'string') {
    if (isWatText(source)) return { kind: 'text', text: source }
    return fromBytes(await readUrl(new URL(source, globalThis.location?.href)))
  }
  throw new SandboxError('CONFIG', `source: expected bytes, WebAssembly text, a URL, a Response or a WebAssembly.Module, got ${source === null ? 'null' : typeof source}`, { field: 'source' })
}

function fromBytes(bytes: Uint8Array): LoadedSource {
  return bytesLookLikeText(bytes) ? { kind: 'text', text: new TextDecoder().decode(bytes) } : { kind: 'bytes', bytes }
}

async function readUrl(url: URL): Promise<Uint8Array> {
  let response: Response
  try {
    response = await fetch(url)
  } catch (error) {
    throw new SandboxError('CONFIG', `source: cannot fetch ${url.href}: ${(error as Error).message}`, { field: 'source', cause: error })
  }
  return readResponse(response, url.href)
}

async function readResponse(response: Response, href: string): Promise<Uint8Array> {
  if (!response.ok) throw new SandboxError('CONFIG', `source: fetching ${href} answered ${response.status} ${response.statusText}`, { field: 'source' })
  return new Uint8Array(await response.arrayBuffer())
}
