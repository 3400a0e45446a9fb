import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import { parseBytes, SandboxError } from '../../core/index.js'
import { adminApi } from './admin-api.js'
import { errorReply, malformedPath, type GuestResponse } from './guest-http.js'
import { loadModule, moduleName, moduleSpec, type ModuleSpec } from './module-spec.js'
import { closeServer, connectionLimits, flatHeaders, inTurn, limitedServer, listen, requestUrl, sendReply, sendResponse } from './node-server.js'
import { DEFAULT_BODY_LIMIT, readIncomingBody } from './request-body.js'
import { serveRequest } from './request-path.js'
import { RouteTable } from './route-table.js'
import { WebSocketRoutes, type WebSocketSpec } from './websockets.js'

export { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_MS } from './node-server.js'

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

export interface Server {
  port: number
  url: string
  /** The admin API's address, when `admin` is on. */
  admin?: { port: number; url: string }
  /** Stops accepting connections, lets requests in flight finish, closes every pool. */
  close(): Promise<void>
}

/**
 * A Node HTTP server whose routes and middleware are sandboxed wasm: one pool and policy
 * per module, `GET /health`, 404 for unknown paths, guest errors as JSON 500/502/503/504.
 * Modules can be added and removed at run time through the admin API without dropping
 * requests in flight: a request keeps the modules it started with (see `RouteTable`).
 * Requests take the same path as `createHandler`'s (see `serveRequest`).
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const { port = 0, host = '127.0.0.1', routes = {}, middleware = [], bodyLimit, admin, websockets } = options
  const limit = parseBytes(bodyLimit ?? DEFAULT_BODY_LIMIT, 'bodyLimit')
  const connections = connectionLimits(options)
  if (admin && (typeof admin.token !== 'string' || admin.token.length < 16)) {
    throw new SandboxError('CONFIG', 'admin.token: the admin API needs a bearer token of at least 16 characters', { field: 'admin.token' })
  }
  const table = new RouteTable()
  let sockets: WebSocketRoutes | null = null
  try {
    for (const m of middleware) {
      const { source, options: o } = moduleSpec(m)
      await table.add(moduleName(source, 'middleware'), { middleware: true }, loadModule({ middleware: true }, source, o))
    }
    for (const [pattern, module] of Object.entries(routes)) {
      const { source, options: o, cache } = moduleSpec(module)
      await table.add(moduleName(source, pattern), { route: pattern }, loadModule({ route: pattern }, source, o, cache))
    }
    sockets = websockets ? await WebSocketRoutes.create(websockets) : null
  } catch (error) {
    await table.close()
    throw error
  }

  async function respond(req: IncomingMessage): Promise<GuestResponse> {
    const url = requestUrl(req, host)
    if (!url) return errorReply(400, 'BAD_REQUEST', 'the request target or Host header is malformed')
    if (url.pathname === '/health') return health(req.method)
    const method = req.method ?? 'GET'
    return serveRequest(table, {
      method, url: url.href, path: url.pathname, headers: flatHeaders(req),
      readBody: () => method === 'GET' || method === 'HEAD' ? Promise.resolve(EMPTY) : readIncomingBody(req, limit),
    })
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
    const api = adminApi(table, admin.token)
    adminServer = limitedServer(connections, (req, res) => void api(req).then((response) => sendResponse(res, response)).catch(() => res.destroy()))
    await listen(adminServer, admin.port ?? 0, admin.host ?? '127.0.0.1')
  }

  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    ...(adminServer ? { admin: { port: (adminServer.address() as { port: number }).port, url: `http://${admin!.host ?? '127.0.0.1'}:${(adminServer.address() as { port: number }).port}` } } : {}),
    async close() {
      await sockets?.close()
      await Promise.all([closeServer(server), adminServer ? closeServer(adminServer) : undefined])
      await table.close()
    },
  }
}

const EMPTY = Buffer.alloc(0)
const HEALTHY = Buffer.from(JSON.stringify({ status: 'ok' })).toString('base64')

/** `/health`: GET and HEAD say the server is up; anything else is 405. */
function health(method: string | undefined): GuestResponse {
  if (method === 'GET' || method === 'HEAD') return { status: 200, headers: { 'content-type': 'application/json' }, body: HEALTHY }
  return { ...errorReply(405, 'METHOD_NOT_ALLOWED', `${method} /health: use GET`), headers: { 'content-type': 'application/json', allow: 'GET, HEAD' } }
}
