import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, Sandbox, SandboxPool, createTenant, type SandboxError } from 'wasm-sandbox'
import { ARITH_WAT, rejectsWith } from './helpers.js'
import { buildFixtures, type Fixtures } from '../wasi/build.js'
import { qjsComponent } from '../support/components.js'
import { cGuest } from '../support/c-guests.js'
import { serve } from 'wasm-sandbox/http'

const FUEL = 1_000_000

/** Host functions and the bytes ABI, from the guest's side. */
const HOST_WAT = `(module
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (import "env" "log" (func $log (param i32 i32)))
  (import "env" "greet" (func $greet (param i32 i32) (result i64)))
  (import "env" "fail" (func $fail))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 0) "inline")
  (func (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (local.get $p))
  (func (export "viaHost") (param i32) (result i32) (call $twice (local.get 0)))
  (func (export "logIt") (call $log (i32.const 0) (i32.const 6)))
  (func (export "greetIt") (result i64) (call $greet (i32.const 0) (i32.const 6)))
  (func (export "failIt") (call $fail))
  ;; calls the failing import again after it failed: the failure sticks
  (func (export "failTwice") (result i32) (call $fail) (call $twice (i32.const 1)))
  (func (export "echo") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32)) (i64.extend_i32_u (local.get 1))))
)`

describe('inline sandboxes: the same API and fuel as a worker sandbox, on the caller\'s thread', () => {
  let inline: Sandbox
  let worker: Sandbox
  beforeAll(async () => {
    inline = await Sandbox.create(ARITH_WAT, { isolation: 'inline', fuel: FUEL, memory: '4MB', tableElements: 5000, stackDepth: 200 })
    worker = await Sandbox.create(ARITH_WAT, { fuel: FUEL, memory: '4MB', tableElements: 5000, stackDepth: 200 })
  })
  afterAll(async () => {
    await inline.close()
    await worker.close()
  })

  it('agrees with a worker sandbox on every result, error code and fuel count', async () => {
    const calls: [string, unknown[]][] = [
      ['add', [2, 3]], ['add', [0xffffffff, 1]], ['add64', [2n ** 62n, 5n]], ['mulf32', [1.5, 3]], ['divf64', [1, 0]],
      ['swap', [7, 9n]], ['count', []], ['count', []], ['boom', []], ['div', [1, 0]], ['spin', []], ['recurse', [1]],
      ['grow', [1]], ['growForever', []], ['tableGrowForever', []], ['add', [1.5, 2]], ['nope', []], ['add', [1, 1]],
    ]
    for (const [fn, args] of calls) {
      const outcome = async (sb: Sandbox) => {
        try {
          return { ok: true, value: await sb.call(fn, ...args), fuel: sb.lastUsage?.fuelUsed }
        } catch (error) {
          const e = error as SandboxError
          return { ok: false, code: e.code, limit: e.limit, used: e.used, fuel: e.usage?.fuelUsed }
        }
      }
      const [a, b] = [await outcome(inline), await outcome(worker)]
      if (Number.isNaN(a.value)) expect(Number.isNaN(b.value), fn).toBe(true)
      else expect(a, `${fn}(${args.join(', ')})`).toEqual(b)
    }
    expect(inline.usage().fuelUsed).toBe(worker.usage().fuelUsed)
    expect(inline.usage().traps).toBe(worker.usage().traps)
  })

  it('ends a runaway loop and unbounded recursion by fuel and depth, and the next call works', async () => {
    const spin = await rejectsWith(inline.call('spin'), 'FUEL_EXHAUSTED')
    expect(spin.limit).toBe(BigInt(FUEL))
    expect(spin.usage?.fuelUsed).toBe(BigInt(FUEL))
    const deep = await rejectsWith(inline.call('recurse', 0), 'STACK_OVERFLOW')
    expect(deep.limit).toBe(200)
    await rejectsWith(inline.call('growForever'), 'MEMORY_LIMIT')
    expect(await inline.call('add', 40, 2)).toBe(42)
  })

  it('keeps the order of calls made while others are queued, with options and batches', async () => {
    const results = await Promise.all([inline.call('add', 1, 1), inline.call('add', 2, 2, { signal: new AbortController().signal }), inline.callBatch([{ fn: 'add', args: [3, 3] }, { fn: 'boom' }]), inline.call('add', 4, 4)])
    expect(results[0]).toBe(2)
    expect(results[1]).toBe(4)
    expect((results[2] as { ok: boolean }[]).map((r) => r.ok)).toEqual([true, false])
    expect(results[3]).toBe(8)
    const stream: number[] = []
    for await (const v of inline.stream('add', [[1, 2], [3, 4]])) stream.push(v)
    expect(stream).toEqual([3, 7])
  })

  it('honours an aborted signal and refuses calls after close', async () => {
    const controller = new AbortController()
    controller.abort()
    await rejectsWith(inline.call('add', 1, 2, { signal: controller.signal }), 'CANCELLED')
    const sb = await Sandbox.create(ARITH_WAT, { isolation: 'inline', fuel: FUEL })
    await sb.close()
    await rejectsWith(sb.call('add', 1, 2), 'CLOSED')
  })
})

