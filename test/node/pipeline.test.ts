// Pipelined bytes calls (core/sandbox/call-pipeline.ts): calls queued on one sandbox run
// back to back in its worker through the channel's ring. They must behave exactly as calls
// one by one — results, errors, usage, state — through traps, timeouts, host functions,
// outputs too large for a ring slot, and close().
import { describe, expect, it } from 'vitest'
import { Sandbox, SandboxError, SandboxPool, type SandboxEvent } from 'wasm-sandbox'
import { rejectsWith } from './helpers.js'

/**
 * `step(input)` bumps a counter and replies [counter (u32 LE), ...input]. The first input
 * byte picks a misbehaviour: 0xFF traps (after counting), 0xFE loops forever, 0xFD works
 * for input[1] x 1,000,000 iterations first, 0xFC calls the host's `tick` with input[1] and
 * replies with its result instead. `big` replies with 20,000 bytes.
 */
const PIPE_WAT = `(module
  (import "host" "tick" (func $tick (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $count (mut i32) (i32.const 0))
  (func (export "alloc") (param $len i32) (result i32) (local $need i32)
    (local.set $need (i32.sub (i32.shr_u (i32.add (i32.add (i32.const 65536) (local.get $len)) (i32.const 65535)) (i32.const 16)) (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0)) (then (drop (memory.grow (local.get $need)))))
    (i32.const 65536))
  (func $pack (param $p i32) (param $l i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $l))))
  (func (export "step") (param $p i32) (param $l i32) (result i64) (local $op i32) (local $n i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (if (i32.gt_u (local.get $l) (i32.const 0)) (then (local.set $op (i32.load8_u (local.get $p)))))
    (if (i32.eq (local.get $op) (i32.const 0xFF)) (then unreachable))
    (if (i32.eq (local.get $op) (i32.const 0xFE)) (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $op) (i32.const 0xFD)) (then
      (local.set $n (i32.mul (i32.load8_u offset=1 (local.get $p)) (i32.const 1000000)))
      (loop $work (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $work (i32.gt_s (local.get $n) (i32.const 0))))))
    (if (i32.eq (local.get $op) (i32.const 0xFC)) (then
      (i32.store (i32.const 0) (call $tick (i32.load8_u offset=1 (local.get $p))))
      (return (call $pack (i32.const 0) (i32.const 4)))))
    (i32.store (i32.const 0) (global.get $count))
    (memory.copy (i32.const 4) (local.get $p) (local.get $l))
    (call $pack (i32.const 0) (i32.add (local.get $l) (i32.const 4))))
  (func (export "big") (param i32 i32) (result i64) (call $pack (i32.const 0) (i32.const 20000)))
)`

const host = { host: { tick: (n: number) => n * 2 } }

/** A deterministic stream of inputs: mostly small, some larger than a ring slot (8 KiB), some traps. */
function inputs(count: number, seed: number): Uint8Array[] {
  let x = seed
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32
  return Array.from({ length: count }, () => {
    const size = next() < 0.1 ? 8000 + Math.floor(next() * 4000) : Math.floor(next() * 300)
    const input = new Uint8Array(size).map(() => Math.floor(next() * 200))
    if (size > 0 && next() < 0.05) input[0] = 0xFF
    return input
  })
}

type Seen = { ok: boolean; value: string; fuel: bigint }
const describeCall = (r: PromiseSettledResult<Uint8Array>): string => r.status === 'fulfilled' ? Buffer.from(r.value).toString('hex') : (r.reason as SandboxError).code

