import { randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { parseBytes, parseDuration, SandboxError, type PoolOptions } from '../../core/index.js'
import { SandboxPool } from '../sandbox.js'
import { DEFAULT_BODY_LIMIT, httpModuleOptions, spec, type ModuleSpec } from './create-handler.js'
import { checkHeaders, errorReply, errorResponse, malformedPath, type GuestRequest, type GuestResponse } from './guest-http.js'
import { middlewarePool, routeHandler, runMiddlewareChain, type Middleware } from './middleware-chain.js'
import { ResponseCache, type CacheOptions } from './response-cache.js'
import { WebSocketRoutes, type WebSocketSpec } from './websockets.js'

export interface ServeOptions {
  /** 0 (default) picks a free port. */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** `{ '/api/*': source | { source, options, cache } }`: a trailing `*` matches any rest of the path. */
  routes: Record<string, ModuleSpec>
  /** Middleware modules around every route, outermost first. */
  middleware?: ModuleSpec[]
  /** Largest request body (413 beyond). Default 16 MiB. */
  bodyLimit?: number | string
  /**
   * WebSocket routes, `{ '/ws/:room': source | { source, options, errorLimit } }`: each
   * connection runs in a sandbox of its own (see the README, "WebSockets").
   */
  websockets?: Record<string, WebSocketSpec>
  /** The module manager API on its own listener (see the README, "Admin API"). */
  admin?: { token: string; port?: number; host?: string }
  /**
   * Time a client has to send a request's headers, from its first byte ('10s' or ms).
   * Exceeded: 408 and the connection is closed, so slow clients cannot pile up. Default 10s.
   */
  headersTimeout?: number | string
  /** Time a client has to send a whole request, body included. Exceeded: 408, closed. Default 30s. */
  requestTimeout?: number | string
  /** How long an idle keep-alive connection is kept between requests. Default 5s. */
  keepAliveTimeout?: number | string
  /**
   * Most connections open at once (WebSockets included); beyond it a new connection is
   * closed at once. Default 1024. Limitations: per server, not per client address.
   */
  maxConnections?: number
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000
export const DEFAULT_MAX_CONNECTIONS = 1024

export interface Server {
  port: number
  url: string
  /** The admin API's address, when `admin` is on. */
  admin?: { port: number; url: string }
  /** Stops accepting connections, lets requests in flight finish, closes every pool. */
  close(): Promise<void>
}

/** A module attached to the server, and what it has served. */
interface Entry {
  id: string
  name: string
  attach: { route: string } | { middleware: true }
  pool: SandboxPool
  layer: Middleware | null
  /** A route's response cache, if it has one. */
  cache: ResponseCache | null
  /** A route's handler: its export, through its cache. */
  serveRoute: ((request: GuestRequest) => Promise<GuestResponse>) | null
  /** Requests holding this entry right now; a removed entry closes when they are done. */
  active: number
  removed: boolean
}

/**
 * A Node HTTP server whose routes and middleware are sandboxed wasm: one pool and policy
 * per module, `GET /health`, 404 for unknown paths, guest errors as JSON 500/502/503/504.
 * Modules can be added and removed at run time through the admin API without dropping
 * requests in flight: a request keeps the modules it started with.
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const { port = 0, host = '127.0.0.1', routes = {}, middleware = [], bodyLimit, admin, websockets } = options
  const limit = parseBytes(bodyLimit ?? DEFAULT_BODY_LIMIT, 'bodyLimit')
  const connections = connectionLimits(options)
  if (admin && (typeof admin.token !== 'string' || admin.token.length < 16)) {
    throw new SandboxError('CONFIG', 'admin.token: the admin API needs a bearer token of at least 16 characters', { field: 'admin.token' })
  }
  const entries: Entry[] = []
  let nextId = 1

  async function attach(name: string, where: Entry['attach'], source: unknown, poolOptions: PoolOptions, cacheOptions?: CacheOptions): Promise<Entry> {
    const id = `m${nextId++}`
    const cache = cacheOptions && 'route' in where ? new ResponseCache(cacheOptions) : null
    const { export: _handle, ...sandboxOptions } = poolOptions as PoolOptions & { export?: string }
    const layer = 'middleware' in where ? await middlewarePool(source, httpModuleOptions(sandboxOptions)) : null
    const pool = layer ? layer.pool : await SandboxPool.create(source, httpModuleOptions(sandboxOptions))
    const handle = (poolOptions as { export?: string }).export ?? 'handle'
    const entry: Entry = { id, name, attach: where, pool, layer, cache, serveRoute: layer ? null : routeHandler(pool, handle, cache), active: 0, removed: false }
    entries.push(entry)
    return entry
  }

  async function detach(entry: Entry): Promise<void> {
    entry.removed = true
    entries.splice(entries.indexOf(entry), 1)
    if (entry.active === 0) await entry.pool.close()
  }

  try {
    for (const m of middleware) {
      const { source, options: o } = spec(m)
      await attach(typeof source === 'string' ? source : 'middleware', { middleware: true }, source, o)
    }
    for (const [pattern, module] of Object.entries(routes)) {
      const { source, options: o, cache } = spec(module)
      await attach(typeof source === 'string' ? source : pattern, { route: pattern }, source, o, cache)
    }
  } catch (error) {
    await Promise.all(entries.map((e) => e.pool.close()))
    throw error
  }
  let sockets: WebSocketRoutes | null = null
  try {
    sockets = websockets ? await WebSocketRoutes.create(websockets) : null
  } catch (error) {
    await Promise.all(entries.map((e) => e.pool.close()))
    throw error
  }

  /** The most specific route for a path (a trailing `*` is a prefix). */
  const findRoute = (path: string) => {
    let best: Entry | null = null
    let bestLength = -1
    for (const e of entries) {
      if (!('route' in e.attach)) continue
      const pattern = e.attach.route
      const prefix = pattern.endsWith('*')
      const base = prefix ? pattern.slice(0, -1) : pattern
      if ((prefix ? path.startsWith(base) : path === base) && base.length > bestLength) { best = e; bestLength = base.length }
    }
    return best
  }

  async function respond(req: IncomingMessage): Promise<GuestResponse> {
    const url = requestUrl(req, host)
    if (!url) return errorReply(400, 'BAD_REQUEST', 'the request target or Host header is malformed')
    if (malformedPath(url.pathname)) return errorReply(400, 'BAD_REQUEST', 'the path has malformed percent-encoding')
    if (url.pathname === '/health' && req.method === 'GET') return { status: 200, headers: { 'content-type': 'application/json' }, body: HEALTHY }
    if (url.pathname === '/health') { // GET (above) and HEAD; anything else is 405
      return req.method === 'HEAD' ? { status: 200, headers: { 'content-type': 'application/json' }, body: HEALTHY }
        : { ...errorReply(405, 'METHOD_NOT_ALLOWED', `${req.method} /health: use GET`), headers: { 'content-type': 'application/json', allow: 'GET, HEAD' } }
    }
    const route = findRoute(url.pathname)
    if (!route) return errorReply(404, 'NOT_FOUND', `no route for ${url.pathname}`)
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : await readBody(req, limit)
    if (body === TOO_LARGE) return errorReply(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`)
    const held = [...entries.filter((e) => e.layer), route]
    for (const e of held) e.active++
    try {
      // Straight from node:http to the guest's JSON and back: no web Request/Response in between.
      const request: GuestRequest = { method: req.method ?? 'GET', url: url.href, headers: flatHeaders(req), body: body ? body.toString('base64') : '' }
      return await runMiddlewareChain(request, route.serveRoute!, held.slice(0, -1).map((e) => e.layer!))
    } finally {
      for (const e of held) if (--e.active === 0 && e.removed) void e.pool.close()
    }
  }

  // No path of a request may throw past here: `sendReply` catches what writing throws, and
  // a rejection of `respond` is a 500.
  const server = limitedServer(connections, (req, res) => inTurn(req, res, connections.server.requestTimeout,
    () => respond(req).then((reply) => sendReply(res, reply), () => sendReply(res, errorReply(500, 'INTERNAL', 'internal error')))))
  server.on('upgrade', (req, socket: Duplex, head) => {
    socket.on('error', () => {}) // a client gone mid-handshake is no server error
    try {
      const url = requestUrl(req, host)
      if (!url || malformedPath(url.pathname)) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      if (sockets?.handleUpgrade(req, socket, head, url.pathname)) return
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
    } catch {
      socket.destroy()
    }
  })
  await listen(server, port, host)
  const address = server.address() as { port: number }

  let adminServer: HttpServer | null = null
  if (admin) {
    adminServer = limitedServer(connections, (req, res) => void adminRespond(req).then((response) => send(res, response), (error) => send(res, adminError(error))).catch(() => res.destroy()))
    await listen(adminServer, admin.port ?? 0, admin.host ?? '127.0.0.1')
  }

  async function adminRespond(req: IncomingMessage): Promise<Response> {
    const given = Buffer.from(req.headers.authorization ?? '')
    const expected = Buffer.from(`Bearer ${admin!.token}`)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return errorResponse(401, 'UNAUTHORIZED', 'a valid bearer token is required')
    const url = requestUrl(req, 'admin')
    if (!url || malformedPath(url.pathname)) return errorResponse(400, 'BAD_REQUEST', 'the request target is malformed')
    if (url.pathname === '/modules' && req.method === 'GET') {
      return Response.json(entries.map((e) => {
        const m = e.pool.metrics()
        const failed = Object.values(m.failures).reduce((a, b) => a + b, 0)
        return {
          id: e.id, name: e.name, attach: e.attach, executions: m.calls, successful: m.calls - failed, failed,
          totalMs: round(m.wallMs.total), maxMs: round(m.wallMs.max), averageMs: m.calls ? round(m.wallMs.total / m.calls) : 0,
          ...(e.cache ? { cache: e.cache.stats() } : {}),
        }
      }))
    }
    if (url.pathname === '/modules' && req.method === 'POST') {
      const raw = await readBody(req, 64 * 1024 * 1024)
      if (raw === TOO_LARGE) return errorResponse(413, 'PAYLOAD_TOO_LARGE', 'module uploads are limited to 64 MiB')
      const body = JSON.parse(raw.toString('utf8') || '{}') as { name?: string; source?: { path?: string; wat?: string; base64?: string }; attach?: { route?: string; middleware?: boolean }; policy?: PoolOptions }
      const source = body.source?.path ?? body.source?.wat ?? (body.source?.base64 !== undefined ? Buffer.from(body.source.base64, 'base64') : undefined)
      if (source === undefined) return errorResponse(400, 'CONFIG', 'source: give { path }, { wat } or { base64 }')
      const where = body.attach?.route ? { route: body.attach.route } : body.attach?.middleware ? { middleware: true as const } : null
      if (!where) return errorResponse(400, 'CONFIG', "attach: give { route: '/path/*' } or { middleware: true }")
      const entry = await attach(body.name ?? randomUUID(), where, source, body.policy ?? {})
      return Response.json({ id: entry.id }, { status: 201 })
    }
    const match = /^\/modules\/([^/]+)$/.exec(url.pathname)
    if (match && req.method === 'DELETE') {
      const id = match[1]!
      const entry = entries.find((e) => e.id === id)
      if (!entry) return errorResponse(404, 'NOT_FOUND', `no module ${id}`)
      await detach(entry)
      return new Response(null, { status: 204 })
    }
    return errorResponse(404, 'NOT_FOUND', `no admin endpoint ${req.method} ${url.pathname}`)
  }

  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    ...(adminServer ? { admin: { port: (adminServer.address() as { port: number }).port, url: `http://${admin!.host ?? '127.0.0.1'}:${(adminServer.address() as { port: number }).port}` } } : {}),
    async close() {
      await sockets?.close()
      await Promise.all([close(server), adminServer ? close(adminServer) : undefined])
      await Promise.all(entries.splice(0).map((e) => e.pool.close()))
    },
  }
}

function adminError(error: unknown): Response {
  if (error instanceof SyntaxError) return errorResponse(400, 'CONFIG', `the body is not JSON: ${error.message}`)
  if (error instanceof SandboxError) return errorResponse(400, error.code, error.message)
  return errorResponse(500, 'INTERNAL', 'internal error')
}

const round = (ms: number) => Math.round(ms * 1000) / 1000

const HEALTHY = Buffer.from(JSON.stringify({ status: 'ok' })).toString('base64')

/** Framing is node:http's to decide: a guest's own length or encoding header could lie. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive'])

/** Writes a reply; never throws (a reply node:http refuses becomes a 502, or a closed connection). */
function sendReply(res: ServerResponse, reply: GuestResponse): void {
  try {
    checkHeaders(reply.headers) // already checked where guests reply; a last guard before writeHead
    res.writeHead(reply.status, Object.fromEntries(Object.entries(reply.headers).filter(([name]) => !FRAMING.has(name.toLowerCase()))))
    res.end(reply.status === 204 || reply.status === 304 ? undefined : Buffer.from(reply.body, 'base64'))
  } catch (error) {
    if (res.headersSent) return void res.destroy()
    const message = error instanceof SandboxError ? error.message : 'the guest reply could not be sent'
    const fallback = errorReply(502, 'BAD_GUEST_REPLY', message)
    try {
      res.writeHead(fallback.status, fallback.headers)
      res.end(Buffer.from(fallback.body, 'base64'))
    } catch {
      res.destroy()
    }
  }
}

/**
 * The request's URL: the path from the request target alone (a Host header cannot move it),
 * the host from the Host header where it is valid; null when the target is malformed.
 */
function requestUrl(req: IncomingMessage, fallbackHost: string): URL | null {
  const target = req.url ?? '/'
  try {
    const url = target.startsWith('/') ? new URL(`http://${fallbackHost}${target}`) : new URL(target)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    if (req.headers.host) url.host = req.headers.host // an invalid value leaves the fallback
    return url
  } catch {
    return null
  }
}

/** Each connection's last request in progress: see `inTurn`. */
const turns = new WeakMap<object, Promise<void>>()

/**
 * Serves the requests of one connection one at a time. node:http hands over every request
 * a client pipelines as soon as it parses it, so a client that sends hundreds in one write
 * and reads nothing would have every reply built and held here; instead the next starts once
 * the last reply has gone out to the client. A reply that does not go out within `stallMs`
 * (the client reads nothing) ends the connection, and requests of a closed connection are
 * not run at all.
 */
function inTurn(req: IncomingMessage, res: ServerResponse, stallMs: number, serve: () => Promise<void>): void {
  const socket = req.socket
  const previous = turns.get(socket) ?? Promise.resolve()
  const mine = previous.then(async () => {
    if (socket.destroyed) return
    await serve()
    if (res.writableFinished || res.destroyed) return
    await new Promise<void>((resolve) => {
      const stalled = setTimeout(() => socket.destroy(), stallMs)
      const done = () => { clearTimeout(stalled); resolve() }
      res.once('finish', done)
      res.once('close', done)
    })
  })
  turns.set(socket, mine.catch(() => undefined))
}

/** A node:http server with the timeouts and connection cap of `connectionLimits`. */
function limitedServer(limits: ReturnType<typeof connectionLimits>, handler: (req: IncomingMessage, res: ServerResponse) => void): HttpServer {
  const server = createServer(limits.server, handler)
  server.maxConnections = limits.maxConnections
  server.keepAliveTimeout = limits.server.keepAliveTimeout
  return server
}

/** The server's timeouts and connection cap from `ServeOptions`, checked. */
function connectionLimits(options: ServeOptions) {
  const headersTimeout = parseDuration(options.headersTimeout ?? DEFAULT_HEADERS_TIMEOUT_MS, 'headersTimeout')
  const requestTimeout = parseDuration(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeout')
  const keepAliveTimeout = parseDuration(options.keepAliveTimeout ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS, 'keepAliveTimeout')
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) throw new SandboxError('CONFIG', `maxConnections: expected a positive whole number, got ${String(maxConnections)}`, { field: 'maxConnections' })
  if (headersTimeout <= 0 || requestTimeout <= 0) throw new SandboxError('CONFIG', 'headersTimeout, requestTimeout: expected durations above 0', { field: headersTimeout <= 0 ? 'headersTimeout' : 'requestTimeout' })
  if (headersTimeout > requestTimeout) throw new SandboxError('CONFIG', `headersTimeout (${headersTimeout}ms) must not exceed requestTimeout (${requestTimeout}ms)`, { field: 'headersTimeout' })
  return {
    maxConnections,
    server: {
      headersTimeout, requestTimeout, keepAliveTimeout,
      // node:http enforces both timeouts on this tick (default 30s, which would triple a 10s limit).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
  }
}

/** node:http's headers as the guest contract has them: one string per name (repeats joined by ', '). */
function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value
  return out
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers))
  res.end(Buffer.from(await response.arrayBuffer()))
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve) })
}

function close(server: HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

const TOO_LARGE = Symbol('too large')

/** The request body as one buffer, or TOO_LARGE past `limit` (without reading the rest). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(TOO_LARGE)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        req.removeAllListeners('data')
        req.resume()
        resolve(TOO_LARGE)
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}
