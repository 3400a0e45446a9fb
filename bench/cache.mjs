#!/usr/bin/env node
// The persistent compile cache (issue 19): `Sandbox.create` of the same component in fresh Node
// processes sharing a cache directory. Per round, with a new empty directory:
//   first   a process finds no entry: transpiles (jco), meters, compiles, stores the entry
//   second  another process finds it: verifies it, compiles the metered modules, skips the rest
//   floor   the same process creates it once more (in-memory cache, a second worker)
// Also a process without cacheDir, to show what storing the entry costs a miss.
// Medians over rounds; the ratio second/first is the figure (target <= 0.3).
// Run with `npm run bench` (build first) or `node bench/cache.mjs [--quick]`.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const QUICK = process.argv.includes('--quick')
const ROUNDS = QUICK ? 3 : 7
const DIST = new URL('../dist/node-adapter/index.js', import.meta.url).href

/** What each process runs: times `Sandbox.create` (after the import), then once more from the in-memory cache. */
const CHILD = `
import { readFile } from 'node:fs/promises'
const [dist, source, cacheDir] = process.argv.slice(2)
const { Sandbox } = await import(dist)
const bytes = new Uint8Array(await readFile(source))
const outcomes = []
let lookedUp = 0
const options = { wasi: true, ...(cacheDir === '-' ? {} : { cacheDir }), onEvent: (e) => { if (e.type === 'compile-cache') { outcomes.push(e.outcome); lookedUp ||= performance.now() } } }
let t0 = performance.now()
const sb = await Sandbox.create(bytes, options)
const createMs = performance.now() - t0
const lookupMs = lookedUp - t0 // on a hit: source hashed, entry read, verified and compiled
const result = await sb.call('add', 2, 3)
await sb.close()
t0 = performance.now()
const again = await Sandbox.create(bytes, options)
const floorMs = performance.now() - t0
await again.close()
console.log(JSON.stringify({ createMs, lookupMs, floorMs, result, outcomes }))
`

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function child(script, source, cacheDir) {
  const start = performance.now()
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, DIST, source, cacheDir], { timeout: 300_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${error.message}\n${stderr}`))
      const report = JSON.parse(stdout)
      if (report.result !== 5) return reject(new Error(`add(2, 3) returned ${report.result}`))
      resolve({ ...report, processMs: performance.now() - start })
    })
  })
}

/** Components to measure, built once and kept in the temp directory. */
async function components() {
  const store = join(tmpdir(), 'wasm-sandbox-bench')
  await mkdir(store, { recursive: true })
  const cached = async (name, make) => {
    const file = join(store, name)
    try {
      await readFile(file)
    } catch {
      const bytes = await make()
      await writeFile(`${file}.${process.pid}`, bytes)
      await rename(`${file}.${process.pid}`, file)
    }
    return file
  }
  const { parse } = await import('@bytecodealliance/jco-transpile/wasm-tools')
  const small = await cached('small.component.wasm', () => parse(`(component
    (core module $m (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
    (core instance $i (instantiate $m))
    (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add"))))`))
  const wit = 'package bench:cache;\nworld bench {\n  export add: func(a: u32, b: u32) -> u32;\n}\n'
  const js = 'export function add(a, b) { return a + b }'
  const key = createHash('sha256').update(wit).update(js).digest('hex').slice(0, 16)
  const quickjs = await cached(`qjs-${key}.component.wasm`, async () => {
    const { componentize } = await import('componentize-qjs')
    await writeFile(join(store, 'bench.wit'), wit)
    const { component } = await componentize({ witPath: join(store, 'bench.wit'), jsSource: js, sync: true })
    return new Uint8Array(component)
  })
  return [['component text, 1 core module', small], ['QuickJS (componentize-qjs), 9 core modules', quickjs]]
}

const work = await mkdtemp(join(tmpdir(), 'wasm-sandbox-cache-bench-'))
try {
  const script = join(work, 'child.mjs')
  await writeFile(script, CHILD)
  console.log(`== Compile cache: Sandbox.create of one component in fresh processes (${ROUNDS} rounds, medians)`)
  for (const [name, source] of await components()) {
    const size = (await readFile(source)).length
    const runs = { none: [], first: [], second: [], lookup: [], floor: [], firstProcess: [], secondProcess: [] }
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(work, `cache-${round}-${runs.first.length}-${Math.random().toString(36).slice(2)}`)
      const none = await child(script, source, '-')
      const first = await child(script, source, dir)
      const second = await child(script, source, dir)
      if (first.outcomes[0] !== 'miss' || second.outcomes[0] !== 'hit') throw new Error(`expected a miss then a hit, got ${first.outcomes} then ${second.outcomes}`)
      runs.none.push(none.createMs)
      runs.first.push(first.createMs)
      runs.second.push(second.createMs)
      runs.lookup.push(second.lookupMs)
      runs.floor.push(second.floorMs)
      runs.firstProcess.push(first.processMs)
      runs.secondProcess.push(second.processMs)
      await rm(dir, { recursive: true, force: true })
    }
    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]))
    console.log(`\n${name} (${(size / 1024).toFixed(0)} KiB)`)
    console.log(`  create, no cacheDir                      ${m.none.toFixed(0).padStart(6)} ms`)
    console.log(`  create, first process (miss, stores)    ${m.first.toFixed(0).padStart(6)} ms`)
    console.log(`  create, second process (hit)            ${m.second.toFixed(0).padStart(6)} ms   ratio second/first ${(m.second / m.first).toFixed(2)}x (target <= 0.30x)`)
    console.log(`    of which the cache (hash, read, verify, compile) ${m.lookup.toFixed(0)} ms; the rest is mostly the process's first worker starting`)
    console.log(`  create again in the second process       ${m.floor.toFixed(0).padStart(6)} ms   (in-memory cache, a second worker)`)
    console.log(`  whole process, first / second            ${m.firstProcess.toFixed(0).padStart(6)} / ${m.secondProcess.toFixed(0)} ms   ratio ${(m.secondProcess / m.firstProcess).toFixed(2)}x (node startup and import included)`)
  }
} finally {
  await rm(work, { recursive: true, force: true })
}
