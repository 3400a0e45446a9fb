// Browser benchmark (npm run bench:browser): builds e2e/bench with Vite, serves it
// cross-origin isolated on 127.0.0.1 and runs it in Debian's Chromium. Each figure is printed as
// a ratio to a raw baseline measured in the same page, interleaved (e2e/bench/main.ts).
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
  console.log(`\n== Browser (Chromium ${browser.version()}, cross-origin isolated: ${r.crossOriginIsolated}): ratio to a raw baseline in the same page, ${r.rounds} interleaved rounds\n`)
  const rows = [
    ['Sandbox.create', r.createRatio, 'new Worker + WebAssembly.compile + instantiate there', `${r.warmMs.toFixed(1)} ms`, `${r.rawWarmMs.toFixed(1)} ms`, r.creates],
    ['  (first in the page)', r.coldMs / r.rawColdMs, '  (the first raw one)', `${r.coldMs.toFixed(1)} ms`, `${r.rawColdMs.toFixed(1)} ms`, 1],
    ["sb.call('add') round trip", r.callRatio, 'Web Worker postMessage round trip', `${r.callUs.toFixed(1)} us`, `${r.rawUs.toFixed(1)} us`, r.calls],
    ["inline sb.call('add') ({ isolation: 'inline' })", r.inlineRatio, 'Web Worker postMessage round trip', `${r.inlineUs.toFixed(2)} us`, `${r.inlineRawUs.toFixed(1)} us`, r.calls * 10],
  ]
  const widths = [0, 2, 3, 4].map((i) => Math.max(...rows.map((row) => String(row[i]).length)))
  for (const [what, ratio, base, measured, raw, n] of rows) {
    console.log(`  ${what.padEnd(widths[0])}  ${`${ratio.toFixed(2)}x`.padStart(6)}  ${base.padEnd(widths[1])}  ${measured.padStart(widths[2])}  ${raw.padStart(widths[3])}  n ${n}`)
  }
  console.log('\n  ratio = measured / raw time (the median of the rounds\' ratios): below 1 is faster than raw')
} finally {
  server.close()
  await browser.close()
}
