#!/usr/bin/env node
// Benchmark suite for wasm-sandbox. Run with `npm run bench` (build + this) or, after a build,
// `node bench/run.mjs`. Sections:
//   1. compute kernels (bench/kernels/*.wat, and bench/kernels-c/*.c compiled with clang -O2 when
//      clang is installed): unmetered vs metered vs metered + stackDepth vs metering: 'fast', interleaved rounds
//      (7, extended up to 13 while the machine is noisy), medians
//      and a SQLite workload (sql.js: bench/sqlite-workload.mjs)
//   2. rewrite throughput of meter() on two large real-world modules
//   3. Sandbox round trips and create vs raw worker postMessage / SharedArrayBuffer round trips, new Worker + compile
//      (3-6: each figure as a ratio to a raw baseline measured in the same run, interleaved: bench/raw-baselines.mjs)
//   4. host-function calls vs a raw SharedArrayBuffer ping-pong; bytes calls (1 MiB, 64 MiB) vs raw transfers
//   5. WASI runCommand of a C hello world, cold and warm, vs node:wasi in a fresh / a live worker
//   6. SandboxPool throughput (size 1, 2, 4; trivial and ~0.5 ms calls) and first-call latency vs raw workers
// Options: --quick (fewer rounds, for a smoke test), --only=fib,sort (kernel subset),
//          --skip=kernels,rewrite,sandbox,rpc,wasi,pool (sections to leave out).
// Exits 1 if a checksum disagrees or a kernel fails its self-check (or a pool call returns a wrong value).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { basename, dirname, join } from 'node:path'
import os from 'node:os'
import zlib from 'node:zlib'
import { Worker } from 'node:worker_threads'
import { benchSqlite } from './sqlite-workload.mjs'
import { interleave, rawCreate, RawMessages, RawPingPong, RawPool, startRawWorker, timeEach } from './raw-baselines.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const args = process.argv.slice(2)
const QUICK = args.includes('--quick')
const ONLY = (args.find((a) => a.startsWith('--only=')) ?? '').slice(7).split(',').filter(Boolean)
const SKIP = new Set((args.find((a) => a.startsWith('--skip=')) ?? '').slice(7).split(',').filter(Boolean))

const ROUNDS = QUICK ? 3 : 7            // interleaved timed rounds per kernel (median taken)
const MAX_ROUNDS = QUICK ? 3 : 13       // ... extended up to this while the timings stay noisy
const NOISY = 10                        // % interquartile range / median that counts as noisy
const WARMUP = QUICK ? 2 : 3            // untimed runs per variant first (Liftoff -> TurboFan)
const REWRITE_RUNS = QUICK ? 2 : 5
const CREATE_RUNS = QUICK ? 3 : 10
const CALLS = QUICK ? 300 : 2000
const CALL_WARMUP = QUICK ? 300 : 3000   // untimed calls per variant first: the call path reaches its optimized tier after a few thousand
const STACK_DEPTH = 10000
const OP_TIMEOUT_MS = 15000             // guards section 3 against a half-finished adapter hanging

let core
try {
  core = await import('wasm-sandbox/core')
} catch (e) {
  console.error(`cannot import wasm-sandbox/core (${e.message}); build first: npx tsc -p tsconfig.json`)
  process.exit(1)
}
const { meter, MAX_FUEL } = core
const wabt = await (await import('wabt')).default()

let failed = false
const fail = (msg) => { failed = true; console.log(`  !! ${msg}`) }

