// Browser benchmark: Sandbox.create cold/warm and call round trips against a raw Web Worker
// postMessage round trip, measured side by side in one page.
import { Sandbox } from 'wasm-sandbox'

const ADD = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))'
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const CALLS = 2000

async function rawRoundTrips(): Promise<number[]> {
  const source = 'onmessage = (e) => postMessage(e.data.args[0] + e.data.args[1])'
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })))
  const once = (i: number) => new Promise<number>((resolve) => { worker.onmessage = (e) => resolve(e.data); worker.postMessage({ fn: 'add', args: [i, 2] }) })
  for (let i = 0; i < 200; i++) await once(i)
  const us: number[] = []
  for (let i = 0; i < CALLS; i++) { const t = performance.now(); await once(i); us.push((performance.now() - t) * 1000) }
  worker.terminate()
  return us
}

async function main() {
  let t = performance.now()
  const first = await Sandbox.create(ADD)
  const coldMs = performance.now() - t
  await first.close()
  const warm: number[] = []
  for (let i = 0; i < 10; i++) { t = performance.now(); const sb = await Sandbox.create(ADD); warm.push(performance.now() - t); await sb.close() }
  const sb = await Sandbox.create(ADD)
  for (let i = 0; i < 200; i++) await sb.call('add', i, 2)
  const calls: number[] = []
  for (let i = 0; i < CALLS; i++) { t = performance.now(); await sb.call('add', i, 2); calls.push((performance.now() - t) * 1000) }
  await sb.close()
  const raw = await rawRoundTrips()
  return { crossOriginIsolated, coldMs, warmMs: median(warm), callUs: median(calls), rawUs: median(raw) }
}

main().then((r) => { (window as any).__bench = r; document.getElementById('out')!.textContent = JSON.stringify(r, null, 2) },
  (e) => { (window as any).__bench = { error: String(e?.stack ?? e) } })