describe('inline sandboxes: host functions, bytes, WASI, pools', () => {
  it('calls host functions directly, with a synchronous ctx', async () => {
    const logged: string[] = []
    const sb = await Sandbox.create(HOST_WAT, {
      isolation: 'inline', fuel: FUEL,
      imports: {
        env: {
          twice: (x: number) => x * 2,
          log: (ptr: number, len: number, ctx: { readString(p: number, l: number): string; export: string }) => { logged.push(`${ctx.export}: ${ctx.readString(ptr, len)}`) },
          greet: (ptr: number, len: number, ctx: { readString(p: number, l: number): string }) => `hello, ${ctx.readString(ptr, len)}`,
          fail: () => { throw new Error('no such user') },
        },
      },
    })
    expect(await sb.call('viaHost', 21)).toBe(42)
    expect(sb.lastUsage?.hostCalls).toBe(1)
    await sb.call('logIt')
    expect(logged).toEqual(['logIt: inline'])
    const packed = await sb.call('greetIt') as bigint
    expect(packed & 0xffffffffn).toBe(13n)
    const failed = await rejectsWith(sb.call('failIt'), 'HOST_ERROR')
    expect(failed.message).toContain('no such user')
    await rejectsWith(sb.call('failTwice'), 'HOST_ERROR')
    expect(await sb.call('viaHost', 1)).toBe(2)
    await sb.close()
  })

  it('refuses a host function calling its own sandbox (it would reset the running call\'s budget); ctx.call is the way', async () => {
    let sb: Sandbox | null = null
    let nested: unknown = null
    sb = await Sandbox.create(HOST_WAT, {
      isolation: 'inline', fuel: FUEL,
      imports: {
        env: {
          twice: (x: number, ctx: { call(fn: string, ...args: unknown[]): unknown }) => {
            sb!.call('viaHost', 1).catch((e: SandboxError) => { nested = e.code })
            return (ctx.call('echo', 0, x) as bigint) === BigInt(x) ? x * 2 : -1
          },
          log: () => {}, greet: () => 0n, fail: () => {},
        },
      },
    })
    expect(await sb.call('viaHost', 21)).toBe(42)
    expect(nested).toBe('CONFIG')
    await sb.close()
  })

  it('fails an async host function with HOST_ERROR that says what to do', async () => {
    const sb = await Sandbox.create(HOST_WAT, {
      isolation: 'inline', fuel: FUEL,
      imports: { env: { twice: async (x: number) => x * 2, log: () => {}, greet: () => 0n, fail: () => {} } },
    })
    const error = await rejectsWith(sb.call('viaHost', 1), 'HOST_ERROR')
    expect(error.message).toMatch(/returned a Promise.*isolation: 'worker'/)
    await sb.close()
  })

  it('runs bytes and JSON calls, and run() and pools take the option too', async () => {
    const sb = await Sandbox.create(HOST_WAT, { isolation: 'inline', fuel: FUEL, imports: { env: { twice: (x: number) => x, log: () => {}, greet: () => 0n, fail: () => {} } } })
    expect(await sb.callJson('echo', { a: [1, 'two'] })).toEqual({ a: [1, 'two'] })
    expect(new TextDecoder().decode(await sb.callBytes('echo', 'bytes'))).toBe('bytes')
    await sb.close()
    expect(await run(ARITH_WAT, 'add', [20, 22], { isolation: 'inline', fuel: FUEL })).toBe(42)
    const pool = await SandboxPool.create(ARITH_WAT, { isolation: 'inline', fuel: FUEL, max: 2 })
    expect(await Promise.all([pool.call('add', 1, 2), pool.call('add', 3, 4)])).toEqual([3, 7])
    await rejectsWith(pool.call('spin'), 'FUEL_EXHAUSTED')
    expect(await pool.call('add', 5, 6)).toBe(11)
    await pool.close()
  })

  it('serves an HTTP route inline: a runaway handler ends by fuel (500 FUEL_EXHAUSTED) and the server keeps serving', async () => {
    const server = await serve({ routes: { '/api/*': { source: cGuest('http/handler.c'), options: { isolation: 'inline', fuel: 5_000_000 } } } })
    try {
      const echo = await fetch(`${server.url}/api/echo`, { method: 'POST', body: 'ping' })
      expect(await echo.text()).toBe('ping')
      const loop = await fetch(`${server.url}/api/loop`)
      expect(loop.status).toBe(500)
      expect(await loop.json()).toMatchObject({ error: { code: 'FUEL_EXHAUSTED' } })
      expect(await (await fetch(`${server.url}/api/echo`, { method: 'POST', body: 'again' })).text()).toBe('again')
    } finally {
      await server.close()
    }
  })

  it('charges a tenant exactly what a worker sandbox would', async () => {
    const tenant = createTenant('inline-tenant', { fuelTotal: 1000 })
    const sb = await tenant.createSandbox(ARITH_WAT, { isolation: 'inline', fuel: FUEL })
    await rejectsWith(sb.call('spin'), 'QUOTA_EXCEEDED')
    expect(tenant.usage().fuelUsed).toBe(1000n)
    await rejectsWith(sb.call('add', 1, 2), 'QUOTA_EXCEEDED')
    await sb.close()
  })
})

