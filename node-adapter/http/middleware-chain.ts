import { HTTP_HANDLER, SandboxError, type SandboxOptions } from '../../core/index.js'
import { SandboxPool } from '../sandbox.js'
import type { ResponseCache } from './response-cache.js'
import { checkHeaders, errorReply, parseGuestResponse, parseMiddlewareAction, PayloadTooLarge, type GuestRequest, type GuestResponse } from './guest-http.js'

/** A middleware module and which of its hooks it has. */
export interface Middleware {
  pool: SandboxPool
  onRequest: boolean
  onResponse: boolean
}

/** A pool for a middleware module, refusing one with neither hook. */
export async function middlewarePool(source: unknown, options: SandboxOptions = {}): Promise<Middleware> {
  const pool = await SandboxPool.create(source, options)
  const names = new Set(pool.exports().map((e) => e.name))
  if (!names.has('on_request') && !names.has('on_response')) {
    await pool.close()
    throw new SandboxError('LINK_ERROR', 'a middleware module must export on_request and/or on_response', { suggestion: 'see the README, "HTTP"' })
  }
  return { pool, onRequest: names.has('on_request'), onResponse: names.has('on_response') }
}

/**
 * One request through the middleware (`on_request` outermost first, `on_response` in
 * reverse over the layers entered) and the route's `handle` export. Never throws: a
 * failure is a JSON error reply (see {@link failureReply}).
 */
export async function runMiddlewareChain(request: GuestRequest, handle: (request: GuestRequest) => Promise<GuestResponse>, layers: readonly Middleware[]): Promise<GuestResponse> {
  try {
    let guestRequest = request
    let reply: GuestResponse | null = null
    let entered = 0
    for (const layer of layers) {
      entered++
      if (!layer.onRequest) continue
      const action = parseMiddlewareAction(await layer.pool.callJson('on_request', guestRequest))
      if (action.action === 'reject') {
        reply = { status: action.status, headers: action.headers ?? {}, body: action.body ?? '' }
        break
      }
      if (action.action === 'modify') {
        guestRequest = { ...guestRequest, headers: { ...guestRequest.headers, ...action.headers }, body: action.body ?? guestRequest.body }
      }
    }
    reply ??= await handle(guestRequest)
    for (const layer of layers.slice(0, entered).reverse()) {
      if (!layer.onResponse) continue
      const action = parseMiddlewareAction(await layer.pool.callJson('on_response', reply))
      if (action.action === 'reject') reply = { status: action.status, headers: action.headers ?? {}, body: action.body ?? '' }
      else if (action.action === 'modify') {
        reply = { status: action.status ?? reply.status, headers: { ...reply.headers, ...action.headers }, body: action.body ?? reply.body }
      }
    }
    return reply
  } catch (error) {
    return failureReply(error)
  }
}

/** The route's handler: its `handle` export (or another), its reply checked; through the cache when there is one. */
export function routeHandler(route: SandboxPool, handleExport: string, cache: ResponseCache | null): (request: GuestRequest) => Promise<GuestResponse> {
  const handle = route.exports().some((e) => e.name === HTTP_HANDLER) ? (request: GuestRequest) => callHttpComponent(route, request)
    : async (request: GuestRequest) => parseGuestResponse(await route.callJson(handleExport, request))
  return cache ? (request) => cache.serve(request, handle) : handle
}

/**
 * A component exporting `wasi:http/incoming-handler`: the request as the sandbox's plain
 * exchange (one fresh instance per request, as wasi:http has it), its response back into
 * the contract's shape.
 */
async function callHttpComponent(route: SandboxPool, request: GuestRequest): Promise<GuestResponse> {
  const response = await route.call(HTTP_HANDLER, {
    method: request.method, url: request.url, headers: Object.entries(request.headers), body: Buffer.from(request.body, 'base64'),
  }) as { status: number; headers: [string, string][]; body: Uint8Array }
  const headers: Record<string, string> = Object.create(null) // guest-chosen names: `__proto__` is just a name
  for (const [name, value] of response.headers) {
    const key = name.toLowerCase()
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value
  }
  checkHeaders(headers)
  return { status: response.status, headers, body: Buffer.from(response.body).toString('base64') }
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
