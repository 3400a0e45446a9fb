import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { bytesLookLikeText, isWatText, SandboxError, type LoadedSource } from '../core/index.js'

/**
 * Node sources: bytes, ArrayBuffer, WebAssembly text, a compiled WebAssembly.Module, a
 * `URL` (`file:`, `http:`, `https:`, `data:`) or a file path. Files and responses holding
 * text (`.wat`) are treated as text.
 */
export async function loadSource(source: unknown): Promise<LoadedSource> {
  if (source instanceof Uint8Array) return { kind: 'bytes', bytes: source }
  if (source instanceof ArrayBuffer) return { kind: 'bytes', bytes: new Uint8Array(source) }
  if (ArrayBuffer.isView(source)) return { kind: 'bytes', bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength) }
  if (source instanceof WebAssembly.Module) return { kind: 'module', module: source }
  if (source instanceof URL) return fromBytes(await readUrl(source))
  if (typeof source === 'string') {
    if (isWatText(source)) return { kind: 'text', text: source }
    if (/^(https?|file|data):/i.test(source)) return fromBytes(await readUrl(new URL(source)))
    return fromBytes(await readPath(source))
  }
  throw new SandboxError('CONFIG', `source: expected bytes, WebAssembly text, a URL, a file path or a WebAssembly.Module, got ${source === null ? 'null' : typeof source}`, { field: 'source' })
}

function fromBytes(bytes: Uint8Array): LoadedSource {
  return bytesLookLikeText(bytes) ? { kind: 'text', text: new TextDecoder().decode(bytes) } : { kind: 'bytes', bytes }
}

async function readPath(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new SandboxError('CONFIG', `source: cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`, {
      field: 'source', cause: error, suggestion: code === 'ENOENT' ? 'check the path; WebAssembly text must start with "("' : undefined,
    })
  }
}

async function readUrl(url: URL): Promise<Uint8Array> {
  if (url.protocol === 'file:') return readPath(fileURLToPath(url))
  let response: Response
  try {
    response = await fetch(url)
  } catch (error) {
    throw new SandboxError('CONFIG', `source: cannot fetch ${url.href}: ${(error as Error).message}`, { field: 'source', cause: error })
  }
  if (!response.ok) throw new SandboxError('CONFIG', `source: fetching ${url.href} answered ${response.status} ${response.statusText}`, { field: 'source' })
  return new Uint8Array(await response.arrayBuffer())
}
