import { SandboxError } from '../../core/index.js'
import { PayloadTooLarge } from './request-body.js'

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

/** Guest errors as JSON replies: nothing from the host leaks into them. */
export function failureReply(error: unknown): GuestResponse {
  if (error instanceof PayloadTooLarge) return errorReply(413, 'PAYLOAD_TOO_LARGE', error.message)
  if (!(error instanceof SandboxError)) return errorReply(500, 'INTERNAL', 'internal error')
  switch (error.code) {
    case 'TIMEOUT': return errorReply(504, error.code, error.message)
    case 'OUTPUT_LIMIT': return errorReply(502, error.code, error.message) // the guest's reply is too large
    case 'OVERLOADED': case 'QUOTA_EXCEEDED': case 'CLOSED': return errorReply(503, error.code, error.message)
    case 'INTERNAL': return errorReply(500, error.code, 'internal error')
    case 'TRAP':
      if (error.trap === 'bad HTTP reply' || error.trap === 'invalid JSON reply') return errorReply(502, 'BAD_GUEST_REPLY', error.message)
      return errorReply(500, error.code, error.message)
    default: return errorReply(500, error.code, error.message)
  }
}
