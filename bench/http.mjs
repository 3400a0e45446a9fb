// HTTP load benchmark (npm run bench:http): requests/s and p99 latency, side by side, for
// a plain Node handler, the same echo logic as a pooled wasm route, and that route behind
// two middleware modules. Load comes from autocannon against 127.0.0.1 (in this process, so
// every case shares the machine the same way), in interleaved rounds of 2 s per case; the
// medians are printed. Pools have one worker: on a 2-core machine that worker and the main
// thread each get a core (a second worker only competes for them).
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { serve } from 'wasm-sandbox/http'

const ROUNDS = process.argv.includes('--quick') ? 1 : 3
const DURATION_S = 2
const CONNECTIONS = 32
const fixtures = new URL('../test/fixtures/http/', import.meta.url).pathname
const out = mkdtempSync(join(tmpdir(), 'bench-http-'))
const guest = (name) => {
  const file = join(out, `${name}.wasm`)
  execFileSync('clang', ['--target=wasm32-unknown-unknown', '-O2', '-nostdlib', '-Wl,--no-entry', '-Wl,--export-dynamic', join(fixtures, `${name}.c`), '-o', file])
  return file
}

async function load(url) {
  const result = await autocannon({
    url, connections: CONNECTIONS, duration: DURATION_S, method: 'POST', body: 'hello, sandbox',
    headers: { 'x-api-key': 'secret', 'content-type': 'text/plain' },
  })
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx }
}

const plain = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain', 'x-guest': 'echo' }); res.end(Buffer.concat(chunks)) })
})
await new Promise((r) => plain.listen(0, '127.0.0.1', r))

const handler = guest('handler')
const pool = { min: 1, max: 1 }
const route = await serve({ routes: { '/*': { source: handler, options: pool } } })
const chained = await serve({ routes: { '/*': { source: handler, options: pool } }, middleware: [{ source: guest('auth'), options: pool }, { source: guest('headers'), options: pool }] })

const cases = [['plain Node handler', `http://127.0.0.1:${plain.address().port}/echo`], ['pooled wasm route', `${route.url}/echo`], ['wasm route + 2 middleware', `${chained.url}/echo`]]
const runs = cases.map(() => [])
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [, url]] of cases.entries()) runs[i].push(await load(url))
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rows = cases.map(([name], i) => ({
  name, rps: median(runs[i].map((r) => r.rps)), p99: median(runs[i].map((r) => r.p99)), errors: runs[i].reduce((n, r) => n + r.errors, 0),
}))
plain.close()
await route.close()
await chained.close()
rmSync(out, { recursive: true })

console.log(`\n== HTTP: ${CONNECTIONS} connections, POST echo on 127.0.0.1 (autocannon), median of ${ROUNDS} interleaved rounds of ${DURATION_S} s\n`)
for (const r of rows) console.log(`  ${r.name.padEnd(28)} ${Math.round(r.rps).toString().padStart(7)} req/s   p99 ${String(r.p99).padStart(4)} ms   errors ${r.errors}`)
console.log(`\n  wasm route / plain: ${(rows[1].rps / rows[0].rps * 100).toFixed(0)}%   with middleware / plain: ${(rows[2].rps / rows[0].rps * 100).toFixed(0)}%`)
if (rows.some((r) => r.errors > 0)) process.exitCode = 1
