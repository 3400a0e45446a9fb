import { describe, expect, it } from 'vitest'
import { createHandler, serve } from 'wasm-sandbox/http'
import { cGuest } from '../support/c-guests.js'

// A route that counts the requests it really handled (x-count), and the API-key middleware.
const COUNTER = cGuest('http/counter.c'), AUTH = cGuest('http/auth.c')

/** A clock the test moves by hand. */
const clock = () => {
  let t = 1_000
  return { now: () => t, advance: (ms: number) => { t += ms } }
}
const count = async (response: Response) => {
  await response.arrayBuffer()
  return response.headers.get('x-count')
}

describe('response cache', () => {
  it('serves GET hits from the cache until the TTL runs out (injectable clock, no sleeping)', async () => {
    const time = clock()
    const handler = createHandler(COUNTER, { max: 1, cache: { ttl: '5m', now: time.now } })
    try {
      expect(await count(await handler(new Request('http://x/a')))).toBe('1')
      expect(await count(await handler(new Request('http://x/a')))).toBe('1') // hit
      expect(await count(await handler(new Request('http://x/b')))).toBe('2') // another key
      time.advance(5 * 60_000 - 1)
      expect(await count(await handler(new Request('http://x/a')))).toBe('1') // still fresh
      time.advance(2)
      expect(await count(await handler(new Request('http://x/a')))).toBe('3') // expired: handled again
      expect(await count(await handler(new Request('http://x/a', { method: 'POST', body: 'x' })))).toBe('4') // never cached
    } finally {
      await handler.close()
    }
  })

  it('honours Cache-Control: no-store from the guest', async () => {
    const handler = createHandler(COUNTER, { max: 1, cache: { ttl: '1m' } })
    try {
      expect(await count(await handler(new Request('http://x/nostore')))).toBe('1')
      expect(await count(await handler(new Request('http://x/nostore')))).toBe('2')
    } finally {
      await handler.close()
    }
  })

  it('evicts the least recently used entry, by recency not by use count', async () => {
    const handler = createHandler(COUNTER, { max: 1, cache: { ttl: '1h', maxEntries: 2 } })
    const get = async (path: string) => count(await handler(new Request(`http://x${path}`)))
    try {
      expect(await get('/a')).toBe('1')
      for (let i = 0; i < 5; i++) expect(await get('/a')).toBe('1') // /a used often...
      expect(await get('/b')).toBe('2')
      expect(await get('/b')).toBe('2') // ...but /b was used last
      expect(await get('/c')).toBe('3') // evicts /a, the least recently used
      expect(await get('/b')).toBe('2')
      expect(await get('/a')).toBe('4')
    } finally {
      await handler.close()
    }
  })

  it('takes a key function', async () => {
    const handler = createHandler(COUNTER, { max: 1, cache: { ttl: '1m', key: (r) => new URL(r.url).pathname } })
    try {
      expect(await count(await handler(new Request('http://x/a?utm=1')))).toBe('1')
      expect(await count(await handler(new Request('http://x/a?utm=2')))).toBe('1')
    } finally {
      await handler.close()
    }
  })

  it('in serve(): behind the middleware (auth still runs on hits), with hits and misses in GET /modules', async () => {
    const token = 'cache-test-token-0123456789'
    const server = await serve({
      routes: { '/api/*': { source: COUNTER, options: { max: 1 }, cache: { ttl: '1m' } } },
      middleware: [AUTH],
      admin: { token },
    })
    try {
      const get = (key?: string) => fetch(`${server.url}/api/x`, { headers: key ? { 'x-api-key': key } : {} })
      expect(await count(await get('secret'))).toBe('1')
      expect(await count(await get('secret'))).toBe('1')
      expect((await get()).status).toBe(401) // a hit never skips the middleware
      expect(await count(await get('secret'))).toBe('1')
      const modules = await (await fetch(`${server.admin!.url}/modules`, { headers: { authorization: `Bearer ${token}` } })).json() as { attach: { route?: string }; cache?: unknown; executions: number }[]
      const route = modules.find((m) => m.attach.route === '/api/*')!
      expect(route.cache).toEqual({ hits: 2, misses: 1, entries: 1 })
      expect(route.executions).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('rejects bad cache options with CONFIG', () => {
    expect(() => createHandler(COUNTER, { cache: { ttl: '5 minutes' } })).toThrow(/cache\.ttl/)
    expect(() => createHandler(COUNTER, { cache: { ttl: '1m', maxEntries: 0 } })).toThrow(/maxEntries/)
  })
})
