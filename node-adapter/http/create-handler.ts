import { parseBytes, SandboxError, type PoolOptions, type SandboxOptions } from '../../core/index.js'
import { SandboxPool } from '../sandbox.js'
import {
  errorResponse, parseGuestResponse, parseMiddlewareAction, PayloadTooLarge, toGuestRequest, toResponse,
  type GuestRequest, type GuestResponse,
} from './guest-http.js'

/** A module given with its own options. */
export type ModuleSpec = unknown | { source: unknown; options?: PoolOptions }

export interface HandlerOptions extends PoolOptions {
  /** The bytes-ABI export that handles requests. Default `'handle'`. */
  export?: string
  /** Largest request body; larger ones get 413. Default 16 MiB. */
  bodyLimit?: number | string
  /** Middleware modules, outermost first: `on_request` in order, `on_response` in reverse. */
  middleware?: ModuleSpec[]
}

/** A fetch-style handler, plus what a server needs to manage it. */
export interface SandboxHandler {
  (request: Request): Promise<Response>
  /** Resolves when every module is compiled and warm (rejects with their first error). */
  ready: Promise<void>
  close(): Promise<void>
}

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024

interface Middleware { pool: SandboxPool; onRequest: boolean; onResponse: boolean }

function spec(module: ModuleSpec): { source: unknown; options: PoolOptions } {
  const m = module as { source?: unknown; options?: PoolOptions }
  return typeof m === 'object' && m !== null && 'source' in m && !(m instanceof Uint8Array) ? { source: m.source, options: m.options ?? {} } : { source: module, options: {} }
}

/**
 * A web-standard `(Request) => Promise<Response>` served by sandboxed wasm: usable from
 * node:http (see `serve`), Hono, or any fetch-style server. `sourceOrPool` is a module
 * source (a pool is made for it with `options`) or a `SandboxPool`.
 */
export function createHandler(sourceOrPool: unknown, options: HandlerOptions = {}): SandboxHandler {
  const { export: handleExport = 'handle', bodyLimit = DEFAULT_BODY_LIMIT, middleware = [], ...poolOptions } = options
  const limit = parseBytes(bodyLimit, 'bodyLimit')
  const ownsPool = !(sourceOrPool instanceof SandboxPool)
  const route = ownsPool ? SandboxPool.create(sourceOrPool, poolOptions) : Promise.resolve(sourceOrPool as SandboxPool)
  const chain = Promise.all(middleware.map(async (m): Promise<Middleware> => {
    const { source, options: mwOptions } = spec(m)
    const pool = await SandboxPool.create(source, mwOptions as SandboxOptions)
    const names = new Set(pool.exports().map((e) => e.name))
    if (!names.has('on_request') && !names.has('on_response')) {
      await pool.close()
      throw new SandboxError('LINK_ERROR', 'a middleware module must export on_request and/or on_response', { suggestion: 'see the README, "HTTP"' })
    }
    return { pool, onRequest: names.has('on_request'), onResponse: names.has('on_response') }
  }))
  const ready = Promise.all([route, chain]).then(() => undefined)
  ready.catch(() => undefined) // reported per request, and to whoever awaits `ready`

  const handler = (async (request: Request): Promise<Response> => {
    try {
      const [pool, layers] = await Promise.all([route, chain])
      let guestRequest: GuestRequest = await toGuestRequest(request, limit)
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
      reply ??= parseGuestResponse(await pool.callJson(handleExport, guestRequest))
      for (const layer of layers.slice(0, entered).reverse()) {
        if (!layer.onResponse) continue
        const action = parseMiddlewareAction(await layer.pool.callJson('on_response', reply))
        if (action.action === 'reject') reply = { status: action.status, headers: action.headers ?? {}, body: action.body ?? '' }
        else if (action.action === 'modify') {
          reply = { status: action.status ?? reply.status, headers: { ...reply.headers, ...action.headers }, body: action.body ?? reply.body }
        }
      }
      return toResponse(reply)
    } catch (error) {
      return failure(error)
    }
  }) as SandboxHandler
  handler.ready = ready
  handler.close = async () => {
    const [pool, layers] = await Promise.allSettled([route, chain])
    if (ownsPool && pool.status === 'fulfilled') await pool.value.close()
    if (layers.status === 'fulfilled') await Promise.all(layers.value.map((l) => l.pool.close()))
  }
  return handler
}

/** Guest errors as JSON replies: nothing from the host leaks into them. */
function failure(error: unknown): Response {
  if (error instanceof PayloadTooLarge) return errorResponse(413, 'PAYLOAD_TOO_LARGE', error.message)
  if (!(error instanceof SandboxError)) return errorResponse(500, 'INTERNAL', 'internal error')
  switch (error.code) {
    case 'TIMEOUT': return errorResponse(504, error.code, error.message)
    case 'OVERLOADED': case 'QUOTA_EXCEEDED': case 'CLOSED': return errorResponse(503, error.code, error.message)
    case 'INTERNAL': return errorResponse(500, error.code, 'internal error')
    case 'TRAP':
      if (error.trap === 'bad HTTP reply' || error.trap === 'invalid JSON reply') return errorResponse(502, 'BAD_GUEST_REPLY', error.message)
      return errorResponse(500, error.code, error.message)
    default: return errorResponse(500, error.code, error.message)
  }
}