// ---------------------------------------------------------------------------------------------
// helpers

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length)
/** Interquartile range / median, as a percentage: how noisy a set of timings was (robust to one outlier). */
const spread = (xs) => ((percentile(xs, 75) - percentile(xs, 25)) / median(xs)) * 100
const fmt = (x, d = 1) => x.toFixed(d)
const fmtInt = (x) => x.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
const fmtFuel = (f) => {
  const n = Number(f)
  return n >= 1e9 ? `${fmt(n / 1e9, 2)}G` : n >= 1e6 ? `${fmt(n / 1e6, 1)}M` : fmtInt(f)
}
const pad = (s, w) => String(s).padStart(w)
const padEnd = (s, w) => String(s).padEnd(w)
function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => (align[i] === 'l' ? padEnd(c, widths[i]) : pad(c, widths[i]))).join('  ').trimEnd()
  console.log('  ' + line(headers))
  console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log('  ' + line(r))
}
const withTimeout = (promise, what) => {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not settle within ${OP_TIMEOUT_MS} ms`)), OP_TIMEOUT_MS) }),
  ]).finally(() => clearTimeout(timer))
}
const wat2wasm = (name, text) => {
  const mod = wabt.parseWat(name, text, { simd: true })
  try { return new Uint8Array(mod.toBinary({}).buffer) } finally { mod.destroy() }
}
const f64bits = (bits) => new Float64Array(new BigInt64Array([bits]).buffer)[0]

// ---------------------------------------------------------------------------------------------
// Section 1: compute kernels
//
// n is chosen so one unmetered run takes ~50-200 ms on a 2-core Xeon with Node 20.
// selfCheck(run, instance) runs the kernel at a small size and compares with a known value or a
// JS reference, so a broken kernel cannot produce plausible-looking timings.

const KERNELS = [
  {
    name: 'fib', n: 35, what: 'recursive fib(35)',
    expect: 9227465,
    selfCheck: (run) => run(20) === 6765 || 'fib(20) !== 6765',
  },
  {
    name: 'matmul', n: 600, what: '64x64 f64 matmul x600',
    selfCheck: (run) => run(2) === matmulReference(2) || 'differs from the JS reference',
  },
  {
    name: 'sieve', n: 40, what: 'sieve below 2^20 x40',
    expect: 82025 * 40,
    selfCheck: (run) => run(1) === 82025 || 'not 82025 primes below 2^20',
  },
  {
    name: 'sort', n: 1_000_000, what: 'quicksort 1M i32',
    selfCheck: (run) => (run(1000) !== -1 && run(1) !== -1) || 'result not sorted',
    valid: (r) => r !== -1,
  },
  {
    name: 'fnv1a', n: 1000, what: 'FNV-1a 32, 64 KiB x1000',
    selfCheck: (run, inst) => {
      const got = run(2)
      const buf = new Uint8Array(inst.exports.memory.buffer, 0, 65536)
      let h = 0x811c9dc5
      for (let r = 0; r < 2; r++) for (let i = 0; i < buf.length; i++) h = Math.imul(h ^ buf[i], 0x01000193)
      return got === h || `hash ${got} !== JS ${h}`
    },
  },
  {
    name: 'crc32', n: 600, what: 'CRC-32 table, 64 KiB x600',
    selfCheck: (run, inst) => {
      const got = run(2) >>> 0
      if (typeof zlib.crc32 !== 'function') return true
      const buf = new Uint8Array(inst.exports.memory.buffer, 1024, 65536)
      const want = zlib.crc32(buf, zlib.crc32(buf)) >>> 0
      return got === want || `crc ${got} !== zlib ${want}`
    },
  },
  {
    name: 'nbody', n: 1_500_000, what: 'n-body 5 bodies, 1.5M steps',
    selfCheck: (run) => {
      const e = f64bits(run(1000))
      return Math.abs(e - -0.169087605) < 1e-9 || `energy after 1000 steps ${e} !== -0.169087605`
    },
  },
]

// C kernels (bench/kernels-c/*.c), compiled at bench time as a user would compile a guest, in
// the style of held-out programs: clang -O2 decides the code shape, not us. Same n targets.
const CLANG_FLAGS = ['--target=wasm32-unknown-unknown', '-O2', '-nostdlib', '-Wl,--no-entry', '-Wl,--export-dynamic']
const C_KERNELS = [
  {
    name: 'fib', c: true, n: 35, what: 'recursive fib(35)',
    expect: 9227465,
    selfCheck: (run) => run(20) === 6765 || 'fib(20) !== 6765',
  },
  {
    name: 'matmul', c: true, n: 200, what: '64x64 f64 matmul x200',
    selfCheck: (run) => run(3) === matmulCReference(3) || 'differs from the JS reference',
  },
  {
    name: 'qsort', c: true, n: 300_000, what: 'generic qsort (comparator call) 300k i32',
    selfCheck: (run) => (run(1000) !== -1 && run(1) !== -1) || 'result not sorted',
    valid: (r) => r !== -1,
  },
  {
    name: 'sieve', c: true, n: 20, what: 'sieve below 2^20 x20',
    expect: 82025 * 20,
    selfCheck: (run) => run(1) === 82025 || 'not 82025 primes below 2^20',
  },
  {
    name: 'strhash', c: true, n: 300, what: 'djb2 of 4096 strings into a hash table x300',
    selfCheck: (run) => run(2) === strhashCReference(2) || 'differs from the JS reference',
  },
]

/** clang's version line, or null when clang (or its wasm32 target) is missing. */
function clangVersion() {
  try {
    return execFileSync('clang', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim()
  } catch {
    return null
  }
}

let cOut = null
function compileC(source) {
  cOut ??= mkdtempSync(join(os.tmpdir(), 'bench-kernels-c-'))
  const file = join(cOut, `${basename(source, '.c')}.wasm`)
  execFileSync('clang', [...CLANG_FLAGS, source, '-o', file])
  return new Uint8Array(readFileSync(file))
}
process.once('exit', () => { if (cOut) rmSync(cOut, { recursive: true, force: true }) })

/** JS twin of kernels-c/matmul.c (same operation order, so bit-identical). */
function matmulCReference(reps) {
  const N = 64
  const A = new Float64Array(N * N), B = new Float64Array(N * N), C = new Float64Array(N * N)
  for (let i = 0; i < N * N; i++) {
    A[i] = ((i * 7 + 3) % 101) / 50 - 1
    B[i] = ((i * 13 + 5) % 97) / 48 - 1
  }
  let total = 0
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0
        for (let k = 0; k < N; k++) acc += A[i * N + k] * B[k * N + j]
        C[i * N + j] = acc
      }
    }
    for (let i = 0; i < N * N; i++) total += C[i]
    A[r % (N * N)] += 1e-3
  }
  return new BigInt64Array(new Float64Array([total]).buffer)[0]
}

/** JS twin of kernels-c/strhash.c. */
function strhashCReference(reps) {
  const STRINGS = 4096, SLOTS = 8192
  const xorshift = (x) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; return x >>> 0 }
  let x = 2463534242
  const strings = []
  for (let i = 0; i < STRINGS; i++) {
    x = xorshift(x)
    const len = 4 + (x % 40)
    const s = []
    for (let j = 0; j < len; j++) { x = xorshift(x); s.push(97 + (x % 16)) }
    strings.push(s)
  }
  const keys = new Uint32Array(SLOTS), counts = new Uint32Array(SLOTS)
  for (let r = 0; r < reps; r++) {
    for (const s of strings) {
      let h = 5381
      for (const c of s) h = (Math.imul(h, 33) + c) >>> 0
      h = (h | 1) >>> 0
      let slot = h & (SLOTS - 1)
      while (keys[slot] !== 0 && keys[slot] !== h) slot = (slot + 1) & (SLOTS - 1)
      keys[slot] = h
      counts[slot]++
    }
  }
  let sum = 0
  for (let i = 0; i < SLOTS; i++) sum = (Math.imul(sum, 31) + Math.imul(keys[i], counts[i])) >>> 0
  return sum | 0
}

/** JS twin of matmul.wat (same operation order, so bit-identical). */
function matmulReference(reps) {
  const A = new Float64Array(4096), B = new Float64Array(4096)
  for (let i = 0; i < 4096; i++) {
    A[i] = (((i * 7 + 3) >>> 0) % 101) / 50 - 1
    B[i] = (((i * 13 + 5) >>> 0) % 97) / 48 - 1
  }
  let total = 0
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 64; j++) {
        let acc = 0
        for (let k = 0; k < 64; k++) acc += A[i * 64 + k] * B[k * 64 + j]
        total += acc
      }
    }
  }
  return new BigInt64Array(new Float64Array([total]).buffer)[0]
}

async function instantiate(bytes, imports = {}) {
  const module = await WebAssembly.compile(bytes)
  return WebAssembly.instantiate(module, imports)
}

/** The unmetered binary of a kernel: a WAT kernel through wabt, a C kernel through clang. */
function kernelBinary(k) {
  if (k.c) return compileC(join(here, 'kernels-c', `${k.name}.c`))
  return wat2wasm(`${k.name}.wat`, readFileSync(join(here, 'kernels', `${k.name}.wat`), 'utf8'))
}

async function benchKernel(k) {
  const plain = kernelBinary(k)
  const metered = meter(plain, { fuel: 'unlimited' })
  const deep = meter(plain, { fuel: 'unlimited', stackDepth: STACK_DEPTH })
  const fast = meter(plain, { fuel: 'unlimited', metering: 'fast' })
  const variants = [
    { id: 'plain', instance: await instantiate(plain), ctl: null },
    { id: 'metered', instance: await instantiate(metered.bytes, metered.imports), result: metered },
    { id: 'depth', instance: await instantiate(deep.bytes, deep.imports), result: deep },
    { id: 'fast', instance: await instantiate(fast.bytes, fast.imports), result: fast },
  ]
  for (const v of variants) {
    if (v.result) v.ctl = v.result.fuel(v.instance)
    const run = v.instance.exports.run
    const check = k.selfCheck(run, v.instance)
    if (check !== true) throw new Error(`${k.name} self-check failed (${v.id}): ${check}`)
  }

  const runOnce = (v) => {
    v.ctl?.set(MAX_FUEL)
    const t0 = performance.now()
    const r = v.instance.exports.run(k.n)
    const ms = performance.now() - t0
    return { r, ms, fuel: v.ctl ? v.ctl.used() : null }
  }

  for (let i = 0; i < WARMUP; i++) for (const v of variants) runOnce(v)

  const times = { plain: [], metered: [], depth: [], fast: [] }
  const fuel = { metered: new Set(), depth: new Set(), fast: new Set() }
  const results = new Set()
  const noise = () => Math.max(...Object.values(times).map(spread))
  const noisy = () => noise() > NOISY
  let round = 0
  for (; round < ROUNDS || (round < MAX_ROUNDS && noisy()); round++) {
    // rotate the order each round so no variant always runs first (or right after another)
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(round + j) % variants.length]
      const { r, ms, fuel: f } = runOnce(v)
      times[v.id].push(ms)
      results.add(typeof r === 'bigint' ? `${r}n` : String(r))
      if (f !== null) fuel[v.id].add(f)
    }
  }
  if (results.size !== 1) throw new Error(`${k.name}: checksums differ between runs/variants: ${[...results].join(', ')}`)
  const checksum = [...results][0]
  if (k.expect !== undefined && checksum !== String(k.expect)) throw new Error(`${k.name}: checksum ${checksum}, expected ${k.expect}`)
  if (k.valid && !k.valid(Number(checksum))) throw new Error(`${k.name}: invalid checksum ${checksum}`)
  if (fuel.metered.size !== 1) throw new Error(`${k.name}: fuel used differs between runs: ${[...fuel.metered].join(', ')}`)
  if (fuel.fast.size !== 1 || [...fuel.fast][0] !== [...fuel.metered][0]) throw new Error(`${k.name}: fast metering charged ${[...fuel.fast].join(', ')}, exact ${[...fuel.metered][0]}`)
  const fuelUsed = [...fuel.metered][0]
  const fuelDepth = [...fuel.depth][0]
  const plainMs = median(times.plain), meteredMs = median(times.metered), depthMs = median(times.depth), fastMs = median(times.fast)
  return {
    name: k.name, what: k.what, checksum, fuelUsed, fuelDepth, rounds: round,
    plainMs, meteredMs, depthMs, fastMs,
    ratio: meteredMs / plainMs, ratioDepth: depthMs / plainMs, ratioFast: fastMs / plainMs,
    noise: noise(),
    fuelPerNs: Number(fuelUsed) / (plainMs * 1e6),
    growth: (metered.bytes.length / plain.length - 1) * 100,
  }
}

async function sectionKernels() {
  console.log(`\n== 1. Compute kernels: unmetered vs meter() (fuel: 'unlimited') vs + stackDepth: ${STACK_DEPTH}`)
  console.log(`   median of ${ROUNDS}+ interleaved rounds after ${WARMUP} warm-up runs per variant; ratio = metered / unmetered`)
  const wat = await kernelTable('WAT kernels (bench/kernels/*.wat)', KERNELS)
  let c = null
  const clang = clangVersion()
  if (clang === null) console.log('\n  C kernels (bench/kernels-c/*.c): skipped, clang is not installed')
  else c = await kernelTable(`C kernels (bench/kernels-c/*.c, ${CLANG_FLAGS.join(' ')}; ${clang})`, C_KERNELS)
  let sqlite = null
  if (!ONLY.length || ONLY.includes('sqlite')) {
    try {
      sqlite = await benchSqlite({ root, meter, rounds: MAX_ROUNDS, median })
      console.log(`\n  SQLite (sql.js): insert 5,000 rows, GROUP BY + ORDER BY, a self-join; ${MAX_ROUNDS} interleaved rounds`)
      console.log(`  unmetered ${fmt(sqlite.plainMs)} ms; metered ${fmt(sqlite.exactMs)} ms (${fmt(sqlite.exact, 2)}x); metering: 'fast' ${fmt(sqlite.fastMs)} ms (${fmt(sqlite.fast, 2)}x)`)
    } catch (e) { fail(e.message) }
  }
  return wat || c || sqlite ? { wat, c, sqlite } : null
}

async function kernelTable(title, kernels) {
  console.log(`\n  ${title}`)
  const rows = []
  const out = []
  for (const k of kernels) {
    if (ONLY.length && !ONLY.includes(k.name)) continue
    try {
      const r = await benchKernel(k)
      out.push(r)
      rows.push([r.name, r.what, fmt(r.plainMs), fmt(r.meteredMs), `${fmt(r.ratio, 2)}x`, fmt(r.depthMs), `${fmt(r.ratioDepth, 2)}x`,
        fmt(r.fastMs), `${fmt(r.ratioFast, 2)}x`, fmtFuel(r.fuelUsed), fmt(r.fuelPerNs, 2), `${fmt(r.noise, 0)}%`, r.rounds, r.checksum])
      process.stderr.write(`   (${k.name}: done)\n`) // progress, on stderr to keep stdout clean
    } catch (e) {
      fail(e.message)
      rows.push([k.name, k.what, 'FAILED', '', '', '', '', '', '', '', '', '', '', ''])
    }
  }
  console.log()
  table(['kernel', 'workload', 'plain ms', 'metered ms', 'ratio', '+depth ms', 'ratio', 'fast ms', 'ratio', 'fuel/run', 'fuel/ns', 'noise', 'rounds', 'checksum (all agree)'],
    rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'])
  if (out.length === 0) return null
  const gm = geomean(out.map((r) => r.ratio))
  const gmDepth = geomean(out.map((r) => r.ratioDepth))
  const gmFast = geomean(out.map((r) => r.ratioFast))
  console.log(`\n  geometric mean of ratios: metered ${fmt(gm, 2)}x   metered + stackDepth ${fmt(gmDepth, 2)}x   metering: 'fast' ${fmt(gmFast, 2)}x   (${out.length} kernels)`)
  console.log("  metered = exact metering (the default); fast = metering: 'fast' (same fuel on success, the whole budget on a trap).")
  console.log('  fuel/ns = fuel of one run / unmetered ns: metered instructions the engine retires per ns unmetered.')
  console.log(`  noise = largest interquartile range / median of the three variants' timings; rounds go from ${ROUNDS} up to ${MAX_ROUNDS} while it is above ${NOISY}%.`)
  const depthFuel = out.filter((r) => r.fuelDepth !== r.fuelUsed)
  if (depthFuel.length) console.log(`  note: fuel differs with stackDepth for ${depthFuel.map((r) => `${r.name} (${r.fuelDepth})`).join(', ')}`)
  const worst = out.reduce((a, b) => (b.ratio > a.ratio ? b : a))
  const best = out.reduce((a, b) => (b.ratio < a.ratio ? b : a))
  return { gm, gmDepth, gmFast, worst, best, count: out.length }
}

// ---------------------------------------------------------------------------------------------
// Section 2: rewrite throughput

async function sectionRewrite() {
  console.log(`\n== 2. Rewrite throughput: meter(bytes, { fuel: 'unlimited' }), median of ${REWRITE_RUNS} after 1 warm-up (MB = 10^6 bytes)`)
  const files = [
    ['esbuild.wasm', 'node_modules/esbuild-wasm/esbuild.wasm'],
    ['sql-wasm.wasm', 'node_modules/sql.js/dist/sql-wasm.wasm'],
    ['starlingmonkey_embedding.wasm', 'node_modules/@bytecodealliance/componentize-js/lib/starlingmonkey_embedding.wasm'],
    ['wasm-tools.core.wasm', 'node_modules/@bytecodealliance/jco-transpile/vendor/wasm-tools.core.wasm'],
  ]
  const rows = []
  const out = []
  for (const [name, rel] of files) {
    let bytes
    try { bytes = new Uint8Array(readFileSync(join(root, rel))) } catch (e) { fail(`${rel}: ${e.message}`); continue }
    try {
      meter(bytes, { fuel: 'unlimited' }) // warm-up
      const ms = []
      const validateMs = [] // meter() validates first (WebAssembly.validate): its share of the time
      let result
      for (let i = 0; i < REWRITE_RUNS; i++) {
        const t0 = performance.now()
        result = meter(bytes, { fuel: 'unlimited' })
        ms.push(performance.now() - t0)
        const t1 = performance.now()
        WebAssembly.validate(bytes)
        validateMs.push(performance.now() - t1)
      }
      const deep = meter(bytes, { fuel: 'unlimited', stackDepth: STACK_DEPTH })
      const valid = WebAssembly.validate(result.bytes) && WebAssembly.validate(deep.bytes)
      if (!valid) fail(`${name}: instrumented output does not validate`)
      const mb = bytes.length / 1e6
      const med = median(ms)
      const r = {
        name, mb, ms: med, mbps: mb / (med / 1000), validateMs: median(validateMs),
        growth: (result.bytes.length / bytes.length - 1) * 100,
        growthDepth: (deep.bytes.length / bytes.length - 1) * 100,
        valid,
      }
      out.push(r)
      rows.push([name, fmt(mb, 2), fmt(med, 0), fmt(r.mbps, 1), `${fmt(Math.min(...ms), 0)}-${fmt(Math.max(...ms), 0)}`,
        `${fmt(r.validateMs, 1)} (${fmt((r.validateMs / med) * 100, 0)}%)`, `+${fmt(r.growth, 1)}%`, `+${fmt(r.growthDepth, 1)}%`, valid ? 'yes' : 'NO'])
    } catch (e) {
      fail(`${name}: ${e.message}`)
      rows.push([name, fmt(bytes.length / 1e6, 2), 'FAILED', '', '', '', '', '', ''])
    }
  }
  console.log()
  table(['module', 'MB in', 'ms', 'MB/s', 'ms range', 'of which validate ms', 'size', 'size +depth', 'validates'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'])
  return out
}

// ---------------------------------------------------------------------------------------------
// Section 3: Sandbox round trips
//
// Sections 3-6 print each measure as a ratio to a raw baseline measured in the same run,
// interleaved with it (A/B rounds, rotating which goes first; the ratio is the median of
// each round's median ratio): what the sandbox adds over doing the same trip by hand with
// worker_threads, SharedArrayBuffer and WebAssembly (bench/raw-baselines.mjs).

const AB_ROUNDS = QUICK ? 3 : 7
const AB_BATCH = QUICK ? 100 : 300        // timed calls per variant per round

const ADD_WAT = `(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add))`

/** A row of a ratio table: the ratio first, then the measured and raw figures. */
const ratioRow = (measure, ratio, baseline, measured, raw, n) => [measure, ratio === null ? '' : `${fmt(ratio, 2)}x`, baseline, measured, raw, n]
const RATIO_HEADERS = ['measure', 'ratio', 'raw baseline (same run)', 'measured', 'raw', 'n']
const ratioTable = (rows) => table(RATIO_HEADERS, rows, ['l', 'r', 'l', 'r', 'r', 'r'])
const us = (x) => `${fmt(x, 1)} us`
const ms = (x, d = 1) => `${fmt(x, d)} ms`

function directCalls() {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(wat2wasm('add.wat', ADD_WAT)))
  const add = instance.exports.add
  let sink = 0
  for (let i = 0; i < 100000; i++) sink += add(i, 2)
  const N = 1_000_000
  const t0 = performance.now()
  for (let i = 0; i < N; i++) sink += add(i, 2)
  const ns = ((performance.now() - t0) * 1e6) / N
  return { ns, sink }
}

async function sectionSandbox() {
  console.log('\n== 3. Sandbox round trips (the Node adapter: import { Sandbox } from \'wasm-sandbox\') vs raw worker_threads')
  console.log(`   ${AB_ROUNDS} interleaved rounds per pair; ratio = measured / raw time (median of the rounds' ratios): below 1 is faster than raw`)
  const { Sandbox } = await import('wasm-sandbox')
  const addBytes = wat2wasm('add.wat', ADD_WAT)
  const options = { fuel: 1e6 }
  const check = (v, want, what) => { if (v !== want) throw new Error(`${what} returned ${v}, expected ${want}`) }
  try {
    // cold: the first create also loads the adapter's worker code
    let t0 = performance.now()
    const first = await withTimeout(Sandbox.create(ADD_WAT, options), 'Sandbox.create')
    const coldMs = performance.now() - t0
    await withTimeout(first.close(), 'close')
    t0 = performance.now()
    const rawFirst = await rawCreate(addBytes)
    const rawColdMs = performance.now() - t0
    await rawFirst.terminate()

    const perRound = Math.max(1, Math.round(CREATE_RUNS / AB_ROUNDS))
    /** Times `create` alone; `close` runs after, untimed. */
    const creates = async (create, close) => {
      const times = []
      for (let i = 0; i < perRound; i++) {
        const t = performance.now()
        const made = await create()
        times.push(performance.now() - t)
        await close(made)
      }
      return times
    }
    const create = await interleave(AB_ROUNDS, {
      sandbox: () => creates(() => withTimeout(Sandbox.create(ADD_WAT, options), 'Sandbox.create'), (sb) => sb.close()),
      raw: () => creates(() => rawCreate(addBytes), (worker) => worker.terminate()),
    }, 'raw')

    const sb = await withTimeout(Sandbox.create(ADD_WAT, options), 'Sandbox.create')
    const inline = await Sandbox.create(ADD_WAT, { ...options, isolation: 'inline' })
    /** Inline calls take about a microsecond: each sample is the mean of a run of 100, timed together. */
    const inlineCalls = async () => {
      const samples = []
      for (let s = 0; s < AB_BATCH / 10; s++) {
        const t = performance.now()
        for (let i = 0; i < 100; i++) check(await inline.call('add', i, 2), i + 2, `inline.call('add', ${i}, 2)`)
        samples.push(((performance.now() - t) * 1000) / 100)
      }
      return samples
    }
    const messages = new RawMessages(await startRawWorker())
    const pingPong = new RawPingPong(await startRawWorker())
    let calls
    try {
      for (let i = 0; i < CALL_WARMUP; i++) {
        await withTimeout(sb.call('add', i, 2), 'call')
        await inline.call('add', i, 2)
        await messages.add(i, i, 2)
        pingPong.call(0, i)
      }
      calls = await interleave(AB_ROUNDS, {
        call: () => timeEach(AB_BATCH, async (i) => check(await withTimeout(sb.call('add', i, 2), 'call'), i + 2, `sb.call('add', ${i}, 2)`)),
        inline: inlineCalls,
        message: () => timeEach(AB_BATCH, async (i) => check((await messages.add(i, i, 2)).value, i + 2, 'raw worker')),
        sab: () => timeEach(AB_BATCH, (i) => check(pingPong.call(0, i), i, 'raw ping-pong')),
      }, 'message')
    } finally {
      pingPong.stop()
      messages.close()
      await Promise.all([messages.worker.terminate(), pingPong.worker.terminate(), withTimeout(sb.close(), 'close'), inline.close()])
    }
    const direct = directCalls()
    const r = {
      createMs: create.median('sandbox'), rawCreateMs: create.median('raw'), createRatio: create.ratio('sandbox'),
      coldMs, rawColdMs,
      callUs: calls.median('call'), rawUs: calls.median('message'), sabUs: calls.median('sab'),
      ratio: calls.ratio('call'), sabRatio: calls.ratio('call', 'sab'), directNs: direct.ns,
      inlineUs: calls.median('inline'), inlineRatio: calls.ratio('inline'),
    }
    console.log()
    ratioTable([
      ratioRow('Sandbox.create(wat text, { fuel: 1e6 })', r.createRatio, 'new Worker + WebAssembly.compile + instantiate there', ms(r.createMs), ms(r.rawCreateMs), perRound * AB_ROUNDS),
      ratioRow('  (first in the process: loads the adapter)', coldMs / rawColdMs, '  (the first raw one)', ms(coldMs), ms(rawColdMs), 1),
      ratioRow('sb.call(\'add\', i, 2) round trip', r.ratio, 'worker postMessage round trip', us(r.callUs), us(r.rawUs), AB_BATCH * AB_ROUNDS),
      ratioRow('  (the same calls)', r.sabRatio, 'SharedArrayBuffer round trip, Atomics.wait/notify', us(r.callUs), us(r.sabUs), AB_BATCH * AB_ROUNDS),
      ratioRow('inline sb.call(\'add\', i, 2) ({ isolation: \'inline\' })', r.inlineRatio, 'worker postMessage round trip', us(r.inlineUs), us(r.rawUs), AB_BATCH * 10 * AB_ROUNDS),
      ratioRow('in-process instance.exports.add() (no worker)', null, '', `${fmt(r.directNs, 1)} ns`, '', 1_000_000),
    ])
    console.log('\n  Sandbox.create reuses a spare worker the Node adapter starts ahead (section 6 times a create without one) and')
    console.log('  its cache of compiled modules; the raw one starts a thread and compiles every time.')
    return { available: true, ...r }
  } catch (e) {
    fail(`sandbox section: ${e.code ? `${e.code}: ` : ''}${e.message}`)
    return { available: false, error: e.message }
  }
}

// ---------------------------------------------------------------------------------------------
// Section 4: host functions and bytes

const HOST_WAT = `(module
  (import "env" "inc" (func $inc (param i32) (result i32)))
  (func (export "callHost") (param i32) (result i32) (call $inc (local.get 0)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "loop") (param $n i32) (param $v i32) (result i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $v (call $inc (local.get $v)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $v)))`
const HOST_LOOP = QUICK ? 500 : 2000   // host calls inside one guest call
const HOST_LOOPS = QUICK ? 2 : 3        // such calls per round

const BYTES_WAT = `(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32) (local $p i32) (local $need i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (local.set $need (i32.sub (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16)) (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0)) (then (drop (memory.grow (local.get $need)))))
    (local.get $p))
  (func (export "free") (param i32 i32) (global.set $heap (i32.const 1024)))
  (func (export "echo") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32)) (i64.extend_i32_u (local.get 1)))))`

async function sectionRpc() {
  console.log('\n== 4. Host functions and bytes calls vs raw shared-memory and transfer round trips')
  const { Sandbox } = await import('wasm-sandbox')
  const hostSb = await Sandbox.create(HOST_WAT, { imports: { env: { inc: (x) => x + 1 } }, fuel: 1e9, timeout: '60s' })
  const pingPong = new RawPingPong(await startRawWorker())
  const check = (v, want, what) => { if (v !== want) throw new Error(`${what} returned ${v}, expected ${want}`) }
  let host
  try {
    for (let i = 0; i < CALL_WARMUP; i++) {
      await hostSb.call('callHost', i)
      await hostSb.call('add', i, 2)
      pingPong.call(1, i)
    }
    await hostSb.call('loop', HOST_LOOP, 0)
    pingPong.call(HOST_LOOP, 0)
    const perHostCall = async (run) => timeEach(HOST_LOOPS, async (i) => check(await run(i), i + HOST_LOOP, 'loop')).then((xs) => xs.map((x) => x / HOST_LOOP))
    host = await interleave(AB_ROUNDS, {
      callHost: () => timeEach(AB_BATCH, async (i) => check(await hostSb.call('callHost', i), i + 1, 'callHost')),
      raw1: () => timeEach(AB_BATCH, (i) => check(pingPong.call(1, i), i + 1, 'raw ping-pong')),
      add: () => timeEach(AB_BATCH, async (i) => check(await hostSb.call('add', i, 2), i + 2, 'add')),
      raw0: () => timeEach(AB_BATCH, (i) => check(pingPong.call(0, i), i, 'raw ping-pong')),
      loop: () => perHostCall((i) => hostSb.call('loop', HOST_LOOP, i)),
      rawLoop: () => perHostCall((i) => pingPong.call(HOST_LOOP, i)),
    }, 'raw1')
  } finally {
    pingPong.stop()
    await Promise.all([pingPong.worker.terminate(), hostSb.close()])
  }

  const bytesSb = await Sandbox.create(BYTES_WAT, { memory: '512MB', maxReplyBytes: '128MB', timeout: '60s' })
  const messages = new RawMessages(await startRawWorker())
  const throughput = []
  try {
    for (const size of [1 << 20, 64 << 20]) {
      const input = new Uint8Array(size).fill(7)
      const perRound = size > 1 << 20 ? 1 : 8
      await bytesSb.callBytes('echo', input)
      await messages.bytes(input)
      const r = await interleave(AB_ROUNDS, {
        call: () => timeEach(perRound, async () => check((await bytesSb.callBytes('echo', input)).length, size, 'callBytes echo')),
        raw: () => timeEach(perRound, async () => check((await messages.bytes(input)).length, size, 'raw transfer')),
      }, 'raw')
      const callMs = r.median('call') / 1000, rawMs = r.median('raw') / 1000
      throughput.push({ size, ms: callMs, rawMs, ratio: r.ratio('call'), mbps: (2 * size) / 1e6 / (callMs / 1000), rawMbps: (2 * size) / 1e6 / (rawMs / 1000), n: perRound * AB_ROUNDS })
    }
  } finally {
    messages.close()
    await Promise.all([messages.worker.terminate(), bytesSb.close()])
  }
  const r = {
    hostUs: host.median('callHost'), rawHostUs: host.median('raw1'), hostRatio: host.ratio('callHost'),
    plainUs: host.median('add'), rawPlainUs: host.median('raw0'), plainRatio: host.ratio('add', 'raw0'),
    loopUs: host.median('loop'), rawLoopUs: host.median('rawLoop'), loopRatio: host.ratio('loop', 'rawLoop'),
    hostVsPlain: host.ratio('callHost', 'add'),
    throughput,
  }
  const n = AB_BATCH * AB_ROUNDS
  console.log()
  ratioTable([
    ratioRow('call -> guest -> host function -> guest -> result', r.hostRatio, 'SharedArrayBuffer: call, 1 host round trip, result', us(r.hostUs), us(r.rawHostUs), n),
    ratioRow('  (the same sandbox, a call without host function)', r.plainRatio, 'SharedArrayBuffer: call, result', us(r.plainUs), us(r.rawPlainUs), n),
    ratioRow(`host function call inside a call (${HOST_LOOP} in a loop), each`, r.loopRatio, `SharedArrayBuffer: ${HOST_LOOP} host round trips, each`, us(r.loopUs), us(r.rawLoopUs), HOST_LOOPS * AB_ROUNDS),
    ...throughput.map((t) => ratioRow(`callBytes echo ${t.size >> 20} MiB (in + out)`, t.ratio, 'copy + transfer an ArrayBuffer there and back',
      `${ms(t.ms)} = ${fmt(t.mbps, 0)} MB/s`, `${ms(t.rawMs)} = ${fmt(t.rawMbps, 0)} MB/s`, t.n)),
  ])
  console.log(`\n  the raw shared-memory baseline blocks both threads in Atomics.wait (no spinning); a call with a host function costs ${fmt(r.hostVsPlain, 2)}x one without.`)
  return r
}

// ---------------------------------------------------------------------------------------------
// Section 5: WASI commands

const HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
const NODE_WASI_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { WASI } = require('node:wasi')
const run = () => {
  const wasi = new WASI({ version: 'preview1', args: ['hello'], env: {}, stdout: workerData.out, returnOnExit: true })
  const instance = new WebAssembly.Instance(workerData.module, { wasi_snapshot_preview1: wasi.wasiImport })
  return wasi.start(instance)
}
if (workerData.warm) parentPort.on('message', () => parentPort.postMessage(run()))
else parentPort.postMessage(run())`

async function sectionWasi() {
  console.log('\n== 5. WASI: runCommand of a C hello world (clang --target=wasm32-wasi) vs node:wasi')
  const { execFileSync } = await import('node:child_process')
  const { mkdtempSync, writeFileSync, readFileSync, openSync, closeSync } = await import('node:fs')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-wasi-'))
  try {
    writeFileSync(join(dir, 'hello.c'), HELLO_C)
    execFileSync('clang', ['--target=wasm32-wasi', '-O2', join(dir, 'hello.c'), '-o', join(dir, 'hello.wasm')])
  } catch (e) {
    console.log(`  skipped: clang for wasm32-wasi is not installed (${e.message.split('\n')[0]})`)
    return null
  }
  const bytes = readFileSync(join(dir, 'hello.wasm'))
  const { Sandbox } = await import('wasm-sandbox')
  const perRound = QUICK ? 2 : 3
  const module = new WebAssembly.Module(bytes)
  const out = openSync('/dev/null', 'w')
  const nodeWasi = async (warm) => {
    const worker = new Worker(NODE_WASI_WORKER, { eval: true, workerData: { module, out, warm }, execArgv: ['--no-warnings'] }) // node:wasi's ExperimentalWarning, once per worker
    if (warm) return worker
    await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
    await worker.terminate()
  }
  const hello = (o) => { if (o.stdout !== 'hello\n') throw new Error(`hello printed ${JSON.stringify(o.stdout)}`) }
  const cold = await interleave(AB_ROUNDS, {
    sandbox: () => timeEach(perRound, async () => {
      const sb = await Sandbox.create(bytes, { wasi: true })
      hello(await sb.runCommand())
      await sb.close() // in the time, as the raw worker's terminate
    }),
    raw: () => timeEach(perRound, () => nodeWasi(false)),
  }, 'raw')
  const sb = await Sandbox.create(bytes, { wasi: true })
  const worker = await nodeWasi(true)
  let ran = null
  worker.on('message', (code) => ran?.(code))
  worker.on('error', (e) => fail(`node:wasi worker: ${e.message}`))
  const rawRun = () => new Promise((resolve) => { ran = resolve; worker.postMessage(0) })
  const warmRuns = QUICK ? 5 : 10
  await sb.runCommand()
  await rawRun()
  const warm = await interleave(AB_ROUNDS, {
    sandbox: () => timeEach(warmRuns, async () => hello(await sb.runCommand())),
    raw: () => timeEach(warmRuns, async () => { if (await rawRun() !== 0) throw new Error('node:wasi hello failed') }),
  }, 'raw')
  await Promise.all([sb.close(), worker.terminate()])
  closeSync(out)
  const r = {
    cold: cold.median('sandbox') / 1000, node: cold.median('raw') / 1000, coldRatio: cold.ratio('sandbox'),
    warm: warm.median('sandbox') / 1000, nodeWarm: warm.median('raw') / 1000, warmRatio: warm.ratio('sandbox'),
  }
  console.log()
  ratioTable([
    ratioRow('cold: Sandbox.create + runCommand + close', r.coldRatio, 'node:wasi in a new Worker (module compiled once), + terminate', ms(r.cold), ms(r.node), perRound * AB_ROUNDS),
    ratioRow('warm: runCommand on a live sandbox (fresh instance)', r.warmRatio, 'node:wasi instance + start in a live worker, postMessage there and back', ms(r.warm, 2), ms(r.nodeWarm, 2), warmRuns * AB_ROUNDS),
  ])
  return r
}

// ---------------------------------------------------------------------------------------------
// Section 7: components

/** A component in text form; `salt` changes its bytes (and so its hash) without changing behaviour. */
const componentText = (salt) => `(component
  (core module $m
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (func (export "salt") (result i32) (i32.const ${salt}))
    (func (export "greet") (param $ptr i32) (param $len i32) (result i32)
      (global.set $bump (i32.const 1024))
      (i32.store (i32.const 8) (local.get $ptr))
      (i32.store (i32.const 12) (local.get $len))
      (i32.const 8)))
  (core instance $i (instantiate $m))
  (func (export "greet") (param "name" string) (result string)
    (canon lift (core func $i "greet") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc")))))`

async function sectionComponents() {
  console.log('\n== 7. Components: Sandbox.create of a component (transpile with jco, meter every core module, compile) and typed calls')
  const { Sandbox } = await import('wasm-sandbox')
  const { parse } = await import('@bytecodealliance/jco-transpile/wasm-tools')
  const RUNS = QUICK ? 5 : 15
  let t0 = performance.now()
  const first = await Sandbox.create(await parse(componentText(-1)))
  const firstMs = performance.now() - t0
  await first.close()
  const fresh = [], cached = []
  const spareReady = () => new Promise((resolve) => setTimeout(resolve, 150)) // as between a service's creates
  for (let i = 0; i < RUNS; i++) {
    const bytes = await parse(componentText(i))
    await spareReady()
    t0 = performance.now()
    const sb = await Sandbox.create(bytes)
    fresh.push(performance.now() - t0)
    await sb.close()
    await spareReady()
    t0 = performance.now()
    const again = await Sandbox.create(bytes)
    cached.push(performance.now() - t0)
    await again.close()
  }
  const sb = await Sandbox.create(await parse(componentText(0)))
  const name = 'a string argument ✓'
  const CALLS = QUICK ? 2_000 : 10_000
  for (let i = 0; i < 500; i++) await sb.call('greet', name)
  t0 = performance.now()
  for (let i = 0; i < CALLS; i++) await sb.call('greet', name)
  const callUs = ((performance.now() - t0) * 1000) / CALLS
  if ((await sb.call('greet', name)) !== name) throw new Error('greet did not echo its argument')
  await sb.close()

  // The same C program run directly (preview1) and adapted into a component (preview1 adapter -> WASI 0.2).
  let adapter = null
  try {
    const { componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools')
    const { execFileSync } = await import('node:child_process')
    const { mkdtempSync, writeFileSync, readFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(os.tmpdir(), 'bench-component-'))
    writeFileSync(join(dir, 'hello.c'), HELLO_C)
    execFileSync('clang', ['--target=wasm32-wasi', '-O2', join(dir, 'hello.c'), '-o', join(dir, 'hello.wasm')])
    const core = readFileSync(join(dir, 'hello.wasm'))
    const adapterBytes = readFileSync(new URL('../node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.command.wasm', import.meta.url))
    const component = await componentNew(new Uint8Array(core), [['wasi_snapshot_preview1', new Uint8Array(adapterBytes)]])
    const direct = await Sandbox.create(core, { wasi: true })
    const adapted = await Sandbox.create(component, { wasi: true })
    const runs = { direct: [], adapted: [] }
    for (let i = 0; i < RUNS * 2; i++) {
      for (const [key, box] of [['direct', direct], ['adapted', adapted]]) {
        t0 = performance.now()
        const out = await box.runCommand()
        runs[key].push(performance.now() - t0)
        if (out.stdout !== 'hello\n') throw new Error(`${key} hello printed ${JSON.stringify(out.stdout)}`)
      }
    }
    adapter = { direct: median(runs.direct), adapted: median(runs.adapted), fuelDirect: direct.lastUsage.fuelUsed, fuelAdapted: adapted.lastUsage.fuelUsed }
    await Promise.all([direct.close(), adapted.close()])
  } catch (e) {
    console.log(`  preview1 vs adapter: skipped (${e.message.split('\n')[0]})`)
  }
  console.log()
  const rows = [
    ['first component in the process (loads jco-transpile)', `${fmt(firstMs, 0)} ms`, 1],
    ['create, new component (transpile + meter + compile + worker)', `${fmt(median(fresh), 1)} ms`, RUNS],
    ['create, same component again (cached)', `${fmt(median(cached), 1)} ms`, RUNS],
    ['typed call round trip, string in and out', `${fmt(callUs, 1)} us`, CALLS],
  ]
  if (adapter) {
    rows.push(['hello.c runCommand, preview1 directly (warm)', `${fmt(adapter.direct, 2)} ms`, RUNS * 2])
    rows.push(['hello.c runCommand, adapted to a WASI 0.2 component (warm)', `${fmt(adapter.adapted, 2)} ms`, RUNS * 2])
  }
  table(['measure', 'median', 'n'], rows, ['l', 'r', 'r'])
  if (adapter) console.log(`  fuel of one run: ${adapter.fuelDirect} direct, ${adapter.fuelAdapted} adapted: the direct preview1 path stays the default for core modules.`)
  return { firstMs, freshMs: median(fresh), cachedMs: median(cached), callUs, adapter }
}

// ---------------------------------------------------------------------------------------------
// Section 6: pools

const POOL_SIZES = [1, 2, 4]
const POOL_RUN_MS = QUICK ? 400 : 1500  // how long each throughput measurement keeps the pool busy (in rounds, with the raw pool in between)
const POOL_ROUNDS = QUICK ? 2 : 3
const POOL_IN_FLIGHT = 16               // calls in flight per sandbox: the queue never runs dry
const POOL_CREATE_RUNS = QUICK ? 3 : 10
const KERNEL_TARGET_MS = 0.5            // the compute kernel's n is calibrated to take about this

// sum(n) = 1 + 2 + ... + n in an i64 (a compute-bound loop); add is the trivial export.
const POOL_WAT = `(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "sum") (param $n i32) (result i64) (local $i i32) (local $acc i64)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
      (br $next)))
    (local.get $acc)))`
const POOL_OPTIONS = { fuel: 'unlimited', timeout: '10s' }
const sumOf = (n) => (BigInt(n) * BigInt(n + 1)) / 2n

/** n such that one sum(n) call takes about KERNEL_TARGET_MS of guest time in a sandbox. */
async function calibrateSum(Sandbox) {
  const sb = await Sandbox.create(POOL_WAT, POOL_OPTIONS)
  try {
    let n = 100_000
    for (let attempt = 0; attempt < 4; attempt++) {
      for (let i = 0; i < 20; i++) await sb.call('sum', n) // warm up (Liftoff -> TurboFan)
      const times = []
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now()
        await sb.call('sum', n)
        times.push(performance.now() - t0)
      }
      const next = Math.max(1000, Math.round(n * (KERNEL_TARGET_MS / median(times))))
      if (Math.abs(next - n) / n < 0.1) break
      n = next
    }
    return n
  } finally {
    await sb.close()
  }
}

/**
 * Keeps max(1, size) * POOL_IN_FLIGHT calls of `fn` on `target` (a pool, a bare sandbox, or
 * a RawPool) in flight for `ms`; checks every result.
 */
async function drive(target, size, fn, args, expected, ms) {
  let calls = 0, wrong = 0, sample = ''
  const until = performance.now() + ms
  const runner = async () => {
    while (performance.now() < until) {
      const v = await target.call(fn, ...args)
      if (v !== expected && wrong++ === 0) sample = `call #${calls + 1} returned ${typeof v} ${String(v)}, expected ${String(expected)}`
      calls++
    }
  }
  const t0 = performance.now()
  await withTimeout(Promise.all(Array.from({ length: Math.max(1, size) * POOL_IN_FLIGHT }, runner)), `pool ${fn}`)
  return { calls, wrong, sample, s: (performance.now() - t0) / 1000 }
}

/**
 * Throughput of a pool of `size` (0: one bare Sandbox, which queues the calls itself) against
 * raw workers (max(1, size), the module unmetered, calls by postMessage with as many in
 * flight), in interleaved rounds. Ratio: raw calls/s / measured calls/s (time per call).
 */
async function poolThroughput({ Sandbox, SandboxPool }, size, fn, args, expected, wasmBytes) {
  const bare = size === 0
  const pool = bare
    ? await withTimeout(Sandbox.create(POOL_WAT, POOL_OPTIONS), 'Sandbox.create')
    : await withTimeout(SandboxPool.create(POOL_WAT, { ...POOL_OPTIONS, min: size, max: size, maxQueued: size * POOL_IN_FLIGHT }), 'SandboxPool.create')
  const raw = await RawPool.create(wasmBytes, Math.max(1, size))
  const rawTarget = { call: (f, ...a) => raw.call(f, a) }
  const what = bare ? 'bare sandbox' : `pool of ${size}`
  try {
    const warm = await drive(pool, size, fn, args, expected, Math.min(300, POOL_RUN_MS / 4)) // every sandbox's code tiered up
    if (warm.wrong) fail(`${what}, warm-up: ${warm.wrong} of ${warm.calls} calls of ${fn} returned a wrong value (first: ${warm.sample})`)
    await drive(rawTarget, size, fn, args, expected, Math.min(300, POOL_RUN_MS / 4))
    const before = bare ? null : pool.stats()
    let total = 0
    const r = await interleave(POOL_ROUNDS, {
      pool: async () => {
        const run = await drive(pool, size, fn, args, expected, POOL_RUN_MS / POOL_ROUNDS)
        if (run.wrong) fail(`${what}: ${run.wrong} of ${run.calls} calls of ${fn} returned a wrong value (first: ${run.sample})`)
        total += run.calls
        return [run.s / run.calls]
      },
      raw: async () => {
        const run = await drive(rawTarget, size, fn, args, expected, POOL_RUN_MS / POOL_ROUNDS)
        if (run.wrong) fail(`raw workers: ${run.wrong} of ${run.calls} calls of ${fn} returned a wrong value (first: ${run.sample})`)
        return [run.s / run.calls]
      },
    }, 'raw')
    if (!bare) {
      const after = pool.stats()
      if (after.failures !== before.failures) fail(`pool of ${size}: ${after.failures - before.failures} calls of ${fn} failed`)
      if (after.calls - before.calls !== total) fail(`pool of ${size}: stats counted ${after.calls - before.calls} calls, ${total} finished`)
    }
    return { size, calls: total, perS: 1 / r.median('pool'), rawPerS: 1 / r.median('raw'), ratio: r.ratio('pool') }
  } finally {
    await Promise.all([pool.close(), raw.close()])
  }
}

async function sectionPool() {
  console.log('\n== 6. Pools: SandboxPool throughput and first-call latency vs raw workers')
  const { Sandbox, SandboxPool } = await import('wasm-sandbox')
  if (typeof SandboxPool?.create !== 'function') {
    console.log('  skipped: SandboxPool is not available')
    return null
  }
  try {
    const wasmBytes = wat2wasm('pool.wat', POOL_WAT)
    const n = await calibrateSum(Sandbox)
    const workloads = [
      { id: 'add', label: 'add(40, 2) (trivial)', fn: 'add', args: [40, 2], expected: 42 },
      { id: 'sum', label: `sum(${fmtInt(n)}) (compute)`, fn: 'sum', args: [n], expected: sumOf(n) },
    ]
    const rows = []
    const throughput = {}
    const perS = (x) => `${fmtInt(Math.round(x))}/s`
    for (const w of workloads) {
      throughput[w.id] = []
      const bare = await poolThroughput({ Sandbox, SandboxPool }, 0, w.fn, w.args, w.expected, wasmBytes)
      rows.push(ratioRow(`${w.label}, no pool`, bare.ratio, '1 raw worker, same calls in flight', perS(bare.perS), perS(bare.rawPerS), fmtInt(bare.calls)))
      for (const size of POOL_SIZES) {
        const r = await poolThroughput({ Sandbox, SandboxPool }, size, w.fn, w.args, w.expected, wasmBytes)
        throughput[w.id].push(r)
        rows.push(ratioRow(`${w.label}, pool of ${size}`, r.ratio, `${size} raw worker${size > 1 ? 's' : ''}, same calls in flight`, perS(r.perS), perS(r.rawPerS), fmtInt(r.calls)))
      }
    }
    console.log()
    ratioTable(rows)
    console.log(`  ratio = time per call, pool / raw (raw calls/s / pool calls/s). ${POOL_IN_FLIGHT} calls in flight per sandbox (or raw worker), ${POOL_ROUNDS} interleaved rounds`)
    console.log(`  of ${fmt(POOL_RUN_MS / POOL_ROUNDS / 1000, 2)} s each after a warm-up; raw workers run the module unmetered and take calls by postMessage; n calibrated to ~${KERNEL_TARGET_MS} ms per sum call.`)
    console.log(`  'no pool' = the same ${POOL_IN_FLIGHT} calls in flight on one bare Sandbox (its own call queue).`)
    console.log(`  ${os.cpus().length} cores: sizes beyond the core count share them (the main thread dispatching calls needs one too).`)

    // First call: borrow + call on a warm pool just created, vs a cold Sandbox.create + first
    // call, each against raw workers doing the same. The Node adapter keeps one spare worker
    // thread started ahead of need, so "cold" is measured both with the spare ready and
    // without one (two creates at once: the second starts a worker thread from scratch).
    const t = { warmCall: [], laterCall: [], poolCreate: [], cold: [], coldNoSpare: [], rawFirst: [], rawLater: [], rawCreate4: [], rawCold: [] }
    const time = async (into, run) => { const t0 = performance.now(); const v = await run(); t[into].push(performance.now() - t0); return v }
    for (let i = 0; i < POOL_CREATE_RUNS; i++) {
      const pool = await time('poolCreate', () => withTimeout(SandboxPool.create(POOL_WAT, { ...POOL_OPTIONS, min: 4, max: 4 }), 'SandboxPool.create'))
      const v = await time('warmCall', () => withTimeout(pool.call('add', i, 2), 'pool.call'))
      if (v !== i + 2) fail(`pool.call('add', ${i}, 2) returned ${v}`)
      for (let j = 0; j < 50; j++) {
        const y = await time('laterCall', () => withTimeout(pool.call('add', j, 2), 'pool.call'))
        if (y !== j + 2) fail(`pool.call('add', ${j}, 2) returned ${y}`)
      }
      await pool.close()
      const raw = await time('rawCreate4', () => RawPool.create(wasmBytes, 4))
      if (await time('rawFirst', () => raw.call('add', [i, 2])) !== i + 2) fail('raw worker add')
      for (let j = 0; j < 50; j++) if (await time('rawLater', () => raw.call('add', [j, 2])) !== j + 2) fail('raw worker add')
      await raw.close()
      await new Promise((resolve) => setTimeout(resolve, 100)) // the spare worker is up again
      const sb = await time('cold', () => withTimeout(Sandbox.create(POOL_WAT, POOL_OPTIONS), 'Sandbox.create'))
      const w = await time('cold', () => withTimeout(sb.call('add', i, 2), 'call'))
      if (w !== i + 2) fail(`sb.call('add', ${i}, 2) returned ${w}`)
      await sb.close()
      const one = await time('rawCold', () => RawPool.create(wasmBytes, 1))
      if (await time('rawCold', () => one.call('add', [i, 2])) !== i + 2) fail('raw worker add')
      await one.close()
      await new Promise((resolve) => setTimeout(resolve, 100))
      const t0 = performance.now()
      const both = [Sandbox.create(POOL_WAT, POOL_OPTIONS), Sandbox.create(POOL_WAT, POOL_OPTIONS)]
      const x = await withTimeout(both[1], 'Sandbox.create').then((second) => withTimeout(second.call('add', i, 2), 'call'))
      t.coldNoSpare.push(performance.now() - t0)
      if (x !== i + 2) fail(`sb.call('add', ${i}, 2) returned ${x}`)
      await Promise.all(both.map(async (p) => (await p).close()))
    }
    for (const k of ['cold', 'rawCold']) t[k] = t[k].filter((_, j) => j % 2 === 0).map((x, j) => x + t[k][2 * j + 1]) // create + first call
    const m = Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, median(xs)]))
    const usOf = (x) => `${fmt(x * 1000, 0)} us`
    console.log()
    ratioTable([
      ratioRow('first pool.call right after SandboxPool.create (min = max = 4)', m.warmCall / m.rawFirst, 'first call on 4 raw workers just started', usOf(m.warmCall), usOf(m.rawFirst), t.warmCall.length),
      ratioRow('  (the next 50 pool.call, one at a time)', m.laterCall / m.rawLater, 'the next 50 raw calls (postMessage round trip)', usOf(m.laterCall), usOf(m.rawLater), t.laterCall.length),
      ratioRow('cold Sandbox.create + first call (spare worker ready)', m.cold / m.rawCold, 'new Worker + compile + instantiate there + first call', ms(m.cold), ms(m.rawCold), t.cold.length),
      ratioRow('cold Sandbox.create + first call (no spare: new thread)', m.coldNoSpare / m.rawCold, '  (the same)', ms(m.coldNoSpare), ms(m.rawCold), t.coldNoSpare.length),
      ratioRow('SandboxPool.create, 4 sandboxes', m.poolCreate / m.rawCreate4, '4 raw workers started, compiled, instantiated at once', ms(m.poolCreate), ms(m.rawCreate4), t.poolCreate.length),
    ])
    console.log(`\n  ratios of medians (each measure and its raw twin run in the same iteration). A warm pool answers its first call ${fmt(m.cold / m.warmCall, 0)}x sooner`)
    console.log(`  than a sandbox created for it (${fmt(m.coldNoSpare / m.warmCall, 0)}x without a spare worker).`)
    return {
      n, throughput, warmCallMs: m.warmCall, rawFirstMs: m.rawFirst, coldMs: m.cold, coldNoSpareMs: m.coldNoSpare, rawColdMs: m.rawCold,
      poolCreateMs: m.poolCreate, rawCreate4Ms: m.rawCreate4,
    }
  } catch (e) {
    fail(`pool section: ${e.code ? `${e.code}: ` : ''}${e.message}`)
    return null
  }
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

// ---------------------------------------------------------------------------------------------

const started = performance.now()
const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
const env = `node ${process.version} (V8 ${process.versions.v8}), ${cpu.trim()}, ${os.cpus().length} cores, ${os.platform()} ${os.arch()}`
console.log(`wasm-sandbox benchmarks${QUICK ? ' (--quick)' : ''}`)
console.log(`  ${env}`)
console.log(`  load average at start: ${os.loadavg().map((x) => fmt(x, 2)).join(' ')}`)
if (os.loadavg()[0] >= 0.75) console.log('  note: something else is using a core (load average >= 0.75): expect noisier timings; the medians absorb most of it')

const kernels = SKIP.has('kernels') ? null : await sectionKernels()
const rewrite = SKIP.has('rewrite') ? [] : await sectionRewrite()
const sandbox = SKIP.has('sandbox') ? null : await sectionSandbox()
const rpc = SKIP.has('rpc') ? null : await sectionRpc()
const wasiBench = SKIP.has('wasi') ? null : await sectionWasi()
const poolBench = SKIP.has('pool') ? null : await sectionPool()
const componentBench = SKIP.has('components') ? null : await sectionComponents()

const totalS = (performance.now() - started) / 1000
console.log(`\n  total ${fmt(totalS, 1)} s; load average at end: ${os.loadavg().map((x) => fmt(x, 2)).join(' ')}`)

// Summary, for pasting into a README.
console.log('\n== Summary (paste into README)\n')
console.log('```')
console.log(`wasm-sandbox benchmarks — ${env}`)
for (const [what, k] of kernels ? [['WAT', kernels.wat], ['C (clang -O2)', kernels.c]] : []) {
  if (!k) continue
  console.log(`Fuel metering overhead, ${k.count} ${what} compute kernels (geometric mean of metered/unmetered time):`)
  console.log(`  ${fmt(k.gm, 2)}x metered, ${fmt(k.gmDepth, 2)}x with stackDepth, ${fmt(k.gmFast, 2)}x with metering: 'fast'; range ${fmt(k.best.ratio, 2)}x (${k.best.name}) to ${fmt(k.worst.ratio, 2)}x (${k.worst.name})`)
}
if (kernels?.sqlite) console.log(`Fuel metering overhead on SQLite (sql.js workload): ${fmt(kernels.sqlite.exact, 2)}x metered, ${fmt(kernels.sqlite.fast, 2)}x with metering: 'fast'`)
for (const r of rewrite) {
  console.log(`meter() rewrite of ${r.name} (${fmt(r.mb, 1)} MB): ${fmt(r.mbps, 1)} MB/s (validation ${fmt((r.validateMs / r.ms) * 100, 0)}% of it), output +${fmt(r.growth, 1)}% (+${fmt(r.growthDepth, 1)}% with stackDepth)`)
}
// Sections 3-6: ratio to the raw baseline of the same run first, then the absolute figures on this machine.
const x = (r) => `${fmt(r, 2)}x`
if (sandbox?.available) {
  console.log(`Sandbox call round trip: ${x(sandbox.ratio)} a raw Worker postMessage round trip (${fmt(sandbox.callUs, 1)} us vs ${fmt(sandbox.rawUs, 1)} us), ${x(sandbox.sabRatio)} a raw SharedArrayBuffer one (${fmt(sandbox.sabUs, 1)} us)`)
  console.log(`Sandbox.create: ${x(sandbox.createRatio)} new Worker + compile (${fmt(sandbox.createMs, 1)} ms vs ${fmt(sandbox.rawCreateMs, 1)} ms)`)
}
if (rpc) {
  console.log(`Host function call: ${x(rpc.hostRatio)} a raw SharedArrayBuffer call with one host round trip (${fmt(rpc.hostUs, 1)} us vs ${fmt(rpc.rawHostUs, 1)} us); inside a call ${x(rpc.loopRatio)} (${fmt(rpc.loopUs, 1)} us vs ${fmt(rpc.rawLoopUs, 1)} us each)`)
  console.log(`callBytes echo: ${rpc.throughput.map((t) => `${t.size >> 20} MiB ${x(t.ratio)} a raw transfer round trip (${fmt(t.mbps, 0)} vs ${fmt(t.rawMbps, 0)} MB/s)`).join(', ')}`)
}
if (wasiBench) {
  console.log(`WASI hello: cold ${x(wasiBench.coldRatio)} node:wasi in a new worker (${fmt(wasiBench.cold, 1)} ms vs ${fmt(wasiBench.node, 1)} ms), warm ${x(wasiBench.warmRatio)} node:wasi in a live worker (${fmt(wasiBench.warm, 2)} ms vs ${fmt(wasiBench.nodeWarm, 2)} ms)`)
}
if (poolBench) {
  const row = (rs) => rs.map((r) => `${r.size}: ${x(r.ratio)} (${fmtInt(Math.round(r.perS))}/s vs ${fmtInt(Math.round(r.rawPerS))}/s)`).join(', ')
  console.log(`SandboxPool time per call vs as many raw workers — add: ${row(poolBench.throughput.add)}; sum (~${KERNEL_TARGET_MS} ms): ${row(poolBench.throughput.sum)}`)
  console.log(`First call on a warm pool ${x(poolBench.warmCallMs / poolBench.rawFirstMs)} raw (${fmt(poolBench.warmCallMs * 1000, 0)} us vs ${fmt(poolBench.rawFirstMs * 1000, 0)} us); Sandbox.create + first call ${x(poolBench.coldMs / poolBench.rawColdMs)} new Worker + compile + call (${fmt(poolBench.coldMs, 1)} ms, ${fmt(poolBench.coldNoSpareMs, 1)} ms without a spare worker, vs ${fmt(poolBench.rawColdMs, 1)} ms)`)
}
if (componentBench) {
  const a = componentBench.adapter
  console.log(`Components: create ${fmt(componentBench.freshMs, 1)} ms new (transpile), ${fmt(componentBench.cachedMs, 1)} ms cached (first in process ${fmt(componentBench.firstMs, 0)} ms); typed call with a string ${fmt(componentBench.callUs, 1)} us${a ? `; hello.c preview1 ${fmt(a.direct, 2)} ms vs adapted component ${fmt(a.adapted, 2)} ms` : ''}`)
}
console.log('```')

if (failed) console.log('\nSome checks FAILED (see "!!" lines above).')
process.exit(failed ? 1 : 0)
