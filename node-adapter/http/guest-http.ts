import { SandboxError } from '../../core/index.js'

/**
 * The HTTP contract for core modules, as JSON over the bytes ABI (see the README, "HTTP"):
 * a request is `{ method, url, headers, body }` and a reply `{ status, headers, body }`,
 * bodies in base64.
 */
export interface GuestRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

export interface GuestResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** A middleware's verdict on a request or a response. */
export type MiddlewareAction =
  | { action: 'continue' }
  | { action: 'reject'; status: number; headers?: Record<string, string>; body?: string }
  | { action: 'modify'; status?: number; headers?: Record<string, string>; body?: string }

export async function toGuestRequest(request: Request, bodyLimit: number): Promise<GuestRequest> {
  const body = await readBody(request, bodyLimit)
  return { method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body: Buffer.from(body).toString('base64') }
}

/** Reads a body, refusing more than `limit` bytes (PayloadTooLarge). */
async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  if (declared > limit) throw new PayloadTooLarge(limit)
  if (!request.body) return new Uint8Array()
  if (Number.isInteger(declared)) { // the length is known and allowed: one read (streams are slow)
    const body = new Uint8Array(await request.arrayBuffer())
    if (body.length > limit) throw new PayloadTooLarge(limit)
    return body
  }
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length
    if (size > limit) throw new PayloadTooLarge(limit)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

export class PayloadTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`)
  }
}

const isHeaders = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')
const isBase64 = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v)
const isStatus = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 200 && (v as number) <= 599

/** RFC 9110 field names (tokens), and the bytes a field value may not hold (as node:http checks them). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const FORBIDDEN_IN_VALUE = /[^\t\x20-\x7e\x80-\xff]/

/** Most headers a guest reply (or middleware) may set, and their total size. */
export const MAX_GUEST_HEADERS = 256
export const MAX_GUEST_HEADER_BYTES = 64 * 1024

/**
 * Checks header names and values a guest chose: a CR/LF in a value would split the
 * response (node:http throws on it), so a bad one is the guest's fault, a 502 naming it.
 */
export function checkHeaders(headers: Record<string, string>): void {
  const entries = Object.entries(headers)
  // node:http writes headers on the host thread: 190k of them blocked it ~1 s per reply.
  if (entries.length > MAX_GUEST_HEADERS) throw badReply(`${entries.length} headers, above the limit of ${MAX_GUEST_HEADERS}`)
  let bytes = 0
  for (const [name, value] of entries) bytes += name.length + value.length + 4
  if (bytes > MAX_GUEST_HEADER_BYTES) throw badReply(`${bytes} bytes of headers, above the limit of ${MAX_GUEST_HEADER_BYTES} (node's own maxHeaderSize is 16 KiB)`)
  for (const [name, value] of entries) {
    const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)
    if (!TOKEN.test(name)) throw badReply(`header name ${shown} is not a valid HTTP field name`)
    if (FORBIDDEN_IN_VALUE.test(value)) throw badReply(`header ${shown} has a value with characters HTTP forbids (CR, LF, NUL, other controls, or above U+00FF)`)
  }
}

/** Whether a path's percent-encoding is malformed (`/ws/%zz`): such a request is a 400. */
export function malformedPath(path: string): boolean {
  try {
    decodeURIComponent(path)
    return false
  } catch {
    return true
  }
}

/** Checks a guest's reply; a malformed one is the guest's fault (a 502). */
export function parseGuestResponse(value: unknown): GuestResponse {
  const r = value as Partial<GuestResponse>
  if (typeof r !== 'object' || r === null) throw badReply('not an object')
  if (!isStatus(r.status)) throw badReply('`status` must be an integer from 200 to 599')
  if (r.headers !== undefined && !isHeaders(r.headers)) throw badReply('`headers` must map names to strings')
  if (r.headers) checkHeaders(r.headers)
  if (r.body !== undefined && !isBase64(r.body)) throw badReply('`body` must be base64')
  return { status: r.status, headers: r.headers ?? {}, body: r.body ?? '' }
}

export function parseMiddlewareAction(value: unknown): MiddlewareAction {
  const a = value as Record<string, unknown>
  if (typeof a !== 'object' || a === null) throw badReply('a middleware must reply with an object')
  if (a.headers !== undefined && !isHeaders(a.headers)) throw badReply('`headers` must map names to strings')
  if (a.headers) checkHeaders(a.headers as Record<string, string>)
  if (a.body !== undefined && !isBase64(a.body)) throw badReply('`body` must be base64')
  switch (a.action) {
    case 'continue': return { action: 'continue' }
    case 'reject':
      if (!isStatus(a.status)) throw badReply('a reject needs a `status` from 200 to 599')
      return a as MiddlewareAction
    case 'modify':
      if (a.status !== undefined && !isStatus(a.status)) throw badReply('`status` must be an integer from 200 to 599')
      return a as MiddlewareAction
    default:
      throw badReply('`action` must be continue, reject or modify')
  }
}

function badReply(detail: string): SandboxError {
  return new SandboxError('TRAP', `the guest's HTTP reply is malformed: ${detail}`, { trap: 'bad HTTP reply' })
}

export function toResponse(r: GuestResponse): Response {
  const body = Buffer.from(r.body, 'base64')
  return new Response(r.status === 204 || r.status === 304 ? null : body, { status: r.status, headers: r.headers })
}

/** A JSON error reply that says what went wrong in the guest and nothing about the host. */
export function errorResponse(status: number, code: string, message: string): Response {
  return toResponse(errorReply(status, code, message))
}

export function errorReply(status: number, code: string, message: string): GuestResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: { code, message } })).toString('base64') }
}
