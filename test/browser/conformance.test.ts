import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as api from 'wasm-sandbox'
import { cases, runSuite } from '../conformance/suite.js'
import { launchChromium, serveStatic } from './chromium.mjs'

// The same suite, run against the Node adapter here and the browser adapter in Chromium
// (a page built with Vite that imports 'wasm-sandbox' through the package exports).
const PAGE = join(import.meta.dirname, '../../e2e/conformance')

describe('browser adapter in Chromium', () => {
  let browser: Browser
  let nodeResults: Record<string, unknown>
  beforeAll(async () => {
    await build({ configFile: join(PAGE, 'vite.config.ts'), logLevel: 'error' })
    browser = await launchChromium()
    nodeResults = await runSuite(api)
  }, 180_000)
  afterAll(async () => { await browser?.close() })

  async function runInPage(isolated: boolean): Promise<{ crossOriginIsolated: boolean; results: Record<string, unknown>; error?: string }> {
    const { url, server } = await serveStatic(join(PAGE, 'dist'), isolated)
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await page.goto(url)
      await page.waitForFunction(() => (window as unknown as { __results?: unknown }).__results !== undefined, undefined, { timeout: 120_000 })
      const out = await page.evaluate(() => (window as unknown as { __results: never }).__results)
      expect(errors).toEqual([])
      return out
    } finally {
      await page.close()
      server.close()
    }
  }

  it('gives the same results, errors, fuel counts and WASI output as Node on an isolated page', async () => {
    const page = await runInPage(true)
    expect(page.error).toBeUndefined()
    expect(page.crossOriginIsolated).toBe(true)
    expect(Object.keys(page.results)).toEqual(Object.keys(cases))
    for (const name of Object.keys(cases)) expect(page.results[name], name).toEqual(nodeResults[name])
  }, 180_000)

  it('works without cross-origin isolation, except host functions, which ask for COOP/COEP', async () => {
    const page = await runInPage(false)
    expect(page.crossOriginIsolated).toBe(false)
    for (const name of Object.keys(cases)) {
      if (name === 'host functions') {
        expect(page.results[name]).toMatchObject({ threw: { code: 'CONFIG', field: 'imports' } })
        expect(JSON.stringify(page.results[name])).toContain('Cross-Origin-Embedder-Policy')
      } else {
        expect(page.results[name], name).toEqual(nodeResults[name])
      }
    }
  }, 180_000)
})