describe('inline sandboxes: WASI', () => {
  let fixtures: Fixtures
  let dir: string
  beforeAll(async () => {
    fixtures = await buildFixtures()
    dir = mkdtempSync(join(tmpdir(), 'inline-wasi-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('runs a C command with the same output and fuel as in a worker', async () => {
    const options = { fuel: 50_000_000, wasi: { args: ['a', 'b'] } }
    const inline = await Sandbox.create(readFileSync(fixtures.hello!), { ...options, isolation: 'inline' })
    const worker = await Sandbox.create(readFileSync(fixtures.hello!), options)
    const [a, b] = [await inline.runCommand(), await worker.runCommand()]
    expect(a.stdout).toBe(b.stdout)
    expect(a.stdout).toContain('hello, world')
    expect(a.usage.fuelUsed).toBe(b.usage.fuelUsed)
    await inline.close()
    await worker.close()
  })

  it('confines file access to the preopens: a guest climbing out of its mount reads nothing', async () => {
    mkdirSync(join(dir, 'mount'))
    mkdirSync(join(dir, 'outside'))
    writeFileSync(join(dir, 'mount', 'a.txt'), 'alpha\n')
    writeFileSync(join(dir, 'outside', 'secret.txt'), 'TOP-SECRET\n')
    const sb = await Sandbox.create(readFileSync(fixtures.escape!), { isolation: 'inline', fuel: 100_000_000, wasi: { preopens: { '/data': { host: join(dir, 'mount') } } } })
    for (const attack of ['dotdot', 'absolute']) {
      const out = await sb.runCommand({ args: [attack, '../outside/secret.txt', join(dir, 'outside', 'secret.txt')] })
      expect(out.stdout, attack).not.toContain('TOP-SECRET')
      expect(out.stdout, attack).toMatch(/errno=/)
    }
    expect(sb.audit().length).toBeGreaterThan(0)
    await sb.close()
  })
})

describe('inline sandboxes: what they refuse', () => {
  it('needs a finite fuel budget, and refuses a timeout it could not enforce', async () => {
    const noFuel = await rejectsWith(Sandbox.create(ARITH_WAT, { isolation: 'inline', fuel: 'unlimited' }), 'CONFIG')
    expect(noFuel.field).toBe('fuel')
    const timeout = await rejectsWith(Sandbox.create(ARITH_WAT, { isolation: 'inline', fuel: FUEL, timeout: '1s' }), 'CONFIG')
    expect(timeout.field).toBe('timeout')
    await rejectsWith(Sandbox.create(ARITH_WAT, { isolation: 'elsewhere' as 'inline' }), 'CONFIG')
    const sb = await Sandbox.create(ARITH_WAT, { isolation: 'inline', fuel: FUEL })
    const perCall = await rejectsWith(sb.call('add', 1, 2, { timeout: 100 }), 'CONFIG')
    expect(perCall.field).toBe('timeout')
    await sb.close()
  })

  it('refuses shared memories (memory.atomic.wait would block the host thread)', async () => {
    // wabt's validator refuses shared memories whatever its flags, so the binary is written unvalidated.
    const wabt = await (await import('wabt')).default()
    const text = wabt.parseWat('shared.wat', `(module (memory (export "memory") 1 1 shared)
      (func (export "wait") (result i32) (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))`, { threads: true })
    const shared = text.toBinary({}).buffer
    text.destroy()
    expect(await run(shared, 'wait', [], { fuel: FUEL, timeout: '5s' }).catch((e: SandboxError) => e.code)).toBe('TIMEOUT') // a worker can wait
    const error = await rejectsWith(Sandbox.create(shared, { isolation: 'inline', fuel: FUEL }), 'CONFIG')
    expect(error.message).toMatch(/shared memory/)
  })

  it('refuses components', async () => {
    const component = await qjsComponent('package local:t; world t { export hi: func() -> string; }', 'export function hi() { return "hi" }')
    await rejectsWith(Sandbox.create(component, { isolation: 'inline', fuel: 1e9, wasi: true }), 'CONFIG')
  }, 60_000)
})
