import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { Sandbox, SandboxPool } from 'wasm-sandbox'
import { MAX_AUDIT_EVENTS } from 'wasm-sandbox/core'
import { rejectsWith } from './helpers.js'

// Hostile guests from issue 18: each ends in its exact typed error, the next call works,
// and the host's heap and event loop stay bounded (generous bounds: this checks orders of
// magnitude, not timings).

const MiB = 2 ** 20

/** Runs `body` while measuring the host's event-loop stalls and heap growth. */
async function measured<T>(body: () => Promise<T>): Promise<{ value: T; maxDelayMs: number; heapGrowth: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  const before = hostBytes()
  histogram.enable()
  try {
    const value = await body()
    return { value, maxDelayMs: histogram.max / 1e6, heapGrowth: hostBytes() - before }
  } finally {
    histogram.disable()
  }
}
const hostBytes = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }

/** A bump allocator and `reply(n)`: grows memory and answers with n bytes from address 0, by doubling memory.copy. */
const AMPLIFIER = `(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32) (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len))) (local.get $p))
  (func (export "free") (param i32 i32))
  ;; the input is 4 bytes: how many bytes to reply with
  (func (export "reply") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $have i32)
    (local.set $n (i32.load (local.get $ptr)))
    (drop (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 1))))
    (i32.store8 (i32.const 0) (i32.const 123))
    (local.set $have (i32.const 1))
    (block $done (loop $double
      (br_if $done (i32.ge_u (local.get $have) (local.get $n)))
      (memory.copy (local.get $have) (i32.const 0) (local.get $have))
      (local.set $have (i32.shl (local.get $have) (i32.const 1)))
      (br $double)))
    (i64.extend_i32_u (local.get $n)))
  (func (export "echo") (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len)))))`

const size = (n: number) => new Uint8Array(new Uint32Array([n]).buffer)

describe('maxReplyBytes (issue 18, item 7)', () => {
  it('a 64 MiB reply from little fuel is OUTPUT_LIMIT in the worker: the host never holds it', async () => {
    const sb = await Sandbox.create(AMPLIFIER, { memory: '128MB' })
    const { value: error, maxDelayMs, heapGrowth } = await measured(() => rejectsWith(sb.callBytes('reply', size(64 * MiB)), 'OUTPUT_LIMIT'))
    expect(error).toMatchObject({ kind: 'reply', limit: 16 * MiB, used: 64 * MiB, export: 'reply' })
    expect(error.suggestion).toMatch(/maxReplyBytes/)
    expect(heapGrowth).toBeLessThan(32 * MiB)
    expect(maxDelayMs).toBeLessThan(1000)
    expect(new TextDecoder().decode(await sb.callBytes('echo', new TextEncoder().encode('next')))).toBe('next')
    await sb.close()
  })

  it('is per sandbox, takes units, and callJson replies under it pass', async () => {
    const sb = await Sandbox.create(AMPLIFIER, { maxReplyBytes: '1KB' })
    expect((await sb.callBytes('reply', size(1024))).length).toBe(1024)
    const error = await rejectsWith(sb.callBytes('reply', size(1025)), 'OUTPUT_LIMIT')
    expect(error).toMatchObject({ limit: 1024, used: 1025 })
    await rejectsWith(sb.callJson('echo', 'x'.repeat(2000)), 'OUTPUT_LIMIT') // the reply is checked, not the request
    expect(await sb.callJson('echo', { ok: true })).toEqual({ ok: true })
    await sb.close()
    await rejectsWith(Sandbox.create(AMPLIFIER, { maxReplyBytes: '1 kb' }), 'CONFIG')
  })

  it('a pool keeps the instance after OUTPUT_LIMIT and serves the next call', async () => {
    const pool = await SandboxPool.create(AMPLIFIER, { maxReplyBytes: 4096, max: 1 })
    const results = await Promise.allSettled([pool.callBytes('reply', size(8192)), pool.callJson('echo', [1, 2])])
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'OUTPUT_LIMIT' } })
    expect(results[1]).toMatchObject({ status: 'fulfilled', value: [1, 2] })
    await pool.close()
  })
})

describe('oversized errors stay typed (issue 18, item 6)', () => {
  const longName = 'x'.repeat(200_000)
  const wat = `(module
    (memory (export "memory") 1)
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "${longName}") (param i32 i32) (result i64) unreachable)
    (func (export "${longName}2") unreachable)
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`

  it('a trap in an export with a 200 KB name is a TRAP with bounded fields, on every path', async () => {
    const sb = await Sandbox.create(wat)
    const { value: errors, heapGrowth } = await measured(async () => [
      await rejectsWith(sb.call(`${longName}2`), 'TRAP'), // the call channel's data area
      await rejectsWith(sb.callBytes(longName, new Uint8Array(4)), 'TRAP'), // a ring slot
      await rejectsWith(sb.callBytes(longName, new Uint8Array(9000)), 'TRAP'), // alone, through the data area
      ((await sb.callBatch([{ fn: `${longName}2` }]))[0] as { error: Error & { code: string } }).error, // by message
    ])
    for (const error of errors) {
      expect((error as { code: string }).code).toBe('TRAP')
      expect(error.message.length).toBeLessThan(4096)
      expect(((error as { export?: string }).export ?? '').length).toBeLessThan(1024)
    }
    expect(heapGrowth).toBeLessThan(64 * MiB)
    expect(await sb.call('add', 2, 3)).toBe(5)
    await sb.close()
  })
})

