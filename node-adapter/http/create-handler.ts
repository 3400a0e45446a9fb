import { parseBytes, SandboxError, type PoolOptions } from '../../core/index.js'
import { SandboxPool } from '../sandbox.js'
import { errorResponse, toResponse } from './guest-http.js'
import { httpModuleOptions, loadModule, moduleSpec, routeModule, type LoadedModule, type ModuleSpec } from './module-spec.js'
import { DEFAULT_BODY_LIMIT, readRequestBody } from './request-body.js'
import { serveRequest } from './request-path.js'
import { ResponseCache, type CacheOptions } from './response-cache.js'
import { RouteTable } from './route-table.js'

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

/**
 * A web-standard `(Request) => Promise<Response>` served by sandboxed wasm: usable from
 * node:http (see `serve`), Hono, or any fetch-style server. `sourceOrPool` is a module
 * source (a pool is made for it with `options`) or a `SandboxPool`. It is `serve()`'s
 * request path over a table of one route, `*`, and the middleware.
 */
export function createHandler(sourceOrPool: unknown, options: HandlerOptions = {}): SandboxHandler {
  const { export: handleExport = 'handle', bodyLimit = DEFAULT_BODY_LIMIT, middleware = [], cache: cacheOptions, ...poolOptions } = options
  const cache = cacheOptions ? new ResponseCache(cacheOptions) : null
  const limit = parseBytes(bodyLimit, 'bodyLimit')
  const ownsPool = !(sourceOrPool instanceof SandboxPool)
  const route = ownsPool ? SandboxPool.create(sourceOrPool, httpModuleOptions(poolOptions)) : Promise.resolve(sourceOrPool as SandboxPool)
  const layers = middleware.map((m) => {
    const { source, options: mwOptions } = moduleSpec(m)
    return loadModule({ middleware: true }, source, mwOptions)
  })
  const ready = Promise.all([route, ...layers]).then(() => undefined)
  ready.catch(() => undefined) // reported per request, and to whoever awaits `ready`
  // Whatever loaded goes into the table, so that `close` closes it even when another failed.
  const table = Promise.allSettled([route, ...layers]).then(async ([routePool, ...loaded]) => {
    const modules = new RouteTable()
    for (const l of loaded) if (l.status === 'fulfilled') await modules.add('middleware', { middleware: true }, l.value as LoadedModule)
    if (routePool.status === 'fulfilled') await modules.add('handler', { route: '*' }, routeModule(routePool.value as SandboxPool, handleExport, cache), ownsPool)
    return modules
  })

  const handler = (async (request: Request): Promise<Response> => {
    let modules: RouteTable
    try {
      await ready
      modules = await table
    } catch (error) {
      return errorResponse(500, (error as SandboxError).code ?? 'INTERNAL', error instanceof SandboxError ? error.message : 'internal error')
    }
    const reply = await serveRequest(modules, {
      method: request.method, url: request.url, path: new URL(request.url).pathname,
      headers: Object.fromEntries(request.headers), readBody: () => readRequestBody(request, limit),
    })
    try {
      return toResponse(reply)
    } catch { // guest replies are checked; this is the last line, not the plan
      return errorResponse(502, 'BAD_GUEST_REPLY', 'the guest reply could not be sent')
    }
  }) as SandboxHandler
  handler.ready = ready
  handler.close = async () => (await table).close()
  return handler
}
