import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHandler, serve, type Server } from 'wasm-sandbox/http'
import { cGuest } from '../support/c-guests.js'

// The example guests of test/fixtures/http, compiled from C with clang as a user would.
const HANDLER = cGuest('http/handler.c'), AUTH = cGuest('http/auth.c'), RATELIMIT = cGuest('http/ratelimit.c'), HEADERS = cGuest('http/headers.c')

describe('createHandler', () => {
  it('is a fetch-style handler: the guest echoes the body', async () => {
    const handler = createHandler(HANDLER)
    await handler.ready
    const response = await handler(new Request('http://x/api/echo', { method: 'POST', body: 'héllo body' }))
    expect(response.status).toBe(200)
    expect(response.headers.get('x-guest')).toBe('echo')
    expect(await response.text()).toBe('héllo body')
    await handler.close()
  })

  it('maps a malformed guest reply to 502 and a trap to 500, with a JSON error body', async () => {
    const handler = createHandler(HANDLER)
    const bad = await handler(new Request('http://x/api/bad'))
    expect(bad.status).toBe(502)
    expect((await bad.json()).error.code).toBe('BAD_GUEST_REPLY')
    const trap = await handler(new Request('http://x/api/trap'))
    expect(trap.status).toBe(500)
    expect(await trap.json()).toMatchObject({ error: { code: 'TRAP' } })
    await handler.close()
  })
})

describe('serve', () => {
  let server: Server
  beforeAll(async () => {
    server = await serve({
      routes: {
        '/api/*': { source: HANDLER, options: { timeout: '300ms', fuel: 'unlimited', max: 2 } },
        '/limited/*': { source: HANDLER },
      },
      middleware: [AUTH, HEADERS],
      bodyLimit: '1KB',
    })
  })
  afterAll(() => server.close())
  const get = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { ...init, headers: { 'x-api-key': 'secret', ...init.headers } })

  it('serves routes through the middleware chain (auth, then the response rewriter)', async () => {
    const ok = await get('/api/echo', { method: 'POST', body: 'ping' })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toBe('ping')
    expect(ok.headers.get('x-powered-by')).toBe('wasm-sandbox')
    expect(ok.headers.get('x-guest')).toBe('rewritten')
    const denied = await fetch(`${server.url}/api/echo`)
    expect(denied.status).toBe(401)
    expect(await denied.text()).toBe('unauthorized')
  })

  it('answers /health, 404 for unknown paths, 413 beyond the body limit', async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: 'ok' })
    expect((await get('/nowhere')).status).toBe(404)
    const big = await get('/api/echo', { method: 'POST', body: 'x'.repeat(2000) })
    expect(big.status).toBe(413)
  })

  it('ends a guest that loops forever with 504 within its timeout, and keeps serving', async () => {
    const slow = await get('/api/loop')
    expect(slow.status).toBe(504)
    expect((await slow.json()).error.code).toBe('TIMEOUT')
    expect((await get('/api/echo', { method: 'POST', body: 'still here' })).status).toBe(200)
  })

  it('keeps state in a guest middleware: the rate limiter', async () => {
    const limited = await serve({ routes: { '/*': HANDLER }, middleware: [{ source: RATELIMIT, options: { max: 1 } }] })
    const statuses = []
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${limited.url}/x`, { method: 'POST', body: 'b' })).status)
    expect(statuses).toEqual([200, 200, 200, 429, 429])
    await limited.close()
  })

  it('fails to start with the module error when a route cannot load', async () => {
    await expect(serve({ routes: { '/': '(module (func (result i32) i64.const 1))' } })).rejects.toMatchObject({ code: 'INVALID_MODULE' })
  })
})

describe('admin API', () => {
  const TOKEN = 'test-token-0123456789'
  const auth = { authorization: `Bearer ${TOKEN}` }

  it('adds, lists and removes modules at run time without dropping in-flight requests', async () => {
    const server = await serve({ routes: { '/api/*': HANDLER }, admin: { token: TOKEN } })
    expect(server.admin!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const admin = (path: string, init: RequestInit = {}) => fetch(`${server.admin!.url}${path}`, { ...init, headers: { ...auth, ...init.headers } })
    expect((await fetch(`${server.admin!.url}/modules`)).status).toBe(401)
    expect((await fetch(`${server.admin!.url}/modules`, { headers: { authorization: 'Bearer wrong-token-0123456' } })).status).toBe(401)

    // A load loop runs through every change below; no request may fail.
    let stop = false
    const statuses: number[] = []
    const loop = (async () => {
      while (!stop) statuses.push((await fetch(`${server.url}/api/echo`, { method: 'POST', body: 'load', headers: { 'x-api-key': 'secret' } })).status)
    })()

    const { readFileSync } = await import('node:fs')
    const added = await admin('/modules', { method: 'POST', body: JSON.stringify({ name: 'echo-v2', source: { base64: readFileSync(HANDLER).toString('base64') }, attach: { route: '/v2/*' }, policy: { max: 1 } }) })
    expect(added.status).toBe(201)
    const { id } = (await added.json()) as { id: string }
    expect(await (await fetch(`${server.url}/v2/x`, { method: 'POST', body: 'new route' })).text()).toBe('new route')

    const mw = await admin('/modules', { method: 'POST', body: JSON.stringify({ name: 'headers', source: { path: HEADERS }, attach: { middleware: true } }) })
    expect(mw.status).toBe(201)
    expect((await fetch(`${server.url}/api/echo`, { method: 'POST', body: 'x' })).headers.get('x-powered-by')).toBe('wasm-sandbox')

    const list = (await (await admin('/modules')).json()) as { id: string; name: string; executions: number; successful: number; failed: number; averageMs: number }[]
    expect(list.map((m) => m.name)).toEqual([HANDLER, 'echo-v2', 'headers'])
    expect(list[0]!.executions).toBeGreaterThan(0)
    expect(list[0]!.failed).toBe(0)
    expect(list[1]).toMatchObject({ executions: 1, successful: 1, failed: 0 })

    expect((await admin(`/modules/${(await mw.json() as { id: string }).id}`, { method: 'DELETE' })).status).toBe(204)
    expect((await admin(`/modules/${id}`, { method: 'DELETE' })).status).toBe(204)
    expect((await fetch(`${server.url}/v2/x`)).status).toBe(404)
    expect((await admin('/modules/nope', { method: 'DELETE' })).status).toBe(404)

    stop = true
    await loop
    expect(statuses.length).toBeGreaterThan(5)
    expect(new Set(statuses)).toEqual(new Set([200]))
    expect((await admin('/modules', { method: 'POST', body: JSON.stringify({ source: { wat: '(module' }, attach: { route: '/bad' } }) })).status).toBe(400)
    await server.close()
  })

  it('refuses to start the admin API without a real token', async () => {
    await expect(serve({ routes: { '/': HANDLER }, admin: { token: 'short' } })).rejects.toMatchObject({ code: 'CONFIG' })
  })
})
