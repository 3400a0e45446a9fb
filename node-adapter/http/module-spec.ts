import type { PoolOptions } from '../../core/index.js'
import { SandboxPool } from '../sandbox.js'
import { middlewarePool, type Middleware } from './middleware-chain.js'
import { ResponseCache, type CacheOptions } from './response-cache.js'
import { routeHandler, type RouteHandler } from './route-handler.js'

/** A module given with its own options (and, for a route, a response cache; for a WebSocket route, an error limit). */
export type ModuleSpec = unknown | { source: unknown; options?: PoolOptions; cache?: CacheOptions; errorLimit?: number }

/** A `ModuleSpec` with its parts named: a bare source has no options of its own. */
export interface NormalizedSpec {
  source: unknown
  options: PoolOptions
  cache?: CacheOptions
  errorLimit?: number
}

/** Where a module sits: on a route pattern (a trailing `*` is a prefix), or around every route. */
export type Attachment = { route: string } | { middleware: true }

/** A module ready to serve: its pool and, by where it sits, its middleware hooks or its route handler. */
export interface LoadedModule {
  pool: SandboxPool
  /** A middleware's hooks; null for a route. */
  layer: Middleware | null
  /** A route's response cache, if it has one. */
  cache: ResponseCache | null
  /** A route's handler: its export, through its cache; null for a middleware. */
  serveRoute: RouteHandler | null
}

/**
 * `maxReplyBytes` of HTTP and WebSocket modules unless their options say otherwise: a reply
 * is base64 in JSON, decoded and written by the host thread that serves every client.
 */
export const DEFAULT_HTTP_MAX_REPLY_BYTES = 4 * 1024 * 1024

/** A module's options with the HTTP default for `maxReplyBytes`. */
export function httpModuleOptions<T extends PoolOptions>(options: T): T {
  return { maxReplyBytes: DEFAULT_HTTP_MAX_REPLY_BYTES, ...options }
}

export function moduleSpec(module: ModuleSpec): NormalizedSpec {
  const m = module as { source?: unknown; options?: PoolOptions; cache?: CacheOptions; errorLimit?: number }
  return typeof m === 'object' && m !== null && 'source' in m && !(m instanceof Uint8Array)
    ? { source: m.source, options: m.options ?? {}, cache: m.cache, errorLimit: m.errorLimit } : { source: module, options: {} }
}

/** The name a module is listed under: its path when it was given as one, else where it sits. */
export function moduleName(source: unknown, fallback: string): string {
  return typeof source === 'string' ? source : fallback
}

/**
 * Compiles a module for where it sits: a middleware must have a hook, a route serves its
 * `export` option (default `handle`, or a wasi:http component's handler), through `cache`.
 */
export async function loadModule(where: Attachment, source: unknown, options: PoolOptions & { export?: string }, cacheOptions?: CacheOptions): Promise<LoadedModule> {
  const { export: handleExport = 'handle', ...sandboxOptions } = options
  if ('middleware' in where) {
    const layer = await middlewarePool(source, httpModuleOptions(sandboxOptions))
    return { pool: layer.pool, layer, cache: null, serveRoute: null }
  }
  const cache = cacheOptions ? new ResponseCache(cacheOptions) : null
  const pool = await SandboxPool.create(source, httpModuleOptions(sandboxOptions))
  return routeModule(pool, handleExport, cache)
}

/** A route over a pool made elsewhere (`createHandler` given a `SandboxPool`). */
export function routeModule(pool: SandboxPool, handleExport: string, cache: ResponseCache | null): LoadedModule {
  return { pool, layer: null, cache, serveRoute: routeHandler(pool, handleExport, cache) }
}
