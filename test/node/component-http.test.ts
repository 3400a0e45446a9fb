import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HTTP_HANDLER } from 'wasm-sandbox/core'
import { Sandbox } from 'wasm-sandbox'
import { serve } from 'wasm-sandbox/http'
import { expectDenied, mockNetwork, testPolicy } from 'wasm-sandbox/testing'
import { cGuest } from '../support/c-guests.js'
import { starlingComponent } from '../support/components.js'

// Outgoing HTTP from a real component: fetch() in StarlingMonkey (componentize-js) goes
// through wasi:http/outgoing-handler; the sandbox fetches on the host while the guest waits.
describe('components: outgoing HTTP (wasi:http) under network.allow', () => {
  let bytes: Uint8Array
  beforeAll(async () => {
    bytes = await starlingComponent(await readFile(new URL('../fixtures/components/fetcher.js', import.meta.url), 'utf8'), 'command')
  }, 180_000)
  const wasi = { clock: true, random: true }

  it('without network.allow every request is denied (HTTP links with wasi: toolchains import the client regardless)', async () => {
    const sb = await Sandbox.create(bytes, { wasi, timeout: '10s' })
    try {
      const out = await sb.runCommand()
      expect(out.stdout).toMatch(/^GET error /)
      expectDenied(sb, { capability: 'network', detail: 'api.example.com is not in network.allow' })
    } finally {
      await sb.close()
    }
  }, 60_000)

  it('mock responses from wasm-sandbox/testing: the guest gets them, the test sees its requests', async () => {
    const net = mockNetwork({
      'api.example.com:80': (request) => request.method === 'POST'
        ? { status: 201, body: `echo:${new TextDecoder().decode(request.body ?? new Uint8Array())}` }
        : { status: 203, headers: { 'x-mock': 'yes' }, body: 'mocked body' },
    })
    const sb = await Sandbox.create(bytes, testPolicy({ ...wasi, network: net }, { timeout: '10s' }))
    try {
      const out = await sb.runCommand()
      expect(out.exitCode).toBe(0)
      expect(out.stdout).toBe('GET 203 yes mocked body\nPOST 201 - echo:ping\n')
      expect(net.requests.map((r) => [r.method, r.url])).toEqual([['GET', 'http://api.example.com/data'], ['POST', 'http://api.example.com/echo']])
      expect(new TextDecoder().decode(net.requests[1]!.body!)).toBe('ping')
    } finally {
      await sb.close()
    }
  }, 60_000)

  it('a host outside network.allow is denied: an error for the guest, an audit event for us', async () => {
    const sb = await Sandbox.create(bytes, testPolicy({ ...wasi, network: { 'other.example.com:80': { body: 'never' } } }, { timeout: '10s' }))
    try {
      const out = await sb.runCommand()
      expect(out.stdout).toMatch(/^GET error /)
      expect(out.stdout).not.toContain('never')
      expectDenied(sb, { capability: 'network', detail: 'api.example.com is not in network.allow' })
    } finally {
      await sb.close()
    }
  }, 60_000)

  it('a redirect to another host does not get around the allow-list', async () => {
    const net = mockNetwork({ 'api.example.com:80': { status: 302, headers: { location: 'http://evil.example.com/steal' } } })
    const sb = await Sandbox.create(bytes, testPolicy({ ...wasi, network: net }, { timeout: '10s' }))
    try {
      const out = await sb.runCommand()
      // The host never follows a redirect: the guest sees the 302 (and fetch in this guest stops there).
      expect(out.stdout).toBe('GET 302 - \nPOST 302 - \n')
      expect(net.requests.every((r) => r.url.startsWith('http://api.example.com/'))).toBe(true)
    } finally {
      await sb.close()
    }
  }, 60_000)

  describe('real HTTP on 127.0.0.1', () => {
    let server: Server
    let port = 0
    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = ''
        req.on('data', (c) => { body += c })
        req.on('end', () => res.writeHead(200, { 'x-mock': 'real' }).end(`${req.method} ${req.url} ${body}`))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      port = (server.address() as { port: number }).port
    })
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

    it('the host performs the request with its own fetch', async () => {
      // The guest asks for api.example.com; the host's fetch (a one-line proxy) sends it to our server.
      const sb = await Sandbox.create(bytes, {
        wasi, timeout: '10s',
        network: { allow: ['api.example.com:80'], fetch: (url, init) => fetch(url.replace('api.example.com', `127.0.0.1:${port}`), init as RequestInit) },
      })
      try {
        const out = await sb.runCommand()
        expect(out.stdout).toBe('GET 200 real GET /data \nPOST 200 real POST /echo ping\n')
      } finally {
        await sb.close()
      }
    }, 60_000)
  })
})

describe('components: wasi:http/incoming-handler (a fetch event listener in StarlingMonkey)', () => {
  let bytes: Uint8Array
  beforeAll(async () => {
    bytes = await starlingComponent(await readFile(new URL('../fixtures/components/http-handler.js', import.meta.url), 'utf8'), 'http-handler')
  }, 180_000)
  const wasi = { clock: true, random: true }

  it('is called with a plain request and answers a plain response, one fresh instance per request', async () => {
    const sb = await Sandbox.create(bytes, { wasi, timeout: '10s' })
    try {
      expect(sb.exports().map((e) => e.name)).toEqual([HTTP_HANDLER])
      const get = await sb.call(HTTP_HANDLER, { method: 'GET', url: 'http://x/hello?a=1', headers: { 'x-test': 'yes' } }) as { status: number; headers: [string, string][]; body: Uint8Array }
      expect(get.status).toBe(200)
      expect(new TextDecoder().decode(get.body)).toBe('GET /hello?a=1 #1 ')
      expect(get.headers).toEqual(expect.arrayContaining([['x-seen-header', 'yes'], ['x-handler', 'starlingmonkey']]))
      const post = await sb.call(HTTP_HANDLER, { method: 'POST', url: 'http://x/created', headers: [], body: 'payload' }) as { status: number; body: Uint8Array }
      expect(post.status).toBe(201)
      expect(new TextDecoder().decode(post.body)).toBe('POST /created #1 payload') // #1: a fresh instance
    } finally {
      await sb.close()
    }
  }, 60_000)

  it('serve() routes to it, behind core-module middleware; a throwing handler is a 500', async () => {
    const authWasm = cGuest('http/auth.c')
    const server = await serve({ routes: { '/*': { source: bytes, options: { wasi, max: 1, timeout: '10s' } } }, middleware: [authWasm] })
    try {
      const ok = await fetch(`${server.url}/items?page=2`, { headers: { 'x-api-key': 'secret', 'x-test': 'T' } })
      expect(ok.status).toBe(200)
      expect(ok.headers.get('x-seen-header')).toBe('T')
      expect(await ok.text()).toBe('GET /items?page=2 #1 ')
      const posted = await fetch(`${server.url}/created`, { method: 'POST', body: 'data', headers: { 'x-api-key': 'secret' } })
      expect([posted.status, await posted.text()]).toEqual([201, 'POST /created #1 data'])
      expect((await fetch(`${server.url}/items`)).status).toBe(401) // the middleware runs first
      expect((await fetch(`${server.url}/boom`, { headers: { 'x-api-key': 'secret' } })).status).toBe(500)
    } finally {
      await server.close()
    }
  }, 60_000)
})
