/**
 * Guests that try to run unmetered through the rewrite itself: invalid modules whose
 * out-of-range indices would name the meter's own fuel global or scratch locals once metered,
 * modules sitting at an engine limit the rewrite would cross, and names the decoder could
 * mangle. Through the public API: each is refused at create with a typed error, never runs,
 * never refunds a tenant, and the host goes on serving.
 */
import { describe, expect, it } from 'vitest'
import { createTenant, Sandbox, SandboxError, SandboxPool } from 'wasm-sandbox'
import { meter } from 'wasm-sandbox/core'
import { ARITH_WAT, rejectsWith } from './helpers.js'
import { leb, name, section, vec } from '../support/wasm-bytes.js'

// --- modules built by hand (wat cannot spell an invalid index) ---------------------------------
const I64_MAX = [0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f] // i64.const 2^62-1..., big enough

/** A module exporting `run: [] -> []` with the given locals and body (without the final end). */
function module(body: ArrayLike<number>, opts: { locals?: number[][]; globals?: number[][] } = {}): Uint8Array {
  const locals = vec(opts.locals ?? [])
  const size = locals.length + body.length + 1
  const head = [
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, 0, 0]])),
    ...section(3, vec([[0]])),
    ...(opts.globals ? section(6, vec(opts.globals)) : []),
    ...section(7, vec([[...name('run'), 0, 0]])),
    10, ...leb(size + leb(size).length + 1), 1, ...leb(size), ...locals,
  ]
  const out = new Uint8Array(head.length + body.length + 1)
  out.set(head)
  out.set(body, head.length)
  out[out.length - 1] = 0x0b
  return out
}

// A busy loop of ~5e7 instructions that returns normally: what the bypass would run for free.
const SPIN = [0x41, ...leb(10_000_000), 0x21, 0, 0x03, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b]

describe('the meter refuses what the engine would not run', () => {
  it('global.set of a global the module does not have (the meter fuel global once rewritten) is INVALID_MODULE', async () => {
    const bytes = module([...I64_MAX, 0x24, 0, ...SPIN], { locals: [[1, 0x7f]] })
    expect(WebAssembly.validate(bytes)).toBe(false)
    const error = await rejectsWith(Sandbox.create(bytes, { fuel: 10_000 }), 'INVALID_MODULE')
    expect(error.offset).toBeGreaterThan(8)
    expect(error.offset).toBeLessThan(bytes.length)
    expect(() => meter(bytes, { fuel: 10_000 })).toThrow(SandboxError)
  })

  it('a local index past the declared locals (the meter scratch locals) is INVALID_MODULE', async () => {
    for (const extra of [1, 2, 3, 4]) {
      // local.set (declared + extra), then spin
      const bytes = module([...I64_MAX, 0x21, extra, ...SPIN], { locals: [[1, 0x7f]] })
      await rejectsWith(Sandbox.create(bytes, { fuel: 10_000 }), 'INVALID_MODULE')
    }
  })

  it('every way in validates: pools, reload, tenants', async () => {
    const bad = module([...I64_MAX, 0x24, 0, ...SPIN], { locals: [[1, 0x7f]] })
    await rejectsWith(SandboxPool.create(bad, { min: 1, max: 1, fuel: 10_000 }), 'INVALID_MODULE')
    const sb = await Sandbox.create(ARITH_WAT, { fuel: 1e6 })
    await rejectsWith(sb.reload(bad), 'INVALID_MODULE')
    expect(await sb.call('add', 2, 3)).toBe(5) // the old module keeps serving
    await sb.close()
    const tenant = createTenant('bypass', { fuelTotal: 1_000_000 })
    await rejectsWith(tenant.createSandbox(bad, { fuel: 10_000 }), 'INVALID_MODULE')
    expect(tenant.usage()).toMatchObject({ instances: 0, fuelUsed: 0n })
  })

  it("a tenant's fuel total only grows, over calls that return, trap and run out", async () => {
    const tenant = createTenant('monotonic', { fuelTotal: 10_000_000 })
    const sb = await tenant.createSandbox(ARITH_WAT, { fuel: 100_000 })
    let last = 0n
    for (const [fn, args] of [['add', [1, 2]], ['spin', []], ['div', [1, 0]], ['add', [3, 4]], ['spin', []]] as const) {
      await sb.call(fn, ...args).catch((e: unknown) => expect(e).toBeInstanceOf(SandboxError))
      const usage = sb.lastUsage!
      expect(usage.fuelUsed >= 0n && usage.fuelUsed <= 100_000n, `${fn}: ${usage.fuelUsed}`).toBe(true)
      const total = tenant.usage().fuelUsed
      expect(total >= last, `${fn}: ${total} < ${last}`).toBe(true)
      last = total
    }
    await sb.close()
  })
})

