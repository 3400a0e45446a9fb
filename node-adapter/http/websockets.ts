import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { isUtf8 } from 'node:buffer'
import { WebSocketServer, type WebSocket } from 'ws'
import { parseBytes, parseDuration, SandboxError, type PoolOptions } from '../../core/index.js'
import { Sandbox } from '../sandbox.js'
import { httpModuleOptions, moduleSpec, type ModuleSpec } from './module-spec.js'

/**
 * A WebSocket route: a module, its policy, how many failed messages in a row end a
 * connection, and the bounds of what a client may send (see {@link WebSocketLimits}).
 */
export type WebSocketSpec = ModuleSpec | ({ source: unknown; options?: PoolOptions; errorLimit?: number } & WebSocketLimits)

/**
 * What one connection may hold on the host. Frames wait in the connection's inbox while
 * its sandbox is busy (or not yet free); a client that sends faster than its guest handles
 * is pushed back, and one that does not stop is closed.
 */
export interface WebSocketLimits {
  /** Largest message (after reassembly). Exceeded: closed with 1009 (message too big). Default 1 MiB. */
  maxMessageBytes?: number | string
  /**
   * Messages waiting in a connection's inbox. At half of this (or of `maxQueuedBytes`) the
   * socket is paused, so TCP pushes back on the client; frames it had sent already still
   * arrive, and at the limit the connection is closed with 1008 (policy). Default 256.
   */
  maxQueuedMessages?: number
  /**
   * Bytes waiting in a connection's inbox (as `maxQueuedMessages`), and replies waiting to go
   * out to a client that does not read: past it, the next message is handled only once the
   * last reply has gone out. Default 4 MiB.
   */
  maxQueuedBytes?: number | string
  /**
   * A connection holds a sandbox of the route for its whole life: one that sends nothing
   * for this long ('60s' or ms) is closed with 1000 ("idle timeout"), so idle clients cannot
   * keep every sandbox from the next; one that reads nothing of its replies for this long is
   * dropped. Default 60s.
   */
  idleTimeout?: number | string
}

export const DEFAULT_WS_MAX_MESSAGE_BYTES = 1024 * 1024
export const DEFAULT_WS_MAX_QUEUED_MESSAGES = 256
export const DEFAULT_WS_MAX_QUEUED_BYTES = 4 * 1024 * 1024
export const DEFAULT_WS_IDLE_TIMEOUT_MS = 60_000

/** Close codes (RFC 6455). */
const NORMAL = 1000
const POLICY_VIOLATION = 1008
const INTERNAL_ERROR = 1011
const TRY_AGAIN_LATER = 1013

/**
 * Sandboxes for one route's connections: each connection has one to itself for its whole
 * life; when it closes the sandbox gets a fresh instance and serves the next connection.
 * At most `max` exist (default 16); connections beyond wait for one (up to `maxQueued`,
 * default 1000; then they are closed with 1013, try again later).
 */
class ConnectionSandboxes {
  private readonly idle: Sandbox[] = []
  private readonly waiting: ((sandbox: Sandbox | Error) => void)[] = []
  private live = 0
  private closed = false
  readonly max: number
  private readonly maxQueued: number
  private readonly sandboxOptions: object

  constructor(readonly source: unknown, options: PoolOptions) {
    const { max = 16, maxQueued = 1000, min: _min, idleTimeoutMs: _idle, reuse: _reuse, ...sandboxOptions } = options
    this.max = max
    this.maxQueued = maxQueued
    this.sandboxOptions = httpModuleOptions(sandboxOptions)
  }

  /** Checks the module once (exports, imports, policy) before the route accepts connections. */
  async prepare(): Promise<void> {
    const sandbox = await Sandbox.create(this.source, this.sandboxOptions)
    this.live++
    if (!sandbox.exports().some((e) => e.name === 'on_message' && e.kind === 'function')) {
      await sandbox.close()
      throw new SandboxError('LINK_ERROR', 'a WebSocket module must export on_message (a bytes function)', { suggestion: 'see the README, "WebSockets"' })
    }
    this.idle.push(sandbox)
  }

  acquire(): Promise<Sandbox> {
    if (this.closed) return Promise.reject(new SandboxError('CLOSED', 'the server is closing'))
    const sandbox = this.idle.pop()
    if (sandbox) return Promise.resolve(sandbox)
    if (this.live < this.max) {
      this.live++
      return Sandbox.create(this.source, this.sandboxOptions).catch((error) => {
        this.live--
        throw error
      })
    }
    if (this.waiting.length >= this.maxQueued) return Promise.reject(new SandboxError('OVERLOADED', `all ${this.max} sandboxes of this route are in use and ${this.maxQueued} connections wait`))
    return new Promise((resolve, reject) => this.waiting.push((s) => (s instanceof Error ? reject(s) : resolve(s))))
  }

