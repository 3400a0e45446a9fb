import { parseBytes, SandboxError, type PoolOptions } from '../../core/index.js'
import { SandboxPool } from '../sandbox.js'
import { errorResponse, malformedPath, toGuestRequest, toResponse, type GuestRequest } from './guest-http.js'
import { failureReply, middlewarePool, routeHandler, runMiddlewareChain, type Middleware } from './middleware-chain.js'
import { ResponseCache, type CacheOptions } from './response-cache.js'

/** A module given with its own options (and, for a route, a response cache; for a WebSocket route, an error limit). */
export type ModuleSpec = unknown | { source: unknown; options?: PoolOptions; cache?: CacheOptions; errorLimit?: number }

export interface HandlerOptions extends PoolOptions {
  /** The bytes-ABI export that handles requests. Default `'handle'`. */
  export?: string
  /** Largest request body; larger ones get 413. Default 16 MiB. */
  bodyLimit?: number | string
  /** Middleware modules, outermost first: `on_request` in order, `on_response` in reverse. */
  middleware?: ModuleSpec[]
  /** Keep the handler's replies to GET/HEAD (see `CacheOptions`). */
  cache?: CacheOptions
}

/** A fetch-style handler, plus what a server needs to manage it. */
export interface SandboxHandler {
  (request: Request): Promise<Response>
  /** Resolves when every module is compiled and warm (rejects with their first error). */
  ready: Promise<void>
  close(): Promise<void>
}

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024
/**
 * `maxReplyBytes` of HTTP and WebSocket modules unless their options say otherwise: a reply
 * is base64 in JSON, decoded and written by the host thread that serves every client.
 */
export const DEFAULT_HTTP_MAX_REPLY_BYTES = 4 * 1024 * 1024

/** A module's options with the HTTP default for `maxReplyBytes`. */
export function httpModuleOptions<T extends PoolOptions>(options: T): T {
  return { maxReplyBytes: DEFAULT_HTTP_MAX_REPLY_BYTES, ...options }
}

export function spec(module: ModuleSpec): { source: unknown; options: PoolOptions; cache?: CacheOptions; errorLimit?: number } {
  const m = module as { source?: unknown; options?: PoolOptions; cache?: CacheOptions; errorLimit?: number }
  return typeof m === 'object' && m !== null && 'source' in m && !(m instanceof Uint8Array)
    ? { source: m.source, options: m.options ?? {}, cache: m.cache, errorLimit: m.errorLimit } : { source: module, options: {} }
}

/**
 * A web-standard `(Request) => Promise<Response>` served by sandboxed wasm: usable from
 * node:http (see `serve`), Hono, or any fetch-style server. `sourceOrPool` is a module
 * source (a pool is made for it with `options`) or a `SandboxPool`.
 */
export function createHandler(sourceOrPool: unknown, options: HandlerOptions = {}): SandboxHandler {
  const { export: handleExport = 'handle', bodyLimit = DEFAULT_BODY_LIMIT, middleware = [], cache: cacheOptions, ...poolOptions } = options
  const cache = cacheOptions ? new ResponseCache(cacheOptions) : null
  const limit = parseBytes(bodyLimit, 'bodyLimit')
  const ownsPool = !(sourceOrPool instanceof SandboxPool)
  const route = ownsPool ? SandboxPool.create(sourceOrPool, httpModuleOptions(poolOptions)) : Promise.resolve(sourceOrPool as SandboxPool)
  const chain = Promise.all(middleware.map((m) => {
    const { source, options: mwOptions } = spec(m)
    return middlewarePool(source, httpModuleOptions(mwOptions))
  }))
  const ready = Promise.all([route, chain]).then(() => undefined)
  ready.catch(() => undefined) // reported per request, and to whoever awaits `ready`

  const routeHandle = route.then((pool) => routeHandler(pool, handleExport, cache))
  routeHandle.catch(() => {}) // reported per request
  const handler = (async (request: Request): Promise<Response> => {
    let handle: Awaited<typeof routeHandle>, layers: Middleware[]
    try {
      [handle, layers] = await Promise.all([routeHandle, chain])
    } catch (error) {
      return errorResponse(500, (error as SandboxError).code ?? 'INTERNAL', error instanceof SandboxError ? error.message : 'internal error')
    }
    let guestRequest: GuestRequest
    try {
      if (malformedPath(new URL(request.url).pathname)) return errorResponse(400, 'BAD_REQUEST', 'the path has malformed percent-encoding')
      guestRequest = await toGuestRequest(request, limit)
    } catch (error) {
      return toResponse(failureReply(error))
    }
    try {
      return toResponse(await runMiddlewareChain(guestRequest, handle, layers))
    } catch { // guest replies are checked; this is the last line, not the plan
      return errorResponse(502, 'BAD_GUEST_REPLY', 'the guest reply could not be sent')
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
