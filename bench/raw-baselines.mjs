// Raw baselines for bench/run.mjs: the same trip a sandbox makes, done by hand with nothing
// but worker_threads, SharedArrayBuffer and WebAssembly, so every sandbox figure can be printed
// as a ratio against what the platform itself costs, measured in the same run.
import { Worker } from 'node:worker_threads'

/**
 * The raw worker. Messages: `add` (answers a + b: the postMessage round trip), `bytes`
 * (transfers the buffer straight back), `wasm` (instantiates a compiled module and answers
 * `call`s to its exports), `sab` (serves the shared-memory ping-pong below until `STOP`).
 */
const RAW_WORKER = `
const { parentPort } = require('node:worker_threads')
let instance = null
parentPort.on('message', (m) => {
  switch (m.type) {
    case 'add': parentPort.postMessage({ id: m.id, ok: true, value: m.args[0] + m.args[1] }); break
    case 'bytes': parentPort.postMessage(m.data, [m.data.buffer]); break
    case 'wasm': WebAssembly.instantiate(m.module).then((i) => { instance = i; parentPort.postMessage({ ready: true }) }); break
    case 'call': parentPort.postMessage({ id: m.id, value: instance.exports[m.fn](...m.args) }); break
    case 'sab': serveSab(new Int32Array(m.sab)); break
  }
})
// TURN: 1 CALL (host -> worker: make N host round trips), 2 HOST (worker asks), 3 ANSWER
// (host answers), 4 RESULT (worker -> host), 5 STOP. Both sides block in Atomics.wait: no spinning.
function serveSab(c) {
  for (;;) {
    let t
    while ((t = Atomics.load(c, 0)) !== 1 && t !== 5) Atomics.wait(c, 0, t)
    if (t === 5) return
    const n = c[1]
    let acc = c[2]
    for (let i = 0; i < n; i++) {
      c[2] = acc
      Atomics.store(c, 0, 2)
      Atomics.notify(c, 0)
      while (Atomics.load(c, 0) === 2) Atomics.wait(c, 0, 2)
      acc = c[2]
    }
    c[2] = acc
    Atomics.store(c, 0, 4)
    Atomics.notify(c, 0)
  }
}
// tells the parent the thread runs (for the start-up baseline)
parentPort.postMessage({ started: true })`

const once = (worker, pick) => new Promise((resolve, reject) => {
  const onMessage = (m) => { if (pick(m)) { worker.off('message', onMessage); worker.off('error', reject); resolve(m) } }
  worker.on('message', onMessage)
  worker.once('error', reject)
})

/** A started raw worker (the thread up and running). */
export async function startRawWorker() {
  const worker = new Worker(RAW_WORKER, { eval: true })
  await once(worker, (m) => m?.started)
  return worker
}

/** `new Worker` + `WebAssembly.compile` + instantiate there: the least a worker sandbox does. */
export async function rawCreate(wasmBytes) {
  const [worker, module] = await Promise.all([startRawWorker(), WebAssembly.compile(wasmBytes)])
  worker.postMessage({ type: 'wasm', module })
  await once(worker, (m) => m?.ready)
  return worker
}

/** postMessage round trips: `add(a, b)` answered by the worker. */
export class RawMessages {
  constructor(worker) {
    this.worker = worker
    this.pending = null
    this.onMessage = (m) => { const p = this.pending; this.pending = null; p?.(m) }
    worker.on('message', this.onMessage)
  }

  add(id, a, b) {
    return new Promise((resolve) => { this.pending = resolve; this.worker.postMessage({ type: 'add', id, args: [a, b] }) })
  }

  /** Calls an export of the module given to `rawCreate` (one call in flight at a time). */
  call(id, fn, args) {
    return new Promise((resolve) => { this.pending = resolve; this.worker.postMessage({ type: 'call', id, fn, args }) })
  }

  /** Transfers a copy of `bytes` to the worker and back (the copy stands for the caller keeping its input). */
  bytes(input) {
    const copy = input.slice()
    return new Promise((resolve) => { this.pending = resolve; this.worker.postMessage({ type: 'bytes', data: copy }, [copy.buffer]) })
  }

  close() {
    this.worker.off('message', this.onMessage)
  }
}

/**
 * The shared-memory ping-pong a host-function call stands on: the host (this thread) puts a
 * call in a SharedArrayBuffer and wakes the worker; the worker asks the host `n` times
 * (write, notify, wait), the host answers each; then the worker writes the result. Both
 * threads block in `Atomics.wait` (this one too: Node allows it on the main thread).
 */
export class RawPingPong {
  constructor(worker) {
    this.worker = worker
    this.c = new Int32Array(new SharedArrayBuffer(16))
    worker.postMessage({ type: 'sab', sab: this.c.buffer })
  }

  /** One call making `n` host round trips, each answering acc + 1; returns acc (= v + n). */
  call(n, v) {
    const c = this.c
    c[1] = n
    c[2] = v
    Atomics.store(c, 0, 1)
    Atomics.notify(c, 0)
    for (;;) {
      let t
      while ((t = Atomics.load(c, 0)) === 1 || t === 3) Atomics.wait(c, 0, t)
      if (t === 4) return c[2]
      c[2] = c[2] + 1 // t === 2: the worker asks
      Atomics.store(c, 0, 3)
      Atomics.notify(c, 0)
    }
  }

  stop() {
    Atomics.store(this.c, 0, 5)
    Atomics.notify(this.c, 0)
  }
}

/**
 * Interleaved rounds: each round runs every variant once (a batch of samples), rotating
 * which goes first. Returns every variant's samples, and the median over rounds of each
 * round's median ratio to `base`: robust to a machine whose speed drifts between rounds.
 */
export async function interleave(rounds, variants, base) {
  const names = Object.keys(variants)
  const samples = Object.fromEntries(names.map((n) => [n, []]))
  const roundMedians = Object.fromEntries(names.map((n) => [n, []]))
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(r + j) % names.length]
      const batch = await variants[name]()
      samples[name].push(...batch)
      roundMedians[name].push(median(batch))
    }
  }
  const ratio = (name, against = base) => median(roundMedians[name].map((m, r) => m / roundMedians[against][r]))
  return { samples, median: (name) => median(samples[name]), ratio }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Raw workers, each with the same module instantiated unmetered, taking calls by
 * postMessage with any number in flight: the baseline for a pool of as many sandboxes.
 */
export class RawPool {
  static async create(wasmBytes, size) {
    return new RawPool(await Promise.all(Array.from({ length: size }, () => rawCreate(wasmBytes))))
  }

  constructor(workers) {
    this.workers = workers
    this.pending = new Map()
    this.nextId = 0
    this.turn = 0
    for (const w of workers) w.on('message', (m) => { const p = this.pending.get(m.id); if (p) { this.pending.delete(m.id); p(m.value) } })
  }

  /** A call on the next worker in turn. */
  call(fn, args) {
    const id = this.nextId++
    const worker = this.workers[this.turn++ % this.workers.length]
    return new Promise((resolve) => { this.pending.set(id, resolve); worker.postMessage({ type: 'call', id, fn, args }) })
  }

  close() {
    return Promise.all(this.workers.map((w) => w.terminate()))
  }
}

/** Times `n` runs of `fn(i)` one after another; microseconds each. */
export async function timeEach(n, fn) {
  const us = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn(i)
    us.push((performance.now() - t0) * 1000)
  }
  return us
}
