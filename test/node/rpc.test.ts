import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox, type HostContext } from 'wasm-sandbox'
import { rejectsWith } from './helpers.js'

/** A guest speaking the bytes ABI: bump allocator, echo, reverse, and liars. */
const BYTES_WAT = `(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (global $frees (mut i32) (i32.const 0))
  (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32) (local $need i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    ;; grow memory to fit
    (local.set $need (i32.sub (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16)) (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then (if (i32.eq (memory.grow (local.get $need)) (i32.const -1)) (then unreachable))))
    (local.get $p))
  (func (export "free") (param i32 i32) (global.set $frees (i32.add (global.get $frees) (i32.const 1))))
  (func (export "frees") (result i32) (global.get $frees))
  (func $pack (param $p i32) (param $l i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $l))))
  (func (export "echo") (param i32 i32) (result i64) (call $pack (local.get 0) (local.get 1)))
  (func (export "reverse") (param $p i32) (param $l i32) (result i64) (local $o i32) (local $i i32)
    (local.set $o (call $alloc (local.get $l)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $l)))
      (i32.store8 (i32.add (local.get $o) (local.get $i))
        (i32.load8_u (i32.sub (i32.add (local.get $p) (local.get $l)) (i32.add (local.get $i) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $pack (local.get $o) (local.get $l)))
  (func (export "outOfRange") (param i32 i32) (result i64) (call $pack (i32.const 65000) (i32.const 1000)))
  (func (export "hugeLength") (param i32 i32) (result i64) (call $pack (i32.const 0) (i32.const -1)))
  (func (export "overflow") (param i32 i32) (result i64) (call $pack (i32.const -16) (i32.const 32)))
  (func (export "notJson") (param i32 i32) (result i64) (i32.store (i32.const 0) (i32.const 0x7b7b7b7b)) (call $pack (i32.const 0) (i32.const 4)))
  (func (export "badUtf8") (param i32 i32) (result i64) (i32.store (i32.const 0) (i32.const 0xfffefdfc)) (call $pack (i32.const 0) (i32.const 4)))
  (func (export "trapping") (param i32 i32) (result i64) unreachable)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "spin") (param i32) (result i32) (loop $l (br $l)) (local.get 0))
)`

const LYING_ALLOC_WAT = `(module (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 65530))
  (func (export "echo") (param i32 i32) (result i64) (i64.const 0)))`