  /** Back from a connection: a fresh instance, then to whoever waits (or idle). */
  async release(sandbox: Sandbox): Promise<void> {
    try {
      await sandbox.reset()
    } catch {
      await sandbox.close()
      this.live--
      if (this.waiting.length && !this.closed) void this.acquire().then((s) => this.handOver(s), (e) => this.waiting.shift()?.(e))
      return
    }
    this.handOver(sandbox)
  }

  private handOver(sandbox: Sandbox): void {
    if (this.closed) {
      this.live--
      void sandbox.close()
      return
    }
    const next = this.waiting.shift()
    if (next) next(sandbox)
    else this.idle.push(sandbox)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const wake of this.waiting.splice(0)) wake(new SandboxError('CLOSED', 'the server is closing'))
    await Promise.all(this.idle.splice(0).map((s) => s.close()))
  }
}

interface Route {
  pattern: string
  match: (path: string) => Record<string, string> | null
  sandboxes: ConnectionSandboxes
  errorLimit: number
  /** Its own server: `maxPayload` is per server. */
  wss: WebSocketServer
  maxQueuedMessages: number
  maxQueuedBytes: number
  idleTimeoutMs: number
}

/**
 * `/ws/:room/*` -> a matcher giving `{ room }` (and the rest of a trailing `*` as `'*'`).
 * A parameter with malformed percent-encoding does not match (serve answers such paths 400).
 */
export function pathMatcher(pattern: string): (path: string) => Record<string, string> | null {
  const parts = pattern.split('/')
  return (path) => {
    const segments = path.split('/')
    const params: Record<string, string> = {}
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (part === '*' && i === parts.length - 1) {
        const rest = segments.slice(i).map(decode)
        if (rest.includes(null)) return null
        params['*'] = rest.join('/')
        return params
      }
      const segment = segments[i]
      if (segment === undefined) return null
      if (part.startsWith(':')) {
        if (segment === '') return null
        const value = decode(segment)
        if (value === null) return null
        params[part.slice(1)] = value
      } else if (part !== segment) return null
    }
    return segments.length === parts.length ? params : null
  }
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment)
  } catch {
    return null
  }
}

/**
 * WebSocket routes on a node:http server (the `upgrade` event), with `ws`. Each connection
 * runs in a sandbox of its own: `on_open` gets `{ path, params, headers }` as JSON, every
 * frame goes to `on_message` (bytes in; a non-empty reply goes back as a frame of the same
 * kind), `on_close` gets `{ code, reason }`. Messages of a connection are handled one at a
 * time, in order. A failed message gets a JSON error frame and the connection stays, until
 * `errorLimit` (default 3) fail in a row; a timeout closes at once; both with 1011.
 */
export class WebSocketRoutes {
  private readonly routes: Route[] = []

  static async create(specs: Record<string, WebSocketSpec>): Promise<WebSocketRoutes> {
    const routes = new WebSocketRoutes()
    try {
      for (const [pattern, spec] of Object.entries(specs)) {
        if (!pattern.startsWith('/')) throw new SandboxError('CONFIG', `websockets: ${JSON.stringify(pattern)} must start with /`, { field: 'websockets' })
        const { source, options, errorLimit = 3 } = moduleSpec(spec)
        const limits = (typeof spec === 'object' && spec !== null ? spec : {}) as WebSocketLimits
        const where = `websockets[${JSON.stringify(pattern)}]`
        if (!Number.isSafeInteger(errorLimit) || errorLimit < 1) throw new SandboxError('CONFIG', `${where}.errorLimit: expected a positive whole number`, { field: 'errorLimit' })
        const maxQueuedMessages = limits.maxQueuedMessages ?? DEFAULT_WS_MAX_QUEUED_MESSAGES
        if (!Number.isSafeInteger(maxQueuedMessages) || maxQueuedMessages < 2) throw new SandboxError('CONFIG', `${where}.maxQueuedMessages: expected a whole number of at least 2`, { field: 'maxQueuedMessages' })
        const maxQueuedBytes = parseBytes(limits.maxQueuedBytes ?? DEFAULT_WS_MAX_QUEUED_BYTES, 'maxQueuedBytes')
        const maxPayload = parseBytes(limits.maxMessageBytes ?? DEFAULT_WS_MAX_MESSAGE_BYTES, 'maxMessageBytes')
        const sandboxes = new ConnectionSandboxes(source, options)
        const wss = new WebSocketServer({ noServer: true, maxPayload })
        const idleTimeoutMs = parseDuration(limits.idleTimeout ?? DEFAULT_WS_IDLE_TIMEOUT_MS, 'idleTimeout')
        routes.routes.push({ pattern, match: pathMatcher(pattern), sandboxes, errorLimit, wss, maxQueuedMessages, maxQueuedBytes, idleTimeoutMs })
        await sandboxes.prepare()
      }
    } catch (error) {
      await routes.close()
      throw error
    }
    return routes
  }

