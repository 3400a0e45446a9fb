import { LRUCache } from 'lru-cache'
import { parseBytes, parseDuration, SandboxError } from '../../core/index.js'
import type { GuestRequest, GuestResponse } from './guest-http.js'

/** `cache` of a route: replies of its sandboxed handler kept for `ttl`. */
export interface CacheOptions {
  /** How long a reply is served from the cache: '5m', '30s' or milliseconds. */
  ttl: string | number
  /** Most replies kept; the least recently used goes first. Default 1000. */
  maxEntries?: number
  /**
   * Most bytes kept (bodies as base64, plus header text), as '64MB' or bytes; the least
   * recently used go first, and a larger reply is not kept. Default 64MB: the keys come from
   * clients (any query string), and each reply can be up to the route's `maxReplyBytes`.
   */
  maxBytes?: number | string
  /** The cache key of a request (after the middleware ran). Default: method and URL. */
  key?: (request: Omit<GuestRequest, 'body'>) => string
  /** The clock, in milliseconds (for tests). Default `performance.now()`. */
  now?: () => number
}

/** Replies whose status a shared cache may keep by default (RFC 9110 §15.1), but 206. */
const CACHEABLE_STATUS = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])

/**
 * An LRU (by recency of use) of a handler's replies to GET and HEAD requests. A reply with
 * `Cache-Control: no-store` (or `private`) is never kept. It sits between the middleware
 * and the route's handler, so `on_request` (authentication, rate limits) runs for every
 * request, hits included.
 */
export class ResponseCache {
  hits = 0
  misses = 0
  private readonly entries: LRUCache<string, GuestResponse>
  private readonly key: NonNullable<CacheOptions['key']>

  constructor(options: CacheOptions) {
    if (typeof options !== 'object' || options === null) throw new SandboxError('CONFIG', "cache: expected { ttl: '5m', maxEntries?, key? }", { field: 'cache' })
    const ttl = parseDuration(options.ttl, 'cache.ttl')
    const max = options.maxEntries ?? 1000
    if (!Number.isSafeInteger(max) || max < 1) throw new SandboxError('CONFIG', `cache.maxEntries: expected a positive whole number, got ${max}`, { field: 'cache.maxEntries' })
    if (options.key !== undefined && typeof options.key !== 'function') throw new SandboxError('CONFIG', 'cache.key: expected a function (request) => string', { field: 'cache.key' })
    this.key = options.key ?? ((r) => `${r.method} ${r.url}`)
    // ttlResolution 0: read the clock on every lookup (lru-cache otherwise caches it for 1 ms)
    const maxSize = parseBytes(options.maxBytes ?? 64 * 1024 * 1024, 'cache.maxBytes')
    this.entries = new LRUCache({
      max, ttl, ttlResolution: 0, maxSize, sizeCalculation: replySize, ...(options.now ? { perf: { now: options.now } } : {}),
    })
  }

  /** The handler's reply for `request`: from the cache, or from `handle` (and kept when it may be). */
  async serve(request: GuestRequest, handle: (request: GuestRequest) => Promise<GuestResponse>): Promise<GuestResponse> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return handle(request)
    const { body: _body, ...head } = request
    const key = String(this.key(head))
    const hit = this.entries.get(key)
    if (hit) {
      this.hits++
      return hit
    }
    this.misses++
    const reply = await handle(request)
    if (storable(reply) && replySize(reply) <= this.entries.maxSize) this.entries.set(key, reply)
    return reply
  }

  stats(): { hits: number; misses: number; entries: number } {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size }
  }
}

/** A reply's weight in the cache: its body and header text (at least 1, as lru-cache needs). */
function replySize(reply: GuestResponse): number {
  let size = reply.body.length + 64
  for (const [name, value] of Object.entries(reply.headers)) size += name.length + value.length
  return size
}

function storable(reply: GuestResponse): boolean {
  if (!CACHEABLE_STATUS.has(reply.status)) return false
  const control = Object.entries(reply.headers).find(([name]) => name.toLowerCase() === 'cache-control')?.[1] ?? ''
  return !/(?:^|,)\s*(?:no-store|private)\s*(?:,|=|$)/i.test(control)
}
