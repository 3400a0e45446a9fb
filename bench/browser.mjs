// Browser benchmark (npm run bench:browser): builds e2e/bench with Vite, serves it
// cross-origin isolated on 127.0.0.1 and runs it in Debian's Chromium.
import { join } from 'node:path'
import { build } from 'vite'
import { launchChromium, serveStatic } from '../test/browser/chromium.mjs'

const root = join(import.meta.dirname, '../e2e/bench')
await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'error' })
const browser = await launchChromium()
const { url, server } = await serveStatic(join(root, 'dist'), true)
try {
  const page = await browser.newPage()
  await page.goto(url)
  await page.waitForFunction(() => window.__bench !== undefined, undefined, { timeout: 120_000 })
  const r = await page.evaluate(() => window.__bench)
  if (r.error) throw new Error(r.error)
  console.log(`\n== Browser (Chromium ${browser.version()}, cross-origin isolated: ${r.crossOriginIsolated})\n`)
  console.log(`  Sandbox.create cold           ${r.coldMs.toFixed(1)} ms`)
  console.log(`  Sandbox.create warm (median)  ${r.warmMs.toFixed(1)} ms`)
  console.log(`  sb.call round trip (median)   ${r.callUs.toFixed(1)} us`)
  console.log(`  raw Worker postMessage        ${r.rawUs.toFixed(1)} us`)
  console.log(`  call / raw                    ${(r.callUs / r.rawUs).toFixed(2)}x`)
} finally {
  server.close()
  await browser.close()
}