  /** Handles an upgrade if a route matches; false to let the server answer 404. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): boolean {
    for (const route of this.routes) {
      const params = route.match(path)
      if (!params) continue
      route.wss.handleUpgrade(req, socket, head, (ws) => void this.connection(ws, req, path, params, route))
      return true
    }
    return false
  }

  private async connection(ws: WebSocket, req: IncomingMessage, path: string, params: Record<string, string>, route: Route): Promise<void> {
    // Frames that arrive before the sandbox is ready (it may be queued) or while it is busy
    // wait, in order, within the route's bounds: paused at half, closed at the limit.
    const inbox: { data: Buffer; binary: boolean }[] = []
    let queuedBytes = 0
    let closed: { code: number; reason: string } | null = null
    let wake = () => {}
    let refused = false
    ws.on('message', (data: Buffer, binary) => {
      if (closed || refused) return
      if (inbox.length >= route.maxQueuedMessages || queuedBytes + data.length > route.maxQueuedBytes) {
        refused = true
        inbox.length = 0
        queuedBytes = 0
        ws.resume() // the closing handshake needs the client's close frame read
        ws.close(POLICY_VIOLATION, `inbox full: at most ${route.maxQueuedMessages} messages or ${route.maxQueuedBytes} bytes may wait`)
        return
      }
      inbox.push({ data, binary })
      queuedBytes += data.length
      if (!ws.isPaused && (inbox.length * 2 >= route.maxQueuedMessages || queuedBytes * 2 >= route.maxQueuedBytes)) ws.pause()
      wake()
    })
    ws.on('close', (code, reason) => { closed = { code, reason: reason.toString() }; wake() })
    ws.on('error', () => {})
    let sandbox: Sandbox
    try {
      sandbox = await route.sandboxes.acquire()
    } catch (error) {
      ws.close(error instanceof SandboxError && error.code === 'OVERLOADED' ? TRY_AGAIN_LATER : INTERNAL_ERROR, reasonOf(error))
      return
    }
    const exports = new Set(sandbox.exports().map((e) => e.name))
    // Replies wait in the socket's send buffer while the client does not read: past
    // maxQueuedBytes, the next message waits until this reply has gone out (and a client that
    // reads nothing for idleTimeout is dropped), so what a connection holds stays bounded.
    const send = async (reply: Uint8Array, binary: boolean): Promise<void> => {
      if (reply.length === 0 || ws.readyState !== ws.OPEN) return
      if (!binary && !isUtf8(reply)) throw new SandboxError('TRAP', 'on_message replied to a text frame with bytes that are not UTF-8', { trap: 'invalid UTF-8 reply' })
      const sent = new Promise<void>((resolve) => ws.send(reply, { binary }, () => resolve()))
      if (ws.bufferedAmount <= route.maxQueuedBytes) return
      const stalled = setTimeout(() => ws.terminate(), route.idleTimeoutMs)
      await sent
      clearTimeout(stalled)
    }
    let failures = 0
    try {
      if (exports.has('on_open')) {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v ?? '']))
        await send(await sandbox.callBytes('on_open', Buffer.from(JSON.stringify({ path, params, headers }))), false)
      }
      for (;;) {
        const frame = inbox.shift()
        if (frame) {
          queuedBytes -= frame.data.length
          if (ws.isPaused && inbox.length * 4 <= route.maxQueuedMessages && queuedBytes * 4 <= route.maxQueuedBytes) ws.resume()
        }
        if (!frame) {
          if (closed) break
          const idle = setTimeout(() => ws.close(NORMAL, 'idle timeout'), route.idleTimeoutMs)
          await new Promise<void>((resolve) => { wake = resolve })
          clearTimeout(idle)
          continue
        }
        try {
          await send(await sandbox.callBytes('on_message', frame.data), frame.binary)
          failures = 0
        } catch (error) {
          const e = error instanceof SandboxError ? error : new SandboxError('INTERNAL', 'internal error')
          if (e.code === 'TIMEOUT' || ++failures >= route.errorLimit) {
            ws.close(INTERNAL_ERROR, reasonOf(e))
            break
          }
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ error: { code: e.code, message: e.message } }))
        }
      }
      if (exports.has('on_close')) {
        const { code, reason } = closed ?? { code: INTERNAL_ERROR, reason: '' }
        await sandbox.callBytes('on_close', Buffer.from(JSON.stringify({ code, reason }))).catch(() => {})
      }
    } catch (error) { // on_open failed: the guest refused or broke
      ws.close(INTERNAL_ERROR, reasonOf(error))
    } finally {
      await route.sandboxes.release(sandbox)
    }
  }

  async close(): Promise<void> {
    for (const route of this.routes) {
      for (const client of route.wss.clients) client.terminate()
      route.wss.close()
    }
    await Promise.all(this.routes.map((r) => r.sandboxes.close()))
  }
}

/** A close reason: at most 123 bytes of UTF-8 (the protocol's limit). */
function reasonOf(error: unknown): string {
  const text = error instanceof SandboxError ? `${error.code}: ${error.message}` : 'internal error'
  let out = text.slice(0, 123)
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1)
  return out
}
