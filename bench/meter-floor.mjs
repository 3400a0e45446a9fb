// How close is meter() to the least a rewrite must do? For real binaries: meter() (first call
// in the process and warm), WebAssembly.validate, and a bare walk that only decodes every
// instruction of every body (no edits, no output): in JavaScript, and the same walk in C
// compiled to wasm (needs clang; bench/meter-floor/walk.c). Warm figures are the best of 10.
// The walks skip immediates approximately (enough for these binaries: they count the same
// instructions in both languages). Run after a build: `node bench/meter-floor.mjs`.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { meter } from '../dist/core/index.js'

const root = join(import.meta.dirname, '..')
const FILES = [
  'node_modules/sql.js/dist/sql-wasm.wasm',
  'node_modules/@bytecodealliance/jco-transpile/vendor/wasm-tools.core.wasm',
  'node_modules/esbuild-wasm/esbuild.wasm',
]

/** [start, end) of each function body's instructions (after its local declarations). */
function bodies(b) {
  let p = 8
  const u = () => { let r = 0, s = 0, x; do { x = b[p++]; r += (x & 0x7f) * 2 ** s; s += 7 } while (x & 0x80); return r }
  const out = []
  while (p < b.length) {
    const id = b[p++], size = u(), end = p + size
    if (id === 10) {
      for (let n = u(); n > 0; n--) {
        const bodySize = u(), bodyEnd = p + bodySize
        for (let g = u(); g > 0; g--) { u(); p++ } // local groups (value types are one byte here)
        out.push([p, bodyEnd]); p = bodyEnd
      }
    }
    p = end
  }
  return out
}

function walkJs(code, ranges) {
  let n = 0
  for (const [start, end] of ranges) {
    let p = start
    while (p < end) {
      const op = code[p++]; n++
      if (op >= 0x45 && op <= 0xc4) continue
      if ((op >= 0x20 && op <= 0x24) || op === 0x10 || op === 0x0c || op === 0x0d || op === 0x3f || op === 0x40 || op === 0x41 || op === 0x42) { while (code[p++] & 0x80); continue }
      if (op >= 0x28 && op <= 0x3e) { while (code[p++] & 0x80); while (code[p++] & 0x80); continue }
      if (op === 0x43) { p += 4; continue }
      if (op === 0x44) { p += 8; continue }
      if (op === 0x02 || op === 0x03 || op === 0x04) { p++; continue }
      if (op === 0x11) { while (code[p++] & 0x80); while (code[p++] & 0x80); continue }
      if (op === 0x0e) {
        let k = 0, s = 0, x
        do { x = code[p++]; k += (x & 0x7f) * 2 ** s; s += 7 } while (x & 0x80)
        for (let i = 0; i <= k; i++) while (code[p++] & 0x80);
        continue
      }
      if (op === 0xfc) { const sub = code[p++]; if (sub === 10) p += 2; else if (sub === 11) p += 1 }
    }
  }
  return n
}

function wasmWalker() {
  const dir = mkdtempSync(join(tmpdir(), 'meter-floor-'))
  try {
    const out = join(dir, 'walk.wasm')
    execFileSync('clang', ['--target=wasm32-unknown-unknown', '-O2', '-nostdlib', '-Wl,--no-entry', '-Wl,--export-dynamic', join(root, 'bench/meter-floor/walk.c'), '-o', out])
    return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out))).exports
  } catch {
    return null
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const time = (f) => { const t = performance.now(); const r = f(); return [performance.now() - t, r] }
const best = (f) => { let min = Infinity; for (let i = 0; i < 10; i++) min = Math.min(min, time(f)[0]); return min }
const fmt = (ms) => `${ms.toFixed(1)} ms`
const walker = wasmWalker()
console.log(`meter() against a bare instruction walk, ${process.version}; warm = best of 10${walker ? '' : ' (clang missing: no wasm walk)'}`)
for (const file of FILES) {
  const bytes = new Uint8Array(readFileSync(join(root, file)))
  const ranges = bodies(bytes)
  const [firstMs] = time(() => meter(bytes, { fuel: 'unlimited' }))
  const meterMs = best(() => meter(bytes, { fuel: 'unlimited' }))
  const validateMs = best(() => WebAssembly.validate(bytes))
  const [jsFirstMs, count] = time(() => walkJs(bytes, ranges))
  const jsMs = best(() => walkJs(bytes, ranges))
  let wasm = ''
  if (walker) {
    const mem = new Uint8Array(walker.memory.buffer), base = walker.buffer()
    mem.set(bytes, base)
    const table = new Uint32Array(ranges.flat()) // offsets into buf, where the module is copied
    const at = (base + bytes.length + 7) & ~7
    new Uint8Array(walker.memory.buffer).set(new Uint8Array(table.buffer), at)
    const n = walker.walk(ranges.length, at - base)
    if (n !== count) throw new Error(`${file}: the walks disagree (${n} vs ${count} instructions)`)
    wasm = `; the same walk in wasm ${fmt(best(() => walker.walk(ranges.length, at - base)))}`
  }
  const mb = bytes.length / 1e6
  console.log(`${file.split('/').pop()} (${mb.toFixed(2)} MB, ${count.toLocaleString('en-US')} instructions): meter() ${fmt(firstMs)} first, ${fmt(meterMs)} warm (${(mb / (meterMs / 1000)).toFixed(0)} MB/s); validate ${fmt(validateMs)}; bare walk in JavaScript ${fmt(jsMs)} warm (${fmt(jsFirstMs)} first)${wasm}`)
}
