#!/usr/bin/env node
// Two builds of wasm-sandbox side by side: fresh processes, alternated, the median of each
// build's medians. For a refactor's "no regression" check:
//   git worktree add /tmp/old <commit> && (cd /tmp/old && ln -s "$PWD/node_modules" . && npx tsc -p tsconfig.json)
//   node bench/compare-builds.mjs /tmp/old .        (the second defaults to this checkout)
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const [oldRoot, newRoot = resolve(fileURLToPath(new URL('..', import.meta.url)))] = process.argv.slice(2)
if (!oldRoot) {
  console.error('usage: node bench/compare-builds.mjs <old checkout, built> [<new checkout, built>]')
  process.exit(2)
}
const ALTERNATIONS = 6

if (process.env.COMPARE_BUILD) await measure(process.env.COMPARE_BUILD)
else {
  const runs = { old: [], new: [] }
  for (let i = 0; i < ALTERNATIONS; i++) {
    for (const [name, root] of [['old', oldRoot], ['new', newRoot]]) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), oldRoot], { env: { ...process.env, COMPARE_BUILD: resolve(root, 'dist/node-adapter/index.js') } })
      runs[name].push(JSON.parse(out.toString()))
    }
  }
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 }
  console.log(`${ALTERNATIONS} fresh processes per build, alternated; per process: 3000 untimed calls, then the median of 7 rounds of 500`)
  for (const task of Object.keys(runs.old[0])) {
    const a = median(runs.old.map((r) => r[task])), b = median(runs.new.map((r) => r[task]))
    console.log(`  ${task.padEnd(26)} old ${a.toFixed(1).padStart(7)} us   new ${b.toFixed(1).padStart(7)} us   new/old ${(b / a).toFixed(2)}x`)
  }
}

async function measure(entry) {
  const { Sandbox } = await import(entry)
  const sb = await Sandbox.create(`(module (import "env" "inc" (func $inc (param i32) (result i32)))
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "alloc") (param i32) (result i32) (global.get $heap))
    (func (export "echo") (param i32 i32) (result i64) (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32)) (i64.extend_i32_u (local.get 1))))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "callHost") (param i32) (result i32) (call $inc (local.get 0))))`, { fuel: 1e6, imports: { env: { inc: (x) => x + 1 } } })
  const bytes = new Uint8Array(1024)
  const tasks = {
    "sb.call('add')": (i) => sb.call('add', i, 2),
    'call with a host function': (i) => sb.call('callHost', i),
    'callBytes 1 KiB': () => sb.callBytes('echo', bytes),
    'callBytes x32 in flight': () => Promise.all(Array.from({ length: 32 }, () => sb.callBytes('echo', bytes))),
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  const out = {}
  for (const [name, fn] of Object.entries(tasks)) {
    for (let i = 0; i < 3000; i++) await fn(i)
    const rounds = []
    for (let r = 0; r < 7; r++) {
      const t = performance.now()
      for (let i = 0; i < 500; i++) await fn(i)
      rounds.push(((performance.now() - t) * 1000) / 500)
    }
    out[name] = median(rounds)
  }
  await sb.close()
  console.log(JSON.stringify(out))
}
