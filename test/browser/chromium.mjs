// Chromium for tests and benchmarks: Debian's /usr/bin/chromium driven by playwright-core
// (no browser download), and a static server on 127.0.0.1 with optional COOP/COEP headers.
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { chromium } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** @returns {Promise<import('playwright-core').Browser>} */
export function launchChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json', '.wat': 'text/plain' }

/**
 * Serves a built directory on 127.0.0.1. With `isolated`, sends the COOP/COEP headers that
 * make the page cross-origin isolated (SharedArrayBuffer: host functions, the fast call path).
 * @param {string} root
 * @param {boolean} isolated
 * @returns {Promise<{ url: string, server: import('node:http').Server }>}
 */
export async function serveStatic(root, isolated) {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)))
    const file = path.startsWith(root) && existsSync(path) && statSync(path).isDirectory() ? join(path, 'index.html') : path
    if (!file.startsWith(root) || !existsSync(file)) { res.statusCode = 404; res.end('not found'); return }
    res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream')
    if (isolated) {
      res.setHeader('cross-origin-opener-policy', 'same-origin')
      res.setHeader('cross-origin-embedder-policy', 'require-corp')
    }
    createReadStream(file).pipe(res)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${server.address().port}/`, server }
}
