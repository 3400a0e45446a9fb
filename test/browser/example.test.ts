import { join } from 'node:path'
import { build } from 'vite'
import { expect, it } from 'vitest'
import { launchChromium, serveStatic } from './chromium.mjs'

// examples/browser builds with Vite (resolving 'wasm-sandbox' through the package exports)
// and runs in Chromium.
it('the browser example builds with vite and runs', async () => {
  const root = join(import.meta.dirname, '../../examples/browser')
  await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'error' })
  const browser = await launchChromium()
  const { url, server } = await serveStatic(join(root, 'dist'), true)
  try {
    const page = await browser.newPage()
    await page.goto(url)
    await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('done'), undefined, { timeout: 60_000 })
    const text = await page.textContent('#log')
    expect(text).toContain('fib(20) = 6765')
    expect(text).toContain('spin() -> FUEL_EXHAUSTED (limit 5000000, used 5000000)')
    expect(text).toContain('fib(25) = 75025 after the trap')
    expect(text).toContain('cross-origin isolated: true')
  } finally {
    server.close()
    await browser.close()
  }
}, 120_000)
