import { errorReply, failureReply, malformedPath, type GuestResponse } from './guest-http.js'
import { runMiddlewareChain } from './middleware-chain.js'
import type { RouteTable } from './route-table.js'

/** A request as a server received it, its body not read yet. */
export interface IncomingRequest {
  method: string
  /** The whole URL, as the guest gets it. */
  url: string
  /** The URL's path (still percent-encoded), which picks the route. */
  path: string
  /** One string per name (repeats joined by ', '), as the guest contract has them. */
  headers: Record<string, string>
  /** Reads the body within the server's limit (rejects with PayloadTooLarge past it). */
  readBody(): Promise<Buffer>
}

/**
 * The one way a request is served, by `serve()` and `createHandler` alike: a malformed
 * path is a 400, no route a 404, then the body (413 past the limit), then the middleware
 * and the route (see `runMiddlewareChain`), holding the modules it started with until it
 * is done. Never throws: every failure is a JSON error reply.
 */
export async function serveRequest(table: RouteTable, request: IncomingRequest): Promise<GuestResponse> {
  if (malformedPath(request.path)) return errorReply(400, 'BAD_REQUEST', 'the path has malformed percent-encoding')
  const route = table.find(request.path)
  if (!route) return errorReply(404, 'NOT_FOUND', `no route for ${request.path}`)
  let body: string
  try {
    body = (await request.readBody()).toString('base64')
  } catch (error) {
    return failureReply(error)
  }
  const held = table.hold(route)
  try {
    // Straight from the server to the guest's JSON and back: no web Request/Response in between.
    return await runMiddlewareChain({ method: request.method, url: request.url, headers: request.headers, body }, route.serveRoute!, held.layers)
  } finally {
    held.release()
  }
}
