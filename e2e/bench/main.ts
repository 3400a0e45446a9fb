// Browser benchmark: Sandbox.create and call round trips, each against a raw baseline measured
// in the same page, interleaved (A/B rounds, rotating which goes first; the ratio is the median
// of the rounds' ratios): a raw Web Worker postMessage round trip, and new Worker +
// WebAssembly.compile + instantiate there.
import { Sandbox } from 'wasm-sandbox'

const ADD = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))'
/** The same module, as bytes. */
const ADD_BYTES = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3, 97, 100, 100, 0, 0, 10, 9, 1, 7, 0, 32, 0, 32, 1, 106, 11])
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2 }
const ROUNDS = 7
const BATCH = 300
const CREATES = 2

const RAW_WORKER = `let instance = null
onmessage = (e) => {
  const m = e.data
  if (m.module) WebAssembly.instantiate(m.module).then((i) => { instance = i; postMessage('ready') })
  else postMessage(instance ? instance.exports.add(m.args[0], m.args[1]) : m.args[0] + m.args[1])
}`
const rawUrl = URL.createObjectURL(new Blob([RAW_WORKER], { type: 'text/javascript' }))

const nextMessage = (worker: Worker) => new Promise<unknown>((resolve) => { worker.onmessage = (e) => resolve(e.data) })

async function rawCreate(): Promise<Worker> {
  const worker = new Worker(rawUrl)
  const module = await WebAssembly.compile(ADD_BYTES)
  const ready = nextMessage(worker)
  worker.postMessage({ module })
  await ready
  return worker
}

async function timeEach(n: number, run: (i: number) => Promise<unknown>, scale = 1000): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) { const t = performance.now(); await run(i); out.push((performance.now() - t) * scale) }
  return out
}

/** Interleaved rounds of `a` and `b`: medians of each and the median of the rounds' a/b ratios. */
async function interleave(a: () => Promise<number[]>, b: () => Promise<number[]>) {
  const all = { a: [] as number[], b: [] as number[] }
  const ratios: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const first = r % 2 === 0
    const x = first ? await a() : await b()
    const y = first ? await b() : await a()
    const [ra, rb] = first ? [x, y] : [y, x]
    all.a.push(...ra)
    all.b.push(...rb)
    ratios.push(median(ra) / median(rb))
  }
  return { a: median(all.a), b: median(all.b), ratio: median(ratios) }
}

async function main() {
  let t = performance.now()
  const first = await Sandbox.create(ADD)
  const coldMs = performance.now() - t
  await first.close()
  t = performance.now()
  const rawFirst = await rawCreate()
  const rawColdMs = performance.now() - t
  rawFirst.terminate()

  const createOnly = async (make: () => Promise<{ close(): unknown }>) => {
    const out: number[] = []
    for (let i = 0; i < CREATES; i++) { const t0 = performance.now(); const made = await make(); out.push(performance.now() - t0); await made.close() }
    return out
  }
  const create = await interleave(
    () => createOnly(() => Sandbox.create(ADD)),
    () => createOnly(async () => { const w = await rawCreate(); return { close: () => w.terminate() } }),
  )

  const sb = await Sandbox.create(ADD)
  const raw = await rawCreate()
  const rawCall = (i: number) => { const answer = nextMessage(raw); raw.postMessage({ args: [i, 2] }); return answer }
  for (let i = 0; i < 200; i++) { await sb.call('add', i, 2); await rawCall(i) }
  const calls = await interleave(
    () => timeEach(BATCH, async (i) => { if (await sb.call('add', i, 2) !== i + 2) throw new Error('sb.call') }),
    () => timeEach(BATCH, async (i) => { if (await rawCall(i) !== i + 2) throw new Error('raw worker') }),
  )
  // Inline: each sample is the mean of 100 calls timed together (one takes about a microsecond).
  const inline = await Sandbox.create(ADD, { isolation: 'inline', fuel: 1e6 })
  const inlineRuns = async () => {
    const out: number[] = []
    for (let s = 0; s < BATCH / 10; s++) {
      const t0 = performance.now()
      for (let i = 0; i < 100; i++) if (await inline.call('add', i, 2) !== i + 2) throw new Error('inline call')
      out.push(((performance.now() - t0) * 1000) / 100)
    }
    return out
  }
  const inlineCalls = await interleave(inlineRuns, () => timeEach(BATCH, async (i) => { if (await rawCall(i) !== i + 2) throw new Error('raw worker') }))
  await inline.close()
  await sb.close()
  raw.terminate()
  return {
    inlineUs: inlineCalls.a, inlineRawUs: inlineCalls.b, inlineRatio: inlineCalls.ratio,
    crossOriginIsolated, rounds: ROUNDS,
    coldMs, rawColdMs, warmMs: create.a, rawWarmMs: create.b, createRatio: create.ratio, creates: ROUNDS * CREATES,
    callUs: calls.a, rawUs: calls.b, callRatio: calls.ratio, calls: ROUNDS * BATCH,
  }
}

main().then((r) => { (window as any).__bench = r; document.getElementById('out')!.textContent = JSON.stringify(r, null, 2) },
  (e) => { (window as any).__bench = { error: String(e?.stack ?? e) } })
