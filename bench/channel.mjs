#!/usr/bin/env node
// The CPU cost of the call channel's protocol code (core/protocol/), both sides driven in
// this thread: the host sends, the worker side serves (the runner announces a message so
// `serve` returns instead of parking), the host reads the answer. No second thread, and CPU
// time rather than wall time: a change to the hot path shows even on a busy machine, where
// sandbox round trips (bench/run.mjs section 3) swing with scheduling.
// Run after a build: `node bench/channel.mjs [dist root, default ..]`; to compare two builds,
// run it alternately against each and compare the medians.
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = process.argv[2] ?? join(fileURLToPath(import.meta.url), '..', '..')
const { CallChannel } = await import(join(root, 'dist/core/protocol/call-channel.js'))
const ROUNDS = 15

const channel = CallChannel.create(2)
const report = { fuelUsed: 5n, memoryBytes: 65536, hostCalls: 0 }
let handled = 0
let ran = 0
let runs = 1
/** The worker's side of a call; the last of `runs` announces a message, so `serve` returns. */
const run = (_fn, args, _fuel, input) => {
  if (++ran === runs) channel.announceMessage()
  return { ok: true, value: input ?? args[0] + args[1], report }
}
const noOutput = () => { throw new Error('no output goes by message here') }
const serve = (calls) => { ran = 0; runs = calls; channel.serve(handled++, run, noOutput) }

const small = new Uint8Array(100).fill(3)
const cases = [
  ['values call: sendCall, serve, readAnswer', 50_000, 1, (i) => {
    channel.sendCall(0, [i, 2])
    serve(1)
    if (channel.waitDone() !== 1 || channel.readAnswer().values[0] !== i + 2) throw new Error('values call')
  }],
  ['bytes call, 100 B: sendBytes, serve, readAnswer', 50_000, 1, (i) => {
    channel.sendBytes(0, small, i)
    serve(1)
    if (channel.waitDone() !== 1 || channel.readAnswer().output.length !== 100) throw new Error('bytes call')
  }],
  ['ring, 100 B: 32 x submit, serve, 32 x take', 2_000, 32, () => {
    for (let slot = 0; slot < 32; slot++) channel.submit(slot, 0, small, slot)
    serve(32)
    for (let slot = 0; slot < 32; slot++) if (channel.take(slot)?.output.length !== 100) throw new Error('ring call')
  }],
]

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
console.log(`call channel protocol, CPU ns per call (median and best of ${ROUNDS} rounds), ${root}`)
for (const [name, n, callsPerStep, step] of cases) {
  for (let i = 0; i < n; i++) step(i) // warm-up
  const perCall = []
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage()
    for (let i = 0; i < n; i++) step(i)
    const used = process.cpuUsage(before)
    perCall.push(((used.user + used.system) * 1000) / (n * callsPerStep))
  }
  console.log(`  ${name.padEnd(48)} ${median(perCall).toFixed(0).padStart(6)} ns  (best ${Math.min(...perCall).toFixed(0)})`)
}
