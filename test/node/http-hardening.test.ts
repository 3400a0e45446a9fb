import { spawn } from 'node:child_process'
import { connect as tcpConnect, type Socket } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createHandler, serve, type Server } from 'wasm-sandbox/http'

// Hostile HTTP clients and guests from issue 18 (items 1, 2, 3, 7, 8), against a real
// server on 127.0.0.1: each gets its exact status or close code, the server serves the next
// client, no rejection goes unhandled, and the host's heap and event loop stay bounded.

const MiB = 2 ** 20
const hostBytes = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }

/** Every byte as a WAT string escape. */
const watString = (text: string) => [...Buffer.from(text)].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('')

/** A route (or middleware) guest whose every export replies with `json`. */
const fixedReply = (json: unknown, exports = ['handle']) => {
  const text = JSON.stringify(json)
  return `(module
    (memory (export "memory") 2)
    (data (i32.const 0) "${watString(text)}")
    (func (export "alloc") (param i32) (result i32) (i32.const 65536))
    ${exports.map((name) => `(func (export "${name}") (param i32 i32) (result i64) (i64.const ${Buffer.byteLength(text)}))`).join('\n')})`
}
const ok = fixedReply({ status: 200, headers: { 'x-ok': 'yes' }, body: Buffer.from('fine').toString('base64') })
/** Replies with 8 MiB of zeros: past the HTTP default of 4 MiB. */
const huge = `(module (memory (export "memory") 130) (func (export "alloc") (param i32) (result i32) (i32.const 0))
  (func (export "handle") (param i32 i32) (result i64) (i64.const ${8 * MiB})))`

/** Sends raw bytes; resolves with what the server answered before closing (or `timeoutMs`). */
function raw(port: number, request: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1')
    let answer = ''
    const timer = setTimeout(() => { socket.destroy(); resolve(answer) }, timeoutMs)
    socket.on('data', (d) => { answer += d.toString('latin1'); if (/\r\n\r\n/.test(answer) && !/upgrade/i.test(request)) { clearTimeout(timer); socket.destroy(); resolve(answer) } })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
    socket.write(request)
  })
}
/**
 * What this process holds (heap, and `external`: replies reach it as buffers transferred from
 * the workers), after a full GC so that only what is still referenced counts.
 */
function held(): number {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)

