// HTTP load benchmark (npm run bench:http): requests/s and p99 latency, side by side, for
// a plain Node handler, the same echo logic as a pooled wasm route, and that route behind
// two middleware modules. Load comes from autocannon against 127.0.0.1 (in this process, so
// every case shares the machine the same way), in interleaved rounds of 1 s per case. This
// machine's speed drifts by half from one second to the next, so each round's wasm figures
// are divided by the same round's plain figure, and the median of those ratios is printed
// with the median rates. Pools have one worker: on a 2-core machine that worker and the
// main thread each get a core (a second worker only competes for them).
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import WebSocket, { WebSocketServer } from 'ws'
import { serve } from 'wasm-sandbox/http'

const ROUNDS = process.argv.includes('--quick') ? 1 : 7
const DURATION_S = 1
const CONNECTIONS = 32
const fixtures = new URL('../test/fixtures/http/', import.meta.url).pathname
const out = mkdtempSync(join(tmpdir(), 'bench-http-'))
const guestFrom = (source, name) => {
  const file = join(out, `${name}.wasm`)
  execFileSync('clang', ['--target=wasm32-unknown-unknown', '-O2', '-nostdlib', '-Wl,--no-entry', '-Wl,--export-dynamic', source, '-o', file])
  return file
}
const guest = (name) => guestFrom(join(fixtures, `${name}.c`), name)

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
  ratio: median(runs[i].map((r, round) => r.rps / runs[0][round].rps)),
  ratios: runs[i].map((r, round) => Math.round(r.rps / runs[0][round].rps * 100)),
}))
// WebSocket: messages/s through a sandboxed on_message (test/fixtures/ws/room.c) vs a plain
// ws echo server; 32 connections, each keeping 8 messages in flight.
const WS_CONNECTIONS = 32
const WS_IN_FLIGHT = 8
async function wsLoad(url) {
  const clients = await Promise.all(Array.from({ length: WS_CONNECTIONS }, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })))
  let received = 0
  let running = true
  for (const ws of clients) {
    let first = true
    ws.on('message', () => {
      if (first && url.includes('/ws/')) { first = false; return } // the sandboxed route greets first
      received++
      if (running) ws.send('hello, sandbox')
    })
    for (let i = 0; i < WS_IN_FLIGHT; i++) ws.send('hello, sandbox')
  }
  const start = performance.now()
  const startCount = received
  await new Promise((r) => setTimeout(r, DURATION_S * 1000))
  running = false
  const rate = (received - startCount) / ((performance.now() - start) / 1000)
  for (const ws of clients) ws.terminate()
  return rate
}
const plainWs = new WebSocketServer({ port: 0, host: '127.0.0.1' })
plainWs.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })))
await new Promise((r) => plainWs.once('listening', r))
const room = guestFrom(new URL('../test/fixtures/ws/room.c', import.meta.url).pathname, 'room')
const sockets = await serve({ routes: {}, websockets: { '/ws/:room': { source: room, options: { max: WS_CONNECTIONS } } } })
const wsRuns = [[], []]
for (let round = 0; round < ROUNDS; round++) {
  wsRuns[0].push(await wsLoad(`ws://127.0.0.1:${plainWs.address().port}/`))
  wsRuns[1].push(await wsLoad(`${sockets.url.replace('http', 'ws')}/ws/bench`))
}
const wsRows = [['plain ws echo server', median(wsRuns[0])], ['sandboxed on_message', median(wsRuns[1])]]
plainWs.close()
await sockets.close()

plain.close()
await route.close()
await chained.close()
rmSync(out, { recursive: true })

console.log(`\n== HTTP: ${CONNECTIONS} connections, POST echo on 127.0.0.1 (autocannon), median of ${ROUNDS} interleaved rounds of ${DURATION_S} s; ratio = req/s of plain (the raw baseline) / req/s, median of each round's\n`)
for (const r of rows) console.log(`  ${r.name.padEnd(28)} ${`${(1 / r.ratio).toFixed(2)}x`.padStart(6)}  ${Math.round(r.rps).toString().padStart(7)} req/s   p99 ${String(r.p99).padStart(4)} ms   errors ${r.errors}`)
console.log(`\n  of plain's req/s, by round: wasm route ${rows[1].ratios.join(' ')} %, with middleware ${rows[2].ratios.join(' ')} %`)
const wsRatio = median(wsRuns[0].map((plainRate, round) => plainRate / wsRuns[1][round]))
console.log(`\n== WebSocket: ${WS_CONNECTIONS} connections, ${WS_IN_FLIGHT} messages in flight each, ${ROUNDS} interleaved rounds of ${DURATION_S} s; ratio = messages/s of plain / messages/s, median of each round's\n`)
console.log(`  ${wsRows[0][0].padEnd(28)} ${'1.00x'.padStart(6)}  ${Math.round(wsRows[0][1]).toString().padStart(7)} messages/s`)
console.log(`  ${wsRows[1][0].padEnd(28)} ${`${wsRatio.toFixed(2)}x`.padStart(6)}  ${Math.round(wsRows[1][1]).toString().padStart(7)} messages/s`)
if (rows.some((r) => r.errors > 0)) process.exitCode = 1
