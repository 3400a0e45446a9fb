/**
 * The persistent compile cache in Chromium (issue 19, part 2): `cacheDir` names a Cache
 * Storage cache. Each "page load" is a new page of one browser context: nothing in memory,
 * Cache Storage kept. The page (e2e/compile-cache) is built with Vite as an app would be.
 */
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CompileCacheEvent } from 'wasm-sandbox'
import { coreComponent, SUM_CORE, SUM_LIFTS } from '../support/components.js'
import { launchChromium, serveStatic } from './chromium.mjs'

const root = join(import.meta.dirname, '../..')
const PAGE = join(root, 'e2e/compile-cache')
const CACHE = 'wasm-sandbox-test'

/** A module of its own per test: entries of one test never answer another's. */
let unique = 0
const sumModule = () => `(module ${SUM_CORE} (func (export "id") (result i32) (i32.const ${++unique})))`

interface Created { result: unknown; fuel: string | null; events: CompileCacheEvent[] }
interface CreateRequest { source: string | number[]; cacheDir?: string; call?: { fn: string; args: number[] } }

describe('persistent compile cache in Chromium (Cache Storage)', () => {
  let browser: Browser
  let url: string
  let close: () => void
  let origin: string
  beforeAll(async () => {
    await build({ configFile: join(PAGE, 'vite.config.ts'), logLevel: 'error' })
    browser = await launchChromium()
    const served = await serveStatic(root, false)
    origin = served.url
    url = `${served.url}e2e/compile-cache/dist/index.html`
    close = () => served.server.close()
  }, 180_000)
  afterAll(async () => {
    close?.()
    await browser?.close()
  })

  /** A fresh page load in `context`: its own memory, the context's Cache Storage. */
  async function load(context: BrowserContext, at = url): Promise<Page> {
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(at)
    await page.waitForFunction(() => 'cacheProbe' in globalThis, undefined, { timeout: 60_000 })
    expect(errors).toEqual([])
    return page
  }
  const create = (page: Page, request: CreateRequest) =>
    page.evaluate((r) => (globalThis as never as { cacheProbe: { create(r: unknown): Promise<Created> } }).cacheProbe.create(r), request)
  const storage = (page: Page) =>
    page.evaluate(() => (globalThis as never as { cacheProbe: { storage(): Promise<Record<string, string[]>> } }).cacheProbe.storage())
  const readEntry = (page: Page, at: string) =>
    page.evaluate(([c, u]) => (globalThis as never as { cacheProbe: { read(c: string, u: string): Promise<number[] | null> } }).cacheProbe.read(c, u), [CACHE, at] as const)
  const overwrite = (page: Page, at: string, bytes: number[], contentType: string) =>
    page.evaluate(([c, u, b, t]) => (globalThis as never as { cacheProbe: { overwrite(c: string, u: string, b: number[], t: string): Promise<void> } }).cacheProbe.overwrite(c, u, b, t), [CACHE, at, bytes, contentType] as const)
  /** One page load that creates and calls, then goes away. */
  async function onePageLoad(context: BrowserContext, request: CreateRequest): Promise<Created> {
    const page = await load(context)
    try {
      return await create(page, request)
    } finally {
      await page.close()
    }
  }

  it('a second page load is a hit, with the same result and fuel as a sandbox without the cache; without cacheDir nothing is stored', async () => {
    const source = sumModule()
    const call = { fn: 'sum-to', args: [1000] }
    const cached = await browser.newContext()
    const uncached = await browser.newContext()
    try {
      const first = await onePageLoad(cached, { source, cacheDir: CACHE, call })
      expect(first.events).toEqual([expect.objectContaining({ outcome: 'miss', kind: 'module', stored: true })])
      const key = first.events[0]!.key
      // The entry and, as its own Response, the metered module.
      const page = await load(cached)
      const stored = (await storage(page))[CACHE]!
      await page.close()
      expect(stored.filter((u) => u.includes(key)).map((u) => u.slice(u.indexOf(key))).sort()).toEqual([key, `${key}/metered.wasm`])

      const second = await onePageLoad(cached, { source, cacheDir: CACHE, call })
      expect(second.events).toEqual([expect.objectContaining({ outcome: 'hit', kind: 'module', key })])

      const plain = await load(uncached)
      const without = await create(plain, { source, call })
      expect(without.events).toEqual([])
      expect(await storage(plain)).toEqual({}) // no cacheDir: Cache Storage untouched
      await plain.close()
      expect(second.result).toBe(500500)
      expect(second.result).toEqual(without.result)
      expect(first.fuel).toBe(without.fuel)
      expect(second.fuel).toBe(without.fuel)
    } finally {
      await cached.close()
      await uncached.close()
    }
  }, 120_000)

  it('a tampered entry is refused and rebuilt, never run: other wasm in the module, a flipped byte, a truncated or missing module, a foreign entry', async () => {
    const source = sumModule()
    const call = { fn: 'sum-to', args: [100] }
    const context = await browser.newContext()
    try {
      const first = await onePageLoad(context, { source, cacheDir: CACHE, call })
      const key = first.events[0]!.key
      const page = await load(context)
      const urls = (await storage(page))[CACHE]!
      const entryUrl = urls.find((u) => u.endsWith(key))!
      const moduleUrl = urls.find((u) => u.endsWith(`${key}/metered.wasm`))!
      const entry = (await readEntry(page, entryUrl))!
      const metered = (await readEntry(page, moduleUrl))!
      // Another module's entry and metered module: valid, signed, just not this source's.
      const otherKey = (await create(page, { source: sumModule(), cacheDir: CACHE })).events[0]!.key
      const otherUrls = (await storage(page))[CACHE]!
      const otherEntry = (await readEntry(page, otherUrls.find((u) => u.endsWith(otherKey))!))!
      const otherModule = (await readEntry(page, otherUrls.find((u) => u.endsWith(`${otherKey}/metered.wasm`))!))!
      await page.close()

      const tamperings: [string, () => Promise<void>, RegExp][] = [
        ['another source\'s metered module as the module', () => overwrite(page2, moduleUrl, otherModule, 'application/wasm'), /digest mismatch/],
        ['a flipped byte in the module', () => overwrite(page2, moduleUrl, metered.map((b, i) => (i === metered.length >> 1 ? b ^ 1 : b)), 'application/wasm'), /digest mismatch|unusable/],
        ['a truncated module', () => overwrite(page2, moduleUrl, metered.slice(0, -7), 'application/wasm'), /digest mismatch|unusable/],
        ['a flipped byte in the entry', () => overwrite(page2, entryUrl, entry.map((b, i) => (i === 40 ? b ^ 1 : b)), 'application/octet-stream'), /digest mismatch/],
        ['a truncated entry', () => overwrite(page2, entryUrl, entry.slice(0, 20), 'application/octet-stream'), /truncated/],
        ['another module\'s entry under this key', () => overwrite(page2, entryUrl, otherEntry, 'application/octet-stream'), /another key/],
        ['the module deleted', () => page2.evaluate(async ([c, u]) => { await (await caches.open(c)).delete(u) }, [CACHE, moduleUrl] as const), /missing/],
      ]
      let page2: Page
      for (const [what, tamper, why] of tamperings) {
        page2 = await load(context)
        await tamper()
        await page2.close()
        const refused = await onePageLoad(context, { source, cacheDir: CACHE, call })
        expect(refused.events, what).toEqual([expect.objectContaining({ outcome: 'invalid', key, stored: true, detail: expect.stringMatching(why) })])
        expect(refused.result, what).toBe(5050)
        expect(refused.fuel, what).toBe(first.fuel)
        // Rebuilt and written again: the next load is a hit.
        const again = await onePageLoad(context, { source, cacheDir: CACHE, call })
        expect(again.events.map((e) => e.outcome), what).toEqual(['hit'])
        expect(again.result, what).toBe(5050)
      }
    } finally {
      await context.close()
    }
  }, 180_000)

  it('writing an entry deletes the entries of other builds, and nothing else of the cache', async () => {
    const context = await browser.newContext()
    try {
      const page = await load(context)
      const stale = `${origin}.wasm-sandbox/compile-cache/0123456789abcdef/${'0'.repeat(64)}`
      const theApps = `${origin}app/data.json`
      for (const at of [stale, `${stale}/metered.wasm`, theApps]) await overwrite(page, at, [1, 2, 3], 'application/octet-stream')
      const { events } = await create(page, { source: sumModule(), cacheDir: CACHE })
      expect(events).toEqual([expect.objectContaining({ outcome: 'miss', stored: true })])
      const urls = (await storage(page))[CACHE]!
      expect(urls).toContain(theApps)
      expect(urls.filter((u) => u.startsWith(stale))).toEqual([])
      expect(urls.filter((u) => u.includes(events[0]!.key))).toHaveLength(2)
    } finally {
      await context.close()
    }
  }, 120_000)

  it('on an insecure origin (no Cache Storage, no Web Crypto) cacheDir is silently no cache: no event, the same result', async () => {
    // http://insecure.test is not a secure context: its requests are answered from the local server.
    const context = await browser.newContext()
    await context.route('http://insecure.test/**', async (route) => {
      route.fulfill({ response: await route.fetch({ url: route.request().url().replace('http://insecure.test/', origin) }) })
    })
    try {
      const page = await load(context, url.replace(origin, 'http://insecure.test/'))
      expect(await page.evaluate(() => [isSecureContext, typeof caches])).toEqual([false, 'undefined'])
      for (let i = 0; i < 2; i++) {
        const out = await create(page, { source: sumModule(), cacheDir: CACHE, call: { fn: 'sum-to', args: [10] } })
        expect(out.events).toEqual([])
        expect(out.result).toBe(55)
      }
    } finally {
      await context.close()
    }
  }, 120_000)

  it('components too: the glue in the entry, each core module its own Response; a hit gives the same result and fuel', async () => {
    const source = Array.from(await coreComponent(`${SUM_CORE} (func (export "id") (result i32) (i32.const ${++unique}))`, SUM_LIFTS))
    const call = { fn: 'sum-to', args: [1000] }
    const context = await browser.newContext()
    const uncached = await browser.newContext()
    try {
      const first = await onePageLoad(context, { source, cacheDir: CACHE, call })
      expect(first.events).toEqual([expect.objectContaining({ outcome: 'miss', kind: 'component', stored: true })])
      const key = first.events[0]!.key
      const page = await load(context)
      const stored = (await storage(page))[CACHE]!.filter((u) => u.includes(key))
      await page.close()
      expect(stored.length).toBeGreaterThan(1)
      expect(stored.filter((u) => u !== stored.find((s) => s.endsWith(key))).every((u) => u.endsWith('.wasm'))).toBe(true)
      const second = await onePageLoad(context, { source, cacheDir: CACHE, call })
      expect(second.events).toEqual([expect.objectContaining({ outcome: 'hit', kind: 'component', key })])
      const without = await onePageLoad(uncached, { source, call })
      expect(second.result).toBe(500500)
      expect(second.result).toEqual(without.result)
      expect(second.fuel).toBe(without.fuel)
    } finally {
      await context.close()
      await uncached.close()
    }
  }, 180_000)
})