describe('serve(): hostile replies and paths (items 1, 2, 7)', () => {
  let server: Server
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => { unhandled.push(reason) }
  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled)
    server = await serve({
      routes: {
        '/ok': ok,
        '/crlf': fixedReply({ status: 200, headers: { 'x-evil': 'a\r\nSet-Cookie: pwned=1' }, body: '' }),
        '/lf': fixedReply({ status: 200, headers: { 'x-lf': 'a\nb' }, body: '' }),
        '/badname': fixedReply({ status: 200, headers: { 'bad name': 'v' }, body: '' }),
        '/nul': fixedReply({ status: 200, headers: { 'x-nul': 'a\u0000b' }, body: '' }),
        '/wide': fixedReply({ status: 200, headers: { 'x-wide': '€' }, body: '' }),
        '/huge': huge,
      },
      websockets: { '/ws/:room': { source: fixedReply({}, ['on_message']) } },
      admin: { token: 'a-token-of-sixteen-chars' },
    })
  })
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled)
    await server?.close()
  })

  it('a guest header with CR/LF, a bad name, NUL or a wide char is a 502 JSON error naming it; the server serves on', async () => {
    for (const [path, name] of [['/crlf', 'x-evil'], ['/lf', 'x-lf'], ['/badname', 'bad name'], ['/nul', 'x-nul'], ['/wide', 'x-wide']] as const) {
      const response = await fetch(`${server.url}${path}`)
      expect(response.status, path).toBe(502)
      expect(response.headers.get('set-cookie')).toBeNull()
      const body = await response.json()
      expect(body.error.code).toBe('BAD_GUEST_REPLY')
      expect(body.error.message).toContain(JSON.stringify(name))
      const next = await fetch(`${server.url}/ok`)
      expect(next.status).toBe(200)
      expect(await next.text()).toBe('fine')
    }
    await new Promise((r) => setTimeout(r, 50))
    expect(unhandled).toEqual([])
  })

  it('a middleware setting a bad response header is a 502 too, and createHandler answers the same', async () => {
    const badLayer = fixedReply({ action: 'modify', headers: { 'x-mw': 'v\r\nx: y' } }, ['on_response'])
    const handler = createHandler(ok, { middleware: [badLayer] })
    const response = await handler(new Request('http://x/anything'))
    expect(response.status).toBe(502)
    expect((await response.json()).error.message).toContain('"x-mw"')
    const direct = createHandler(fixedReply({ status: 200, headers: { 'x-evil': 'a\r\nb' }, body: '' }))
    expect((await direct(new Request('http://x/'))).status).toBe(502)
    expect((await direct(new Request('http://x/%zz'))).status).toBe(400)
    await Promise.all([handler.close(), direct.close()])
  })

  it('an 8 MiB reply is 502 OUTPUT_LIMIT (HTTP default maxReplyBytes 4 MiB), refused before it reaches the host', async () => {
    const before = hostBytes()
    const response = await fetch(`${server.url}/huge`)
    expect(response.status).toBe(502)
    expect((await response.json()).error.code).toBe('OUTPUT_LIMIT')
    expect(hostBytes() - before).toBeLessThan(32 * MiB)
    expect((await fetch(`${server.url}/ok`)).status).toBe(200)
  })

  it('malformed percent-encoding is a 400 on every listener: HTTP, WebSocket upgrade, admin; so are bad targets and hosts', async () => {
    const port = server.port
    const adminPort = server.admin!.port
    const upgrade = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`
    const cases: [number, string, number][] = [
      [port, 'GET /ok%zz HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [port, 'GET /%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [port, 'POST /ok/%ff%fe HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi', 400],
      [port, upgrade('/ws/%zz'), 400],
      [port, upgrade('/ws/%E0%A4%A'), 400],
      [port, upgrade('/nowhere/%zz'), 400],
      [port, upgrade('/ws/lobby/..%2f%zz'), 400],
      [adminPort, 'GET /modules/%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a-token-of-sixteen-chars\r\n\r\n', 400],
      [adminPort, 'DELETE /modules/%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a-token-of-sixteen-chars\r\n\r\n', 400],
      [port, 'GET /ok HTTP/1.1\r\nHost: a b\r\n\r\n', 200], // an invalid Host falls back to the server's
      [port, 'GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [port, 'GARBAGE\r\n\r\n', 400],
    ]
    for (const [to, request, status] of cases) expect(statusOf(await raw(to, request)), request.split('\r\n')[0]).toBe(status)
    // A Host header cannot move the path the router sees.
    expect(statusOf(await raw(port, 'GET /ok HTTP/1.1\r\nHost: x/crlf\r\n\r\n'))).toBe(200)
    expect((await fetch(`${server.url}/ok`)).status).toBe(200)
    expect(unhandled).toEqual([])
  })
})

describe('response cache bounded in bytes (client-chosen keys)', () => {
  it('a reply larger than cache.maxBytes is served but not kept; smaller ones are', async () => {
    const big = fixedReply({ status: 200, headers: {}, body: Buffer.alloc(4096, 7).toString('base64') })
    const server = await serve({ routes: { '/big': { source: big, cache: { ttl: '1h', maxBytes: '4KB' } }, '/small': { source: ok, cache: { ttl: '1h', maxBytes: '4KB' } } }, admin: { token: 'a-token-of-sixteen-chars' } })
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${server.url}/big?i=${i}`)).status).toBe(200)
      expect((await fetch(`${server.url}/small?i=${i}`)).status).toBe(200)
    }
    const modules = await (await fetch(`${server.admin!.url}/modules`, { headers: { authorization: 'Bearer a-token-of-sixteen-chars' } })).json()
    expect(modules.map((m: { cache: { entries: number } }) => m.cache.entries)).toEqual([0, 3])
    await server.close()
  })
})

