import { randomUUID, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { SandboxError, type PoolOptions } from '../../core/index.js'
import { errorResponse, malformedPath } from './guest-http.js'
import { loadModule, type Attachment } from './module-spec.js'
import { PayloadTooLarge, readIncomingBody } from './request-body.js'
import { requestUrl } from './node-server.js'
import type { RouteTable } from './route-table.js'

/** Largest module upload (`POST /modules`). */
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024

/** `POST /modules`: a module, where it sits, and its policy. */
interface ModuleUpload {
  name?: string
  source?: { path?: string; wat?: string; base64?: string }
  attach?: { route?: string; middleware?: boolean }
  policy?: PoolOptions
}

/**
 * The module manager of `serve()` on its own listener, behind a bearer token (see the
 * README, "Admin API"): `GET /modules` lists the table with what each module has served,
 * `POST /modules` adds one, `DELETE /modules/:id` removes one once its requests are done.
 * Never rejects: a failure is a JSON error reply.
 */
export function adminApi(table: RouteTable, token: string): (req: IncomingMessage) => Promise<Response> {
  const expected = Buffer.from(`Bearer ${token}`)
  const respond = async (req: IncomingMessage): Promise<Response> => {
    const given = Buffer.from(req.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return errorResponse(401, 'UNAUTHORIZED', 'a valid bearer token is required')
    const url = requestUrl(req, 'admin')
    if (!url || malformedPath(url.pathname)) return errorResponse(400, 'BAD_REQUEST', 'the request target is malformed')
    if (url.pathname === '/modules' && req.method === 'GET') return Response.json(table.list().map(moduleStats))
    if (url.pathname === '/modules' && req.method === 'POST') return addModule(table, await readIncomingBody(req, MAX_UPLOAD_BYTES))
    const match = /^\/modules\/([^/]+)$/.exec(url.pathname)
    if (match && req.method === 'DELETE') {
      const id = match[1]!
      const entry = table.get(id)
      if (!entry) return errorResponse(404, 'NOT_FOUND', `no module ${id}`)
      await table.remove(entry)
      return new Response(null, { status: 204 })
    }
    return errorResponse(404, 'NOT_FOUND', `no admin endpoint ${req.method} ${url.pathname}`)
  }
  return (req) => respond(req).catch(adminError)
}

/** A module's line in `GET /modules`: where it sits and what it has served. */
function moduleStats(e: ReturnType<RouteTable['list']>[number]) {
  const m = e.pool.metrics()
  const failed = Object.values(m.failures).reduce((a, b) => a + b, 0)
  return {
    id: e.id, name: e.name, attach: e.attach, executions: m.calls, successful: m.calls - failed, failed,
    totalMs: round(m.wallMs.total), maxMs: round(m.wallMs.max), averageMs: m.calls ? round(m.wallMs.total / m.calls) : 0,
    ...(e.cache ? { cache: e.cache.stats() } : {}),
  }
}

async function addModule(table: RouteTable, raw: Buffer): Promise<Response> {
  const body = JSON.parse(raw.toString('utf8') || '{}') as ModuleUpload
  const source = body.source?.path ?? body.source?.wat ?? (body.source?.base64 !== undefined ? Buffer.from(body.source.base64, 'base64') : undefined)
  if (source === undefined) return errorResponse(400, 'CONFIG', 'source: give { path }, { wat } or { base64 }')
  const where: Attachment | null = body.attach?.route ? { route: body.attach.route } : body.attach?.middleware ? { middleware: true } : null
  if (!where) return errorResponse(400, 'CONFIG', "attach: give { route: '/path/*' } or { middleware: true }")
  const entry = await table.add(body.name ?? randomUUID(), where, loadModule(where, source, body.policy ?? {}))
  return Response.json({ id: entry.id }, { status: 201 })
}

function adminError(error: unknown): Response {
  if (error instanceof PayloadTooLarge) return errorResponse(413, 'PAYLOAD_TOO_LARGE', 'module uploads are limited to 64 MiB')
  if (error instanceof SyntaxError) return errorResponse(400, 'CONFIG', `the body is not JSON: ${error.message}`)
  if (error instanceof SandboxError) return errorResponse(400, error.code, error.message)
  return errorResponse(500, 'INTERNAL', 'internal error')
}

const round = (ms: number) => Math.round(ms * 1000) / 1000
