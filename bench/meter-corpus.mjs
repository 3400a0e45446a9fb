// meter() on its first call per module, as Sandbox.create sees it: every distinct core module
// over 50 KB in node_modules, metered once each, in order, in a fresh process. The native body
// rewriter (core/meter/native/rewrite.c) and the TypeScript one run in alternating processes,
// beside the engine's own WebAssembly.validate of the same bytes (the raw baseline: meter()
// runs it first, and no rewrite can cost less than reading its input once).
// Run after a build: `node bench/meter-corpus.mjs [runs per rewriter, default 3]`.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = join(import.meta.dirname, '..')

function corpus() {
  const found = []
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      const stat = statSync(path, { throwIfNoEntry: false })
      if (stat?.isDirectory()) walk(path)
      else if (stat && name.endsWith('.wasm') && stat.size > 50_000) found.push(path)
    }
  }
  walk(join(root, 'node_modules'))
  const seen = new Set()
  return found.sort().filter((path) => {
    const bytes = readFileSync(path)
    const hash = createHash('sha256').update(bytes).digest('hex')
    if (seen.has(hash) || bytes[4] !== 1 || !WebAssembly.validate(bytes)) return false // a duplicate, a component, or invalid
    seen.add(hash)
    return true
  })
}

if (process.argv[2] === '--child') {
  const { meter } = await import('../dist/core/index.js')
  const { useNativeRewriter } = await import('../dist/core/meter/native-rewriter.js')
  useNativeRewriter(process.argv[3] === 'native')
  const files = JSON.parse(process.argv[4])
  const result = { bytes: 0, meterMs: 0, validateMs: 0 }
  for (const file of files) {
    const bytes = new Uint8Array(readFileSync(file))
    let t = performance.now()
    meter(bytes, { fuel: 'unlimited' })
    result.meterMs += performance.now() - t
    t = performance.now()
    WebAssembly.validate(bytes)
    result.validateMs += performance.now() - t
    result.bytes += bytes.length
  }
  console.log(JSON.stringify(result))
} else {
  const runs = Number(process.argv[2] ?? 3)
  const files = corpus()
  const mb = files.reduce((sum, f) => sum + statSync(f).size, 0) / 1e6
  const measured = { native: [], ts: [] }
  for (let i = 0; i < runs; i++) {
    for (const rewriter of ['native', 'ts']) {
      const out = execFileSync(process.execPath, [import.meta.filename, '--child', rewriter, JSON.stringify(files)], { encoding: 'utf8' })
      measured[rewriter].push(JSON.parse(out))
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const mbps = (ms) => mb / (ms / 1000)
  const native = median(measured.native.map((r) => r.meterMs)), ts = median(measured.ts.map((r) => r.meterMs))
  const validate = median([...measured.native, ...measured.ts].map((r) => r.validateMs))
  console.log(`\nmeter() first call per module, ${files.length} core modules from node_modules (${mb.toFixed(1)} MB), fresh process each run; median of ${runs}, ${process.version}`)
  console.log(`  native rewriter:     ${mbps(native).toFixed(1)} MB/s (${native.toFixed(0)} ms; runs ${measured.native.map((r) => mbps(r.meterMs).toFixed(0)).join(', ')})`)
  console.log(`  TypeScript rewriter: ${mbps(ts).toFixed(1)} MB/s (${ts.toFixed(0)} ms): native is ${(ts / native).toFixed(2)}x as fast`)
  console.log(`  raw baseline, WebAssembly.validate alone: ${mbps(validate).toFixed(0)} MB/s; meter() takes ${(native / validate).toFixed(2)}x a validation (which it includes)`)
  if (process.env.VERBOSE) console.log(files.map((f) => `  ${relative(root, f)}`).join('\n'))
}
