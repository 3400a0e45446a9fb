import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { parseDuration, SandboxError } from '../../core/index.js'
import { checkHeaders, errorReply, type GuestResponse } from './guest-http.js'

// node:http plumbing of `serve()`: its listeners, their limits, and writing replies.

/** The node:http knobs of `ServeOptions`. */
export interface ConnectionOptions {
  headersTimeout?: number | string
  requestTimeout?: number | string
  keepAliveTimeout?: number | string
  maxConnections?: number
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000
export const DEFAULT_MAX_CONNECTIONS = 1024

export type ConnectionLimits = ReturnType<typeof connectionLimits>

/** Framing is node:http's to decide: a guest's own length or encoding header could lie. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive'])

/** Writes a reply; never throws (a reply node:http refuses becomes a 502, or a closed connection). */
export function sendReply(res: ServerResponse, reply: GuestResponse): void {
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
export function requestUrl(req: IncomingMessage, fallbackHost: string): URL | null {
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
export function inTurn(req: IncomingMessage, res: ServerResponse, stallMs: number, serve: () => Promise<void>): void {
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
export function limitedServer(limits: ConnectionLimits, handler: (req: IncomingMessage, res: ServerResponse) => void): HttpServer {
  const server = createServer(limits.server, handler)
  server.maxConnections = limits.maxConnections
  server.keepAliveTimeout = limits.server.keepAliveTimeout
  return server
}

/** The server's timeouts and connection cap from `ServeOptions`, checked. */
export function connectionLimits(options: ConnectionOptions) {
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
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value
  return out
}

/** Writes a web `Response` (the admin API's replies). */
export async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers))
  res.end(Buffer.from(await response.arrayBuffer()))
}

/** Listens; rejects when the port cannot be had. */
export function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve) })
}

/** Stops accepting connections; resolves once those open have ended. */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}
