import { SandboxError, type SandboxOptions } from '../../core/index.js'
import { SandboxPool } from '../sandbox.js'
import { failureReply, parseMiddlewareAction, type GuestRequest, type GuestResponse } from './guest-http.js'
import type { RouteHandler } from './route-handler.js'

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
export async function runMiddlewareChain(request: GuestRequest, handle: RouteHandler, layers: readonly Middleware[]): Promise<GuestResponse> {
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
