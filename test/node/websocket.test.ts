import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { serve, type Server } from 'wasm-sandbox/http'
import { cGuest } from '../support/c-guests.js'

// test/fixtures/ws/room.c, compiled with clang as a user would.
const ROOM = cGuest('ws/room.c')

/** A client that collects what it receives. */
function connect(url: string): Promise<{ ws: WebSocket; frames: { data: string | Buffer; binary: boolean }[]; next(): Promise<{ data: string | Buffer; binary: boolean }>; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url)
  const frames: { data: string | Buffer; binary: boolean }[] = []
  const waiters: ((f: { data: string | Buffer; binary: boolean }) => void)[] = []
  ws.on('message', (data: Buffer, binary) => {
    const frame = { data: binary ? data : data.toString('utf8'), binary }
    const waiter = waiters.shift()
    if (waiter) waiter(frame)
    else frames.push(frame)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, frames, closed, next: () => (frames.length ? Promise.resolve(frames.shift()!) : new Promise((r) => waiters.push(r))) }))
    ws.once('error', reject)
  })
}

describe('WebSocket routes', () => {
  let server: Server
  beforeAll(async () => {
    server = await serve({
      routes: {},
      websockets: {
        '/ws/:room': { source: ROOM, options: { max: 8, timeout: '500ms' } },
        '/strict/:room': { source: ROOM, options: { max: 2 }, errorLimit: 2 },
      },
    })
  })
  afterAll(() => server?.close())
  const url = (path: string) => `${server.url.replace('http', 'ws')}${path}`

  it('greets with the room parameter and echoes text and binary frames in order', async () => {
    const c = await connect(url('/ws/lobby'))
    expect((await c.next()).data).toBe('welcome to lobby')
    c.ws.send('hello')
    c.ws.send('world')
    expect((await c.next()).data).toBe('1:hello')
    expect((await c.next()).data).toBe('2:world')
    c.ws.send(Buffer.from([0, 1, 2, 255]))
    const binary = await c.next()
    expect(binary.binary).toBe(true)
    expect([...(binary.data as Buffer)]).toEqual([0, 1, 2, 255])
    c.ws.close()
    await c.closed
  })

  it('every connection has its own fresh sandbox: the message counter starts again', async () => {
    const [a, b] = await Promise.all([connect(url('/ws/a')), connect(url('/ws/b'))])
    await Promise.all([a.next(), b.next()])
    a.ws.send('x'); a.ws.send('y'); b.ws.send('z')
    expect([(await a.next()).data, (await a.next()).data, (await b.next()).data]).toEqual(['1:x', '2:y', '1:z'])
    a.ws.close(); b.ws.close()
    await Promise.all([a.closed, b.closed])
    const again = await connect(url('/ws/a')) // probably on a's old sandbox: reset to a fresh instance
    await again.next()
    again.ws.send('again')
    expect((await again.next()).data).toBe('1:again')
    again.ws.close()
  })

  it('a trapping message gets a JSON error frame and the connection stays', async () => {
    const c = await connect(url('/ws/t'))
    await c.next()
    c.ws.send('trap')
    const error = JSON.parse((await c.next()).data as string)
    expect(error.error.code).toBe('TRAP')
    c.ws.send('still here')
    expect((await c.next()).data).toBe('1:still here')
    c.ws.close()
  })

  it('errorLimit traps in a row close the connection with 1011', async () => {
    const c = await connect(url('/strict/r'))
    await c.next()
    c.ws.send('trap')
    c.ws.send('trap')
    expect(JSON.parse((await c.next()).data as string).error.code).toBe('TRAP')
    const closed = await c.closed
    expect(closed.code).toBe(1011)
    expect(closed.reason).toMatch(/^TRAP/)
  })

  it('a runaway guest is stopped by its timeout and the connection closed with 1011; the server keeps serving', async () => {
    const c = await connect(url('/ws/loop'))
    await c.next()
    c.ws.send('loop')
    const closed = await c.closed
    expect(closed.code).toBe(1011)
    expect(closed.reason).toMatch(/^TIMEOUT/)
    const d = await connect(url('/ws/after'))
    expect((await d.next()).data).toBe('welcome to after')
    d.ws.close()
  })

  it('an unknown path is refused', async () => {
    await expect(connect(url('/nope'))).rejects.toThrow(/404/)
  })

  it('500 concurrent connections exchanging 20 messages each: none lost, all in order', async () => {
    const CONNECTIONS = 500, MESSAGES = 20
    const results = await Promise.all(Array.from({ length: CONNECTIONS }, async (_, i) => {
      const c = await connect(url(`/ws/r${i}`))
      const greeting = (await c.next()).data
      const replies: string[] = []
      for (let m = 0; m < MESSAGES; m++) c.ws.send(`c${i}m${m}`)
      for (let m = 0; m < MESSAGES; m++) replies.push((await c.next()).data as string)
      c.ws.close()
      await c.closed
      return { greeting, replies, i }
    }))
    for (const { greeting, replies, i } of results) {
      expect(greeting).toBe(`welcome to r${i}`)
      expect(replies).toEqual(Array.from({ length: MESSAGES }, (_, m) => `${m + 1}:c${i}m${m}`))
    }
  }, 120_000)
})

it('a WebSocket module without on_message is refused at serve()', async () => {
  const wat = '(module (memory (export "memory") 1) (func (export "alloc") (param i32) (result i32) (i32.const 0)))'
  await expect(serve({ routes: {}, websockets: { '/ws': wat } })).rejects.toMatchObject({ code: 'LINK_ERROR' })
})