describe('WebSocket inbox bounds (item 3)', () => {
  // on_message burns ~a few ms and replies nothing; alloc reuses one buffer.
  const slow = `(module
    (memory (export "memory") 40)
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "on_message") (param i32 i32) (result i64) (local $i i32)
      (local.set $i (i32.const 1000000))
      (loop $l (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
      (i64.const 0)))`
  let server: Server
  beforeAll(async () => {
    server = await serve({
      routes: {},
      websockets: {
        '/slow': { source: slow, options: { fuel: 'unlimited' } },
        '/tight': { source: slow, options: { fuel: 'unlimited' }, maxQueuedMessages: 16, maxMessageBytes: '64KB' },
      },
    })
  })
  afterAll(() => server?.close())
  const url = (path: string) => `${server.url.replace('http', 'ws')}${path}`

  /** A flooding client in its own process (so its send buffers are not counted as ours). */
  function flood(path: string, count: number, bytes: number): Promise<{ code: number; sent: number }> {
    const script = `
      import WebSocket from 'ws'
      const ws = new WebSocket(${JSON.stringify(url(path))})
      ws.on('error', () => {})
      ws.on('open', () => {
        const chunk = Buffer.alloc(${bytes}, 1)
        for (let i = 0; i < ${count}; i++) ws.send(chunk)
        // Once all is handed to TCP, close: the server reads the close frame after every message.
        const sent = setInterval(() => { if (ws.bufferedAmount === 0) { clearInterval(sent); ws.close(1000) } }, 10)
      })
      ws.on('close', (code) => { console.log(JSON.stringify({ code })); process.exit(0) })
      setTimeout(() => { console.log(JSON.stringify({ code: -1 })); process.exit(0) }, 30000)`
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d) => { out += d })
      child.on('exit', () => { try { resolve({ ...JSON.parse(out), sent: count }) } catch (error) { reject(error) } })
    })
  }

  it('a client sending 128 MiB as fast as it can is pushed back (socket paused): the host holds a bounded amount, nothing is dropped', async () => {
    const histogram = monitorEventLoopDelay({ resolution: 10 })
    histogram.enable()
    const before = hostBytes()
    let peak = 0
    const sampler = setInterval(() => { peak = Math.max(peak, hostBytes() - before) }, 20)
    // 256 messages of 512 KiB; the guest takes a few ms each, so most wait.
    const result = await flood('/slow', 256, 512 * 1024)
    clearInterval(sampler)
    histogram.disable()
    expect(result.code).toBe(1000) // pushed back (paused), not dropped: the client's own close came after all of it
    expect(peak).toBeLessThan(96 * MiB) // the default inbox is 4 MiB; unbounded it was ~all of 128 MiB
    expect(histogram.max / 1e6).toBeLessThan(2000)
    const c = new WebSocket(url('/tight'))
    await new Promise((resolve, reject) => { c.once('open', resolve); c.once('error', reject) })
    c.close()
  })

  it('an idle connection gives its sandbox back after idleTimeout (1000, "idle timeout")', async () => {
    const idleServer = await serve({ routes: {}, websockets: { '/idle': { source: slow, options: { max: 1 }, idleTimeout: '300ms' } } })
    const wsUrl = `${idleServer.url.replace('http', 'ws')}/idle`
    const first = new WebSocket(wsUrl)
    const closed = new Promise<{ code: number; reason: string }>((r) => first.on('close', (code, reason) => r({ code, reason: reason.toString() })))
    const second = new WebSocket(wsUrl) // waits for the only sandbox
    await new Promise((resolve, reject) => { second.once('open', resolve); second.once('error', reject) })
    expect(await closed).toEqual({ code: 1000, reason: 'idle timeout' })
    second.send('served after the idle one left')
    second.close()
    await idleServer.close()
  })

  it('a client that sends but never reads: replies wait for it within maxQueuedBytes, and all arrive once it reads', async () => {
    // on_message replies with 1 MiB of zeros to every message.
    const amplify = `(module (memory (export "memory") 20) (func (export "alloc") (param i32) (result i32) (i32.const 0))
      (func (export "on_message") (param i32 i32) (result i64) (i64.const ${MiB})))`
    const ampServer = await serve({ routes: {}, websockets: { '/amp': { source: amplify } } })
    const script = `
      import WebSocket from 'ws'
      const ws = new WebSocket(${JSON.stringify(`${ampServer.url.replace('http', 'ws')}/amp`)})
      let got = 0
      ws.on('error', () => {})
      ws.on('open', () => {
        ws.pause() // reads nothing for 4 s
        for (let i = 0; i < 150; i++) ws.send('x')
        console.log('sent')
        setTimeout(() => ws.resume(), 4000)
      })
      ws.on('message', () => { if (++got === 150) ws.close(1000) })
      ws.on('close', (code) => { console.log(JSON.stringify({ code, got })); process.exit(0) })
      setTimeout(() => { console.log(JSON.stringify({ code: -1, got })); process.exit(0) }, 60000)`
    const before = held()
    let during = 0
    const result = await new Promise<{ code: number; got: number }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d) => {
        out += d
        if (out.startsWith('sent\n') && during === 0) setTimeout(() => { during = held() - before }, 2000)
      })
      child.on('exit', () => { try { resolve(JSON.parse(out.slice('sent\n'.length))) } catch (error) { reject(error) } })
    })
    expect(result).toEqual({ code: 1000, got: 150 }) // nothing dropped
    expect(during).toBeLessThan(32 * MiB) // unbounded, the 150 MiB of replies piled up here
    await ampServer.close()
  })

  it('many small frames at once past maxQueuedMessages: closed with 1008; a message past maxMessageBytes: 1009', async () => {
    expect((await flood('/tight', 5000, 8)).code).toBe(1008)
    expect((await flood('/tight', 1, 65 * 1024)).code).toBe(1009)
    const c = new WebSocket(url('/tight'))
    await new Promise((resolve, reject) => { c.once('open', resolve); c.once('error', reject) })
    c.send('still served')
    c.close()
  })
})

