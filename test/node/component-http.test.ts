import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { expectDenied, mockNetwork, testPolicy } from 'wasm-sandbox/testing'

import { starlingCommand } from '../support/components.js'
import { rejectsWith } from './helpers.js'

// Outgoing HTTP from a real component: fetch() in StarlingMonkey (componentize-js) goes
// through wasi:http/outgoing-handler; the sandbox fetches on the host while the guest waits.
describe('components: outgoing HTTP (wasi:http) under network.allow', () => {
  let bytes: Uint8Array
  beforeAll(async () => {
    bytes = await starlingCommand(await readFile(new URL('../fixtures/components/fetcher.js', import.meta.url), 'utf8'))
  }, 180_000)
  const wasi = { clock: true, random: true }

  it('is LINK_ERROR without network.allow', async () => {
    const error = await rejectsWith(Sandbox.create(bytes, { wasi }), 'LINK_ERROR')
    expect(error.imports).toEqual(expect.arrayContaining(['wasi:http/outgoing-handler']))
  })

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
