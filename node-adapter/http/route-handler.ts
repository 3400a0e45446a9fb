import { HTTP_HANDLER } from '../../core/index.js'
import type { SandboxPool } from '../sandbox.js'
import { checkHeaders, parseGuestResponse, type GuestRequest, type GuestResponse } from './guest-http.js'
import type { ResponseCache } from './response-cache.js'

/** What serves a route once the middleware let a request through. */
export type RouteHandler = (request: GuestRequest) => Promise<GuestResponse>

/** The route's handler: its `handle` export (or another), its reply checked; through the cache when there is one. */
export function routeHandler(route: SandboxPool, handleExport: string, cache: ResponseCache | null): RouteHandler {
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