describe('accounting around the meter', () => {
  it("a start function's fuel is charged to the tenant, at create and for every fresh instance", async () => {
    const wat = `(module (global $g (mut i32) (i32.const 0))
      (func $init (local i32) (local.set 0 (i32.const 1000))
        (loop $l (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if $l (local.get 0))))
      (start $init)
      (func (export "boom") unreachable)
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`
    const tenant = createTenant('start', { fuelTotal: 1_000_000 })
    const sb = await tenant.createSandbox(wat, { fuel: 100_000 })
    const afterCreate = tenant.usage().fuelUsed
    expect(afterCreate).toBeGreaterThan(4000n) // ~5 instructions x 1000 iterations
    await sb.reset() // a fresh instance runs the start function again
    await sb.call('add', 1, 2)
    expect(tenant.usage().fuelUsed).toBeGreaterThan(2n * afterCreate)
    expect(tenant.usage().calls).toBe(1)
    await sb.close()
    // A pool replaces the instance of a call that trapped: that start is charged too.
    const pool = await tenant.createPool(wat, { min: 1, max: 1, fuel: 100_000 })
    const before = tenant.usage().fuelUsed
    await pool.call('boom').catch(() => {})
    await pool.call('add', 1, 2)
    expect(tenant.usage().fuelUsed - before).toBeGreaterThan(afterCreate)
    await pool.close()
  })

  it('a call stopped by its timeout is charged its whole budget to the tenant', async () => {
    const tenant = createTenant('timeout', { fuelTotal: 10n ** 12n })
    const sb = await tenant.createSandbox(ARITH_WAT, { fuel: 10n ** 11n, timeout: '100ms' })
    await rejectsWith(sb.call('spin'), 'TIMEOUT')
    expect(tenant.usage().fuelUsed).toBe(10n ** 11n)
    expect(await sb.call('add', 2, 3)).toBe(5)
    await sb.close()
  })

  it('a tenant fuelTotal the i64 counter cannot hold is CONFIG', () => {
    expect(() => createTenant('huge', { fuelTotal: 2n ** 63n })).toThrow(expect.objectContaining({ code: 'CONFIG', field: 'fuelTotal' }))
  })

  it('meter() refuses imports with the reserved prefix, and memory caps above 4GB', async () => {
    const importsCounter = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 2, 23, 1, 1, 97, ...name('__wasm_sandbox_fuel'), 3, 0x7e, 1])
    expect(() => meter(importsCounter)).toThrow(expect.objectContaining({ code: 'INVALID_MODULE' }))
    const memory = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1])
    expect(() => meter(memory, { memory: 8 * 2 ** 30 })).toThrow(expect.objectContaining({ code: 'CONFIG', field: 'memory' }))
    expect(WebAssembly.validate(meter(memory, { memory: 4 * 2 ** 30 }).bytes)).toBe(true)
    // meter() takes bytes: unit strings are the sandbox options' (parseBytes converts them)
    expect(() => meter(memory, { memory: '4GB' as unknown as number })).toThrow(expect.objectContaining({ code: 'CONFIG', field: 'memory' }))
  })
})

describe('engine limits crossed by the rewrite are typed errors naming the limit', () => {
  it('a function at 50,000 locals is INVALID_MODULE with limit and used, not INTERNAL', async () => {
    const bytes = module([], { locals: [[...leb(49_998), 0x7f]] })
    expect(WebAssembly.validate(bytes)).toBe(true)
    const error = await rejectsWith(Sandbox.create(bytes), 'INVALID_MODULE')
    expect(error).toMatchObject({ limit: 50_000, used: 50_003 }) // the meter's five scratch locals
    expect(error.message).toMatch(/function 0 would have 50,003 locals once metered, above the engine limit of 50,000/)
    // Just below: metered and run.
    const fits = await Sandbox.create(module([], { locals: [[...leb(49_995), 0x7f]] }))
    await fits.call('run')
    await fits.close()
  })

  it('a function body the rewrite would grow past the engine limit is INVALID_MODULE', async () => {
    // 1M loops that branch to themselves once: 7 MB of code, each loop two segments the meter
    // charges (a loop nothing branches to is not charged apart: it runs once).
    const loops = 1_000_000
    const body = new Uint8Array(loops * 7)
    for (let i = 0; i < loops; i++) body.set([0x03, 0x40, 0x41, 0x00, 0x0d, 0x00, 0x0b], i * 7)
    const bytes = module(body)
    expect(WebAssembly.validate(bytes)).toBe(true)
    const error = await rejectsWith(Sandbox.create(bytes), 'INVALID_MODULE')
    expect(error.limit).toBe(7_654_321)
    expect(Number(error.used)).toBeGreaterThan(7_654_321)
  })

  it('globals and exports the meter adds past the engine limits are refused up front', () => {
    const globals = Array.from({ length: 999_999 }, () => [0x7f, 0x00, 0x41, 0x00, 0x0b])
    const atGlobals = module([], { globals })
    expect(WebAssembly.validate(atGlobals)).toBe(true)
    expect(() => meter(atGlobals)).toThrow(expect.objectContaining({ code: 'INVALID_MODULE', limit: 1_000_000, used: 1_000_002 }))
  })
})

describe('names and strings keep every code point', () => {
  it('an export named with a leading U+FEFF keeps it, and is callable by that name', async () => {
    const sb = await Sandbox.create(`(module
      (func (export "\u{feff}") (result i32) i32.const 1)
      (func (export "") (result i32) i32.const 2)
      (func (export "\u{feff}add") (result i32) i32.const 3))`)
    expect(sb.exports().map((e) => e.name)).toEqual(['\u{feff}', '', '\u{feff}add'])
    expect(await sb.call('\u{feff}')).toBe(1)
    expect(await sb.call('')).toBe(2)
    expect(await sb.call('\u{feff}add')).toBe(3)
    await sb.close()
  })

  it('a guest string with a leading U+FEFF reaches a host function whole', async () => {
    const seen: string[] = []
    const sb = await Sandbox.create(`(module
      (import "env" "log" (func $log (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "\\ef\\bb\\bfhi")
      (func (export "run") (call $log (i32.const 0) (i32.const 5))))`, {
      imports: { env: { log: async (ptr: number, len: number, ctx: { readString(p: number, l: number): Promise<string> }) => { seen.push(await ctx.readString(ptr, len)) } } },
    })
    await sb.call('run')
    expect(seen).toEqual(['\u{feff}hi'])
    await sb.close()
  })
})