describe('pipelined bytes calls', () => {
  it('behave exactly as calls one by one: results, errors, state and fuel (300 calls, some traps, some larger than a slot)', async () => {
    const calls = inputs(300, 7)
    const run = async (concurrent: boolean): Promise<Seen[]> => {
      const events: SandboxEvent[] = []
      const sb = await Sandbox.create(PIPE_WAT, { imports: host, onEvent: (e) => events.push(e) })
      const settled: PromiseSettledResult<Uint8Array>[] = []
      if (concurrent) settled.push(...await Promise.allSettled(calls.map((c) => sb.callBytes('step', c))))
      else for (const c of calls) settled.push((await Promise.allSettled([sb.callBytes('step', c)]))[0]!)
      await sb.close()
      const usage = events.filter((e) => e.type === 'call')
      expect(usage).toHaveLength(calls.length)
      return settled.map((r, i) => ({ ok: r.status === 'fulfilled', value: describeCall(r), fuel: (usage[i] as { usage: { fuelUsed: bigint } }).usage.fuelUsed }))
    }
    const oneByOne = await run(false)
    const pipelined = await run(true)
    expect(pipelined).toEqual(oneByOne)
    expect(oneByOne.filter((r) => !r.ok).length).toBeGreaterThan(5) // the traps were there
    // A trap leaves a bare sandbox's instance as it was: the counter went on through them.
    expect(Buffer.from(oneByOne.at(-1)!.value, 'hex').readUInt32LE(0)).toBe(300)
  })

  it('in a pool, a call that traps leaves a fresh instance for the next, even one already pipelined', async () => {
    const pool = await SandboxPool.create(PIPE_WAT, { imports: host, min: 1, max: 1 })
    const calls = Array.from({ length: 60 }, (_, i) => new Uint8Array(i % 20 === 9 ? [0xFF] : [1]))
    const settled = await Promise.allSettled(calls.map((c) => pool.callBytes('step', c)))
    let expected = 0
    settled.forEach((r, i) => {
      expected++
      if (calls[i]![0] === 0xFF) {
        expect(r.status === 'rejected' && (r.reason as SandboxError).code).toBe('TRAP')
        expected = 0 // the next call starts on a fresh instance
      } else {
        expect(r.status === 'fulfilled' && Buffer.from(r.value).readUInt32LE(0), `call ${i}`).toBe(expected)
      }
    })
    expect(pool.stats()).toMatchObject({ calls: 60, failures: 3, queued: 0 })
    await pool.close()
  })

  it('in a pool, pipelined calls count against maxQueued: beyond it, OVERLOADED', async () => {
    const pool = await SandboxPool.create(PIPE_WAT, { imports: host, min: 1, max: 1, maxQueued: 3, fuel: 'unlimited' })
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => pool.callJson('step', [0xFD, 2]).catch((e: SandboxError) => { throw e })))
    // One runs, three wait behind it; the rest are refused at once. (The replies are not JSON: TRAP.)
    expect(settled.map((r) => (r.reason as SandboxError).code)).toEqual(['TRAP', 'TRAP', 'TRAP', 'TRAP', ...Array(6).fill('OVERLOADED')])
    expect((settled[9] as PromiseRejectedResult).reason).toMatchObject({ kind: 'queue', limit: 3, used: 3 })
    expect(pool.stats()).toMatchObject({ queued: 0, calls: 10, failures: 10 })
    await pool.close()
  })

  it('a runaway call times out alone: those before it answered, those behind it run on a fresh worker', async () => {
    const sb = await Sandbox.create(PIPE_WAT, { imports: host, timeout: '300ms' })
    const calls = [...Array.from({ length: 5 }, () => new Uint8Array([1])), new Uint8Array([0xFE]), ...Array.from({ length: 5 }, () => new Uint8Array([2]))]
    const settled = await Promise.allSettled(calls.map((c) => sb.callBytes('step', c)))
    const counts = settled.map((r) => (r.status === 'fulfilled' ? Buffer.from(r.value).readUInt32LE(0) : (r.reason as SandboxError).code))
    expect(counts).toEqual([1, 2, 3, 4, 5, 'TIMEOUT', 1, 2, 3, 4, 5])
    const timeout = (settled[5] as PromiseRejectedResult).reason as SandboxError
    expect(timeout).toMatchObject({ export: 'step', kind: 'time', limit: 300 })
    expect(await sb.callJson('step', 1).catch(() => 'not JSON')).toBe('not JSON') // the sandbox still serves
    await sb.close()
  })

  it('counts each call\'s timeout from when it starts, not from when it was queued', async () => {
    const sb = await Sandbox.create(PIPE_WAT, { imports: host, timeout: '500ms', fuel: 'unlimited' })
    // ~50 ms a call (10x under the timeout), 40 calls queued at once: ~4x the timeout in all.
    // A calibration taken while the machine is busy can make the calls too short to prove
    // anything, so a batch that ends within the timeout is run again with more work per call.
    await sb.callBytes('step', new Uint8Array([0xFD, 10])) // warm up: the engine optimizes the loop
    let started = performance.now()
    await sb.callBytes('step', new Uint8Array([0xFD, 10]))
    let units = Math.min(255, Math.max(1, Math.round(50 / Math.max(0.01, (performance.now() - started) / 10))))
    let elapsed = 0
    for (let round = 0; round < 6 && elapsed <= 600; round++, units = Math.min(255, units * 2)) {
      started = performance.now()
      const settled = await Promise.allSettled(Array.from({ length: 40 }, () => sb.callBytes('step', new Uint8Array([0xFD, units]))))
      elapsed = performance.now() - started
      expect(settled.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual([])
    }
    expect(elapsed).toBeGreaterThan(500) // else this test proves nothing
    await sb.close()
  })

  it('serves host functions called from pipelined calls, in order', async () => {
    const sb = await Sandbox.create(PIPE_WAT, { imports: host })
    const outputs = await Promise.all(Array.from({ length: 50 }, (_, i) => sb.callBytes('step', new Uint8Array([0xFC, i]))))
    expect(outputs.map((o) => Buffer.from(o).readUInt32LE(0))).toEqual(Array.from({ length: 50 }, (_, i) => i * 2))
    expect(sb.usage().hostCalls).toBe(50)
    await sb.close()
  })

  it('brings outputs larger than a ring slot by message, in order with the rest', async () => {
    const sb = await Sandbox.create(PIPE_WAT, { imports: host })
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? sb.callBytes('big', new Uint8Array()) : sb.callBytes('step', new Uint8Array([i])))))
    results.forEach((r, i) => {
      if (i % 3 === 0) expect(r.length).toBe(20000)
      else expect([...r.subarray(4)]).toEqual([i])
    })
    await sb.close()
  })

  it('close() settles every pipelined call (answered or CLOSED), and nothing hangs', async () => {
    const sb = await Sandbox.create(PIPE_WAT, { imports: host, fuel: 'unlimited' })
    const pending = Array.from({ length: 100 }, () => sb.callBytes('step', new Uint8Array([0xFD, 1])))
    const all = Promise.allSettled(pending)
    await new Promise((resolve) => setTimeout(resolve, 5))
    await sb.close()
    const settled = await all
    for (const r of settled) if (r.status === 'rejected') expect((r.reason as SandboxError).code).toBe('CLOSED')
    expect(settled.some((r) => r.status === 'rejected')).toBe(true)
    await rejectsWith(sb.callBytes('step', new Uint8Array([1])), 'CLOSED')
  })

  it('an onEvent observer that throws breaks none of the pipelined calls', async () => {
    let calls = 0
    const sb = await Sandbox.create(PIPE_WAT, { imports: host, onEvent: (e) => { if (e.type === 'call' && ++calls === 4) throw new Error('the observer failed') } })
    const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => sb.callBytes('step', new Uint8Array([i]))))
    expect(settled.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as Error).message))).toEqual(Array(8).fill('ok'))
    expect(calls).toBe(8)
    await sb.close()
  })

  it('a host function that throws a huge message fails its call with HOST_ERROR; the calls behind it go on', async () => {
    const sb = await Sandbox.create(PIPE_WAT, { imports: { host: { tick: (n: number) => { if (n === 7) throw new Error('x'.repeat(100_000)); return n } } } })
    const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => sb.callBytes('step', new Uint8Array([0xFC, i]))))
    expect(settled.map((r) => (r.status === 'fulfilled' ? Buffer.from(r.value).readUInt32LE(0) : (r.reason as SandboxError).code)))
      .toEqual([0, 1, 2, 3, 4, 5, 6, 'HOST_ERROR', 8, 9, 10, 11])
    await sb.close()
  })
})