describe('serve(): a client that pipelines requests and reads nothing', () => {
  it('gets one reply at a time: the host does not build and hold the rest; all arrive once it reads', async () => {
    // `handle` replies with a ~1 MiB body: {"status":200,"body":"AAAA…"}.
    const body = 1_398_100 // base64 characters (a multiple of 4)
    const head = '{"status":200,"body":"'
    const large = `(module (memory (export "memory") 40)
      (data (i32.const 0) "${watString(head)}")
      (data (i32.const ${head.length + body}) "${watString('"}')}")
      (func (export "alloc") (param i32) (result i32) (i32.const ${2 * MiB}))
      (func (export "handle") (param i32 i32) (result i64)
        (memory.fill (i32.const ${head.length}) (i32.const 65) (i32.const ${body}))
        (i64.const ${head.length + body + 2})))`
    const server = await serve({ routes: { '/large': { source: large } } })
    const before = held()
    const socket = tcpConnect(server.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.pause() // reads nothing
    socket.write('GET /large HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100))
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const during = held() - before
    const statuses: string[] = []
    let tail = ''
    await new Promise<void>((resolve) => {
      socket.on('data', (chunk) => {
        const text = tail + chunk.toString('latin1')
        for (const m of text.matchAll(/HTTP\/1\.1 (\d{3})/g)) statuses.push(m[1]!)
        tail = text.slice(-11) // shorter than a status line: never counted twice
        if (statuses.length === 100) resolve()
      })
      socket.on('close', () => resolve())
      socket.resume()
    })
    socket.destroy()
    expect(statuses).toEqual(Array(100).fill('200')) // served, in turn
    expect(during).toBeLessThan(32 * MiB) // unbounded, ~140 MiB of replies were held for this client
    await server.close()
  })
})

describe('serve(): slow and many clients (item 8)', () => {
  let server: Server
  beforeAll(async () => {
    server = await serve({ routes: { '/ok': ok }, headersTimeout: '1s', requestTimeout: '2s', maxConnections: 300 })
  })
  afterAll(() => server?.close())

  it('200 slow clients holding connections do not stop a normal client; headersTimeout closes them', async () => {
    const histogram = monitorEventLoopDelay({ resolution: 10 })
    histogram.enable()
    const closedAt: number[] = []
    const started = Date.now()
    const sockets: Socket[] = []
    for (let i = 0; i < 200; i++) {
      const socket = tcpConnect(server.port, '127.0.0.1')
      socket.on('error', () => {})
      socket.on('close', () => closedAt.push(Date.now() - started))
      socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n') // headers never finished
      sockets.push(socket)
    }
    // Each dribbles a header byte every 200 ms, at most 50 times (bounded: the test stops by itself).
    const drip = setInterval(() => { for (const s of sockets) if (!s.destroyed) s.write('X') }, 200)
    try {
      await new Promise((r) => setTimeout(r, 300))
      const t0 = Date.now()
      const response = await fetch(`${server.url}/ok`)
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('fine')
      expect(Date.now() - t0).toBeLessThan(3000)
      // All slow clients are gone within the headers timeout plus checking slack, far before the drip would end.
      for (let i = 0; i < 100 && closedAt.length < 200; i++) await new Promise((r) => setTimeout(r, 100))
      expect(closedAt.length).toBe(200)
      expect(Math.max(...closedAt)).toBeLessThan(8000)
      expect(histogram.max / 1e6).toBeLessThan(2000)
      expect((await fetch(`${server.url}/ok`)).status).toBe(200)
    } finally {
      clearInterval(drip)
      histogram.disable()
      for (const s of sockets) s.destroy()
    }
  })

  it('connections past maxConnections are closed at once; the server serves again when they go', async () => {
    const capped = await serve({ routes: { '/ok': ok }, maxConnections: 20 })
    const sockets = Array.from({ length: 20 }, () => {
      const s = tcpConnect(capped.port, '127.0.0.1')
      s.on('error', () => {})
      return s
    })
    await Promise.all(sockets.map((s) => new Promise((r) => s.once('connect', r))))
    await new Promise((r) => setTimeout(r, 100))
    expect(statusOf(await raw(capped.port, 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n', 2000))).toBe(0) // refused: closed without a reply
    for (const s of sockets) s.destroy()
    await new Promise((r) => setTimeout(r, 100))
    expect((await fetch(`${capped.url}/ok`)).status).toBe(200)
    await capped.close()
  })

  it('bad timeout and cap options fail serve() with CONFIG', async () => {
    await expect(serve({ routes: { '/ok': ok }, headersTimeout: '5s', requestTimeout: '1s' })).rejects.toMatchObject({ code: 'CONFIG', field: 'headersTimeout' })
    await expect(serve({ routes: { '/ok': ok }, maxConnections: 0 })).rejects.toMatchObject({ code: 'CONFIG', field: 'maxConnections' })
  })
})
