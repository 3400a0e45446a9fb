import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { parseBytes } from '../../core/index.js'
import { createHandler, DEFAULT_BODY_LIMIT, type HandlerOptions, type ModuleSpec, type SandboxHandler } from './create-handler.js'
import { errorResponse } from './guest-http.js'

export interface ServeOptions {
  /** 0 (default) picks a free port. */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** `{ '/api/*': source | { source, options } }`: a trailing `*` matches any rest of the path. */
  routes: Record<string, ModuleSpec>
  /** Middleware modules around every route, outermost first. */
  middleware?: ModuleSpec[]
  /** Largest request body (413 beyond). Default 16 MiB. */
  bodyLimit?: number | string
}

export interface Server {
  port: number
  url: string
  /** Stops accepting connections, lets requests in flight finish, closes every pool. */
  close(): Promise<void>
}

/**
 * A Node HTTP server whose routes (and middleware) are sandboxed wasm: one pool and policy
 * per route, `GET /health`, 404 for unknown paths, guest errors as JSON 500/502/503/504.
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const { port = 0, host = '127.0.0.1', routes, middleware = [], bodyLimit } = options
  const limit = parseBytes(bodyLimit ?? DEFAULT_BODY_LIMIT, 'bodyLimit')
  const table: { pattern: string; prefix: boolean; handler: SandboxHandler }[] = []
  for (const [pattern, module] of Object.entries(routes ?? {})) {
    const m = module as { source?: unknown; options?: HandlerOptions }
    const own = typeof m === 'object' && m !== null && 'source' in m && !(m instanceof Uint8Array)
    const handler = createHandler(own ? m.source : module, { ...(own ? m.options : {}), middleware, ...(bodyLimit !== undefined ? { bodyLimit } : {}) })
    table.push({ pattern: pattern.endsWith('*') ? pattern.slice(0, -1) : pattern, prefix: pattern.endsWith('*'), handler })
  }
  try {
    await Promise.all(table.map((r) => r.handler.ready))
  } catch (error) {
    await Promise.all(table.map((r) => r.handler.close()))
    throw error
  }
  table.sort((a, b) => b.pattern.length - a.pattern.length) // most specific first

  const server = createServer((req, res) => void respond(req, res))
  async function respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`)
    let response: Response
    if (url.pathname === '/health' && req.method === 'GET') response = Response.json({ status: 'ok' })
    else {
      const route = table.find((r) => (r.prefix ? url.pathname.startsWith(r.pattern) : url.pathname === r.pattern))
      if (!route) response = errorResponse(404, 'NOT_FOUND', `no route for ${url.pathname}`)
      else {
        const body = req.method === 'GET' || req.method === 'HEAD' ? null : await readBody(req, limit)
        if (body === TOO_LARGE) response = errorResponse(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`)
        else {
          const headers = req.headers as Record<string, string>
          response = await route.handler(new Request(url, { method: req.method, headers, ...(body ? { body: body as unknown as BodyInit } : {}) }))
        }
      }
    }
    res.writeHead(response.status, Object.fromEntries(response.headers))
    res.end(Buffer.from(await response.arrayBuffer()))
  }
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve) })
  const address = server.address() as { port: number }
  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all(table.map((r) => r.handler.close()))
    },
  }
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