describe('audit flood (issue 18, item 4)', () => {
  // Two denied WASI calls alternating, n times each; then n denied mkdirs (a read-only mount)
  // with 4000 distinct paths.
  const wat = `(module
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "alternate") (param $n i32)
      (loop $l
        (drop (call $random (i32.const 0) (i32.const 8)))
        (drop (call $clock (i32.const 0) (i64.const 0) (i32.const 0)))
        (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "distinct") (param $n i32)
      (memory.fill (i32.const 0) (i32.const 97) (i32.const 4096)) ;; paths "a", "aa", ...
      (loop $l
        (drop (call $mkdir (i32.const 3) (i32.const 0) (i32.add (i32.rem_u (local.get $n) (i32.const 4000)) (i32.const 1))))
        (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`

  it('a million alternating denials fold into two events with counts; the host stays responsive', async () => {
    const sb = await Sandbox.create(wat, { wasi: true, fuel: 1e9, timeout: '60s' })
    const { maxDelayMs, heapGrowth } = await measured(() => sb.call('alternate', 1_000_000))
    const events = sb.audit()
    expect(events.map((e) => [e.capability, e.operation, e.count])).toEqual([['random', 'random_get', 1_000_000], ['clock', 'clock_time_get', 1_000_000]])
    expect(maxDelayMs).toBeLessThan(1000)
    expect(heapGrowth).toBeLessThan(64 * MiB)
    expect(await sb.call('add', 1, 2)).toBe(3)
    await sb.close()
  })

  it('distinct denials are capped per call with { dropped: N }, and the host log is a bounded ring', async () => {
    const seen: unknown[] = []
    const sb = await Sandbox.create(wat, { wasi: { preopens: { '/': { files: {}, readonly: true } } }, timeout: '60s', onEvent: (e) => { if (e.type === 'audit') seen.push(e) } })
    const { maxDelayMs } = await measured(() => sb.call('distinct', 200_000))
    const events = sb.audit()
    expect(events.length).toBe(65)
    expect(events.at(-1)).toMatchObject({ capability: 'audit', operation: 'dropped', dropped: 200_000 - 64 * 50 }) // 64 distinct paths kept, each seen 50 times
    expect(events.slice(0, 64).every((e) => e.operation === 'path_create_directory')).toBe(true)
    expect(seen.length).toBe(65)
    expect(maxDelayMs).toBeLessThan(1000)
    // Calls enough to overflow the host's log: it keeps the newest MAX_AUDIT_EVENTS.
    const calls = Math.ceil(MAX_AUDIT_EVENTS / 65) + 3
    for (let i = 0; i < calls; i++) await sb.call('distinct', 100)
    const log = sb.audit()
    expect(log.length).toBe(MAX_AUDIT_EVENTS)
    expect(log.at(-1)).toMatchObject({ capability: 'audit', dropped: 36 })
    expect(await sb.call('add', 1, 2)).toBe(3)
    await sb.close()
  })
})

describe('a host function whose result needs alloc, where alloc calls an import (issue 18, item 9)', () => {
  const wat = `(module
    (import "env" "note" (func $note (param i32)))
    (import "env" "greet" (func $greet (result i64)))
    (import "env" "twice" (func $twice (param i32) (result i32)))
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "alloc") (param $len i32) (result i32)
      (local $p i32)
      (call $note (local.get $len))
      (local.set $p (global.get $heap))
      (global.set $heap (i32.add (global.get $heap) (local.get $len)))
      (local.get $p))
    (func (export "greetLength") (result i32) (i32.wrap_i64 (call $greet)))
    (func (export "double") (param i32) (result i32) (call $note (local.get 0)) (i32.mul (local.get 0) (i32.const 2)))
    (func (export "twiceVia") (param i32) (result i32) (call $twice (local.get 0)))
    (func (export "echo") (param $ptr i32) (param $len i32) (result i64)
      (drop (call $greet))
      (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len)))))`

  const make = (notes: number[], failNote = false) => Sandbox.create(wat, {
    timeout: '5s',
    imports: { env: {
      note: (n: number) => { if (failNote) throw new Error('note refused'); notes.push(n) },
      greet: () => 'hello',
      // ctx.call into an export that itself calls an import
      twice: async (n: number, ctx: { call(fn: string, ...args: unknown[]): Promise<unknown> }) => ctx.call('double', n),
    } },
  })

  it('is served: the nested import runs, and the call returns promptly', async () => {
    const notes: number[] = []
    const sb = await make(notes)
    const started = Date.now()
    expect(await sb.call('greetLength')).toBe(5)
    expect(notes).toEqual([5])
    expect(await sb.call('twiceVia', 21)).toBe(42) // ctx.call -> export -> import
    expect(notes).toEqual([5, 21])
    // Pipelined bytes calls take the same path: alloc (input) -> note; greet -> alloc -> note.
    const replies = await Promise.all([1, 2, 3].map((i) => sb.callBytes('echo', new Uint8Array(i))))
    expect(replies.map((r) => r.length)).toEqual([1, 2, 3])
    expect(Date.now() - started).toBeLessThan(4000) // far below the timeout it used to hit
    expect(await sb.call('greetLength')).toBe(5)
    await sb.close()
  })

  it('a nested import that throws is HOST_ERROR at once, not TIMEOUT', async () => {
    const sb = await make([], true)
    const started = Date.now()
    const error = await rejectsWith(sb.call('greetLength'), 'HOST_ERROR')
    expect(Date.now() - started).toBeLessThan(4000)
    expect(error.message).toBeTruthy()
    await sb.close()
  })
})