describe('bytes and JSON calls', () => {
  let sb: Sandbox
  beforeAll(async () => { sb = await Sandbox.create(BYTES_WAT, { memory: '256MB', fuel: 'unlimited', timeout: '30s', maxReplyBytes: '64MB' }) })
  afterAll(() => sb.close())

  it('round-trips bytes, and frees both buffers', async () => {
    const before = await sb.call('frees')
    expect(await sb.callBytes('reverse', new Uint8Array([1, 2, 3, 4]))).toEqual(new Uint8Array([4, 3, 2, 1]))
    expect(await sb.call('frees')).toBe(before + 2)
    expect(await sb.callBytes('echo', new Uint8Array())).toEqual(new Uint8Array())
  })

  it('round-trips strings from every Unicode plane and nested JSON', async () => {
    const planes = ['ascii', 'é ß ñ', '中文 日本語', '𝄞 𐍈 😀', '\u{10FFFD}', 'nul\u0000inside', '"quotes" and \\ backslashes']
    const value = { planes, nested: { deep: [[[{ a: 1, b: [true, false, null] }]]], n: -1.5e300 }, empty: {}, list: [] }
    expect(await sb.callJson('echo', value)).toEqual(value)
    expect(await sb.callJson('echo', 'just a string')).toBe('just a string')
    expect(await sb.callJson('echo', null)).toBeNull()
  })

  it('moves a 64 MiB payload both ways', async () => {
    const big = new Uint8Array(64 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff
    const out = await sb.callBytes('echo', big)
    expect(out.length).toBe(big.length)
    expect(out[4096 * 7]).toBe((4096 * 7) & 0xff)
    expect(Buffer.compare(out, big)).toBe(0)
  })

  it('rejects guest pointers outside its memory, huge lengths and overflows', async () => {
    const small = await Sandbox.create(BYTES_WAT) // one 64 KiB page
    for (const fn of ['outOfRange', 'hugeLength', 'overflow']) {
      const error = await rejectsWith(small.callBytes(fn, new Uint8Array([1])), 'TRAP')
      expect(error.message).toMatch(/outside guest memory/)
      expect(error.export).toBe(fn)
    }
    expect(await small.call('add', 1, 2)).toBe(3)
    await small.close()
  })

  it('rejects replies that are not UTF-8 JSON', async () => {
    expect((await rejectsWith(sb.callJson('notJson', {}), 'TRAP')).message).toMatch(/not UTF-8 JSON/)
    await rejectsWith(sb.callJson('badUtf8', {}), 'TRAP')
  })

  it('reports a guest trap in a bytes function as TRAP', async () => {
    expect((await rejectsWith(sb.callBytes('trapping', new Uint8Array([1])), 'TRAP')).trap).toBe('unreachable')
  })

  it('checks alloc() results and the exports the ABI needs', async () => {
    const liar = await Sandbox.create(LYING_ALLOC_WAT)
    expect((await rejectsWith(liar.callBytes('echo', new Uint8Array(100)), 'TRAP')).message).toMatch(/alloc\(\) returned/)
    await liar.close()
    const plain = await Sandbox.create('(module (func (export "f") (param i32 i32) (result i64) (i64.const 0)))')
    expect((await rejectsWith(plain.callBytes('f', new Uint8Array(1)), 'NO_SUCH_EXPORT')).message).toMatch(/memory, alloc/)
    await plain.close()
  })
})

const HOST_WAT = `(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "add64" (func $add64 (param i64) (result i64)))
  (import "env" "log" (func $log (param i32 i32)))
  (import "env" "greet" (func $greet (param i32 i32) (result i64)))
  (import "env" "fail" (func $fail))
  (import "env" "later" (func $later (param i32) (result i32)))
  (import "env" "never" (func $never))
  (import "env" "reenter" (func $reenter (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (tag $e)
  (func (export "alloc") (param i32) (result i32) (local i32)
    (local.set 1 (global.get $heap)) (global.set $heap (i32.add (global.get $heap) (local.get 0))) (local.get 1))
  (data (i32.const 0) "hello from guest")
  (func (export "useAdd") (param i32) (result i32) (call $add (local.get 0) (i32.const 100)))
  (func (export "useAdd64") (param i64) (result i64) (call $add64 (local.get 0)))
  (func (export "useLog") (call $log (i32.const 0) (i32.const 16)))
  (func (export "useGreet") (result i32) (local $r i64)
    ;; returns the length of the string the host allocated and wrote
    (local.set $r (call $greet (i32.const 0) (i32.const 5)))
    (i32.wrap_i64 (local.get $r)))
  (func (export "readGreeting") (param $p i32) (result i32) (i32.load8_u (local.get $p)))
  (func (export "useFail") (call $fail))
  (func (export "swallowFail") (result i32)
    ;; a guest that catches the host's exception and carries on
    (try (do (call $fail)) (catch_all))
    (call $add (i32.const 1) (i32.const 1)))
  (func (export "useLater") (param i32) (result i32) (call $later (local.get 0)))
  (func (export "useNever") (call $never))
  (func (export "useReenter") (param i32) (result i32) (call $reenter (local.get 0)))
  (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
)`

describe('host functions', () => {
  const logged: string[] = []
  let sb: Sandbox
  beforeAll(async () => {
    sb = await Sandbox.create(HOST_WAT, {
      timeout: '1s',
      imports: {
        env: {
          add: (a: number, b: number) => a + b,
          add64: (a: bigint) => a + 1n,
          log: async (ptr: number, len: number, ctx: HostContext) => { logged.push(await ctx.readString(ptr, len)) },
          greet: async (ptr: number, len: number, ctx: HostContext) => `hi ${await ctx.readString(ptr, len)} ✓`,
          fail: () => { throw new Error('the host said no') },
          later: async (x: number) => { await new Promise((r) => setTimeout(r, 20)); return x * 3 },
          never: () => new Promise(() => {}),
          reenter: async (x: number, ctx: HostContext) => (await ctx.call('double', x)) as number + 1,
        },
      },
    })
  })
  afterAll(() => sb.close())

  it('serves synchronous and async host functions to a blocked guest', async () => {
    expect(await sb.call('useAdd', 5)).toBe(105)
    expect(await sb.call('useAdd64', 41n)).toBe(42n)
    expect(await sb.call('useLater', 7)).toBe(21)
    expect(sb.lastUsage?.hostCalls).toBe(1)
  })

  it('gives host functions bounds-checked access to guest memory', async () => {
    await sb.call('useLog')
    expect(logged).toContain('hello from guest')
    const len = await sb.call('useGreet')
    expect(len).toBe(new TextEncoder().encode('hi hello ✓').length)
  })

  it('rejects the call with HOST_ERROR carrying the host message, even if the guest catches it', async () => {
    expect((await rejectsWith(sb.call('useFail'), 'HOST_ERROR')).message).toContain('the host said no')
    expect((await rejectsWith(sb.call('swallowFail'), 'HOST_ERROR')).message).toContain('the host said no')
    expect(await sb.call('useAdd', 1)).toBe(101)
  })

  it('bounds a host function that never returns by the timeout', async () => {
    await rejectsWith(sb.call('useNever'), 'TIMEOUT')
    expect(await sb.call('useAdd', 2)).toBe(102)
  })

  it('supports re-entrant calls through ctx.call', async () => {
    expect(await sb.call('useReenter', 20)).toBe(41)
  })

  it('counts host calls in usage', async () => {
    const before = sb.usage().hostCalls
    await sb.call('useAdd', 1)
    await sb.call('useAdd', 1)
    expect(sb.usage().hostCalls).toBe(before + 2)
  })

  it('refuses host memory access outside the guest memory', async () => {
    const probe = await Sandbox.create(HOST_WAT, {
      imports: {
        env: {
          add: async (_a: number, _b: number, ctx: HostContext) => {
            const size = await ctx.memorySize()
            await ctx.read(size - 4, 8).then(() => { throw new Error('read past the end') }, (e) => { if (e.code !== 'TRAP') throw e })
            await ctx.write(size - 1, new Uint8Array(2)).then(() => { throw new Error('wrote past the end') }, (e) => { if (e.code !== 'TRAP') throw e })
            return size
          },
          add64: () => 0n, log: () => {}, greet: () => '', fail: () => {}, later: () => 0, never: () => {}, reenter: () => 0,
        },
      },
    })
    expect(await probe.call('useAdd', 0)).toBe(65536)
    await probe.close()
  })
})

describe('batch, stream and cancellation', () => {
  let sb: Sandbox
  beforeAll(async () => { sb = await Sandbox.create(BYTES_WAT, { fuel: 1e6, timeout: '2s' }) })
  afterAll(() => sb.close())

  it('runs a batch with a failing call in the middle, losing nothing', async () => {
    const results = await sb.callBatch([
      { fn: 'add', args: [1, 2] }, { fn: 'spin', args: [0] }, { fn: 'nope', args: [] }, { fn: 'add', args: [3, 4] },
    ])
    expect(results[0]).toEqual({ ok: true, value: 3 })
    expect(results[1]!.ok === false && results[1]!.error.code).toBe('FUEL_EXHAUSTED')
    expect(results[2]!.ok === false && results[2]!.error.code).toBe('NO_SUCH_EXPORT')
    expect(results[3]).toEqual({ ok: true, value: 7 })
  })

  it('goes on after a timeout inside a batch, on a fresh instance', async () => {
    const slow = await Sandbox.create(BYTES_WAT, { fuel: 'unlimited', timeout: '200ms' })
    const results = await slow.callBatch([{ fn: 'add', args: [1, 1] }, { fn: 'spin', args: [0] }, { fn: 'add', args: [2, 2] }])
    expect(results.map((r) => (r.ok ? r.value : r.error.code))).toEqual([2, 'TIMEOUT', 4])
    await slow.close()
  })

  it('streams 10k calls in order', async () => {
    async function* inputs() { for (let i = 0; i < 10_000; i++) yield [i, 1] }
    let expected = 1
    for await (const value of sb.stream('add', inputs())) {
      expect(value).toBe(expected++)
    }
    expect(expected).toBe(10_001)
  })

  it('pulls inputs only as results are consumed (backpressure)', async () => {
    let pulled = 0
    function* inputs() { for (let i = 0; i < 1000; i++) { pulled++; yield [i, 0] } }
    const iterator = sb.stream('add', inputs())[Symbol.asyncIterator]()
    await iterator.next()
    await new Promise((r) => setTimeout(r, 50))
    expect(pulled).toBeLessThan(20)
    await iterator.return?.()
  })

  it('cancels a running call, rejecting with CANCELLED; the sandbox stays usable', async () => {
    const unlimited = await Sandbox.create(BYTES_WAT, { fuel: 'unlimited', timeout: '30s' })
    const controller = new AbortController()
    const running = unlimited.call('spin', 1, { signal: controller.signal })
    setTimeout(() => controller.abort(), 100)
    const error = await rejectsWith(running, 'CANCELLED')
    expect(error.export).toBe('spin')
    expect(await unlimited.call('add', 2, 2)).toBe(4)
    await unlimited.close()
  })
})

describe('call channel under concurrency', () => {
  it('every concurrent call gets its own result (no stale wake-up reads a previous answer)', async () => {
    const sb = await Sandbox.create('(module (func (export "f") (param i32 i32) (result i32) (i32.add (i32.mul (local.get 0) (i32.const 1000)) (i32.add (local.get 1) (i32.const 1)))))')
    let wrong = 0
    for (let round = 0; round < 200; round++) {
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => sb.call('f', round, i)))
      results.forEach((v, i) => { if (v !== round * 1000 + i + 1) wrong++ })
    }
    expect(wrong).toBe(0)
    await sb.close()
  })

  it('a start function may call host functions; one that runs forever is bounded by the timeout', async () => {
    const calls: number[] = []
    const sb = await Sandbox.create('(module (import "env" "hello" (func $h (param i32))) (func $s (call $h (i32.const 7))) (start $s) (func (export "x") (result i32) (i32.const 1)))', {
      imports: { env: { hello: (n: number) => { calls.push(n) } } },
    })
    expect(calls).toEqual([7])
    expect(await sb.call('x')).toBe(1)
    await sb.close()
    const error = await rejectsWith(Sandbox.create('(module (func $s (loop $l (br $l))) (start $s))', { fuel: 'unlimited', timeout: '200ms' }), 'TIMEOUT')
    expect(error).toMatchObject({ kind: 'time', limit: 200 })
  })
})

describe('bytes calls through the call channel', () => {
  // `grow` answers with `n` bytes (n from the first input byte, in 64 KiB units): outputs
  // both inside and beyond what fits in the channel, which then come by message.
  const GROW = `(module
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (func $alloc (export "alloc") (param $len i32) (result i32) (local $p i32) (local $need i32)
      (local.set $p (global.get $heap))
      (global.set $heap (i32.add (global.get $heap) (local.get $len)))
      (local.set $need (i32.sub (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16)) (memory.size)))
      (if (i32.gt_s (local.get $need) (i32.const 0)) (then (drop (memory.grow (local.get $need)))))
      (local.get $p))
    (func (export "free") (param i32 i32) (global.set $heap (i32.const 1024)))
    (func (export "grow") (param $p i32) (param $l i32) (result i64) (local $n i32) (local $o i32)
      (local.set $n (i32.shl (i32.load8_u (local.get $p)) (i32.const 16)))
      (local.set $o (call $alloc (local.get $n)))
      (memory.fill (local.get $o) (i32.const 7) (local.get $n))
      (i64.or (i64.shl (i64.extend_i32_u (local.get $o)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
    (func (export "spin") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0)))`

  it('carries inputs and outputs of every size, in order, under concurrency', async () => {
    const sb = await Sandbox.create(GROW, { memory: '64MB', fuel: 'unlimited', timeout: '5s' })
    const sizes = [0, 1, 3, 4, 5, 16, 2, 0, 7] // x 64 KiB: 4+ no longer fits the 255 KiB channel
    const outputs = await Promise.all(sizes.map((n) => sb.callBytes('grow', new Uint8Array([n, 1, 2, 3]))))
    outputs.forEach((out, i) => {
      expect(out.length).toBe(sizes[i]! << 16)
      if (out.length) expect(out[out.length - 1]).toBe(7)
    })
    const bigInput = new Uint8Array(200 * 1024).fill(9)
    bigInput[0] = 2
    expect((await sb.callBytes('grow', bigInput)).length).toBe(2 << 16)
    await sb.close()
  })

  it('times out and recovers inside a bytes call', async () => {
    const sb = await Sandbox.create(GROW, { fuel: 'unlimited', timeout: '200ms' })
    await rejectsWith(sb.callBytes('spin', new Uint8Array([1])), 'TIMEOUT')
    expect((await sb.callBytes('grow', new Uint8Array([1]))).length).toBe(65536)
    await sb.close()
  })
})
