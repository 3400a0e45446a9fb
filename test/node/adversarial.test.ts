import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { ARITH_WAT, rejectsWith } from './helpers.js'

// Each hostile guest must end in the right typed error, leave the host alone, and leave the
// sandbox able to serve the next call.
describe('hostile guests', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await Sandbox.create(ARITH_WAT, { fuel: 5e6, memory: '16MB', timeout: '5s', stackDepth: 500, tableElements: 5000 })
  })
  afterAll(() => sb.close())
  const stillServes = async () => expect(await sb.call('add', 40, 2)).toBe(42)

  it('(loop br 0) under fuel: FUEL_EXHAUSTED with limit and used', async () => {
    const error = await rejectsWith(sb.call('spin'), 'FUEL_EXHAUSTED')
    expect(error).toMatchObject({ kind: 'fuel', limit: 5_000_000n, used: 5_000_000n, export: 'spin' })
    expect(error.usage?.fuelUsed).toBe(5_000_000n)
    expect(error.usage?.traps).toBe(1)
    await stillServes()
  })

  it('a guest unreachable is a TRAP, not fuel', async () => {
    const error = await rejectsWith(sb.call('boom'), 'TRAP')
    expect(error.trap).toBe('unreachable')
    expect(error.export).toBe('boom')
    expect((await rejectsWith(sb.call('div', 1, 0), 'TRAP')).trap).toMatch(/divide by zero/)
    await stillServes()
  })

  it('a recursion bomb: STACK_OVERFLOW at the configured depth', async () => {
    const error = await rejectsWith(sb.call('recurse', 0), 'STACK_OVERFLOW')
    expect(error).toMatchObject({ kind: 'stack', limit: 500, used: 501 })
    await stillServes()
  })

  it('a memory.grow bomb: grow returns -1 at the cap, and the trap after it is MEMORY_LIMIT', async () => {
    expect(await sb.call('grow', 1000)).toBe(-1)
    const error = await rejectsWith(sb.call('growForever'), 'MEMORY_LIMIT')
    expect(error).toMatchObject({ kind: 'memory', limit: 16 * 2 ** 20 })
    expect(Number(error.used)).toBeGreaterThan(16 * 2 ** 20)
    expect(sb.usage().memoryPeakBytes).toBeLessThanOrEqual(16 * 2 ** 20)
    await stillServes()
  })

  it('a table.grow bomb: grow returns -1 at the cap, and the trap after it is MEMORY_LIMIT (table)', async () => {
    const error = await rejectsWith(sb.call('tableGrowForever'), 'MEMORY_LIMIT')
    expect(error).toMatchObject({ kind: 'table', limit: 5000 })
    await stillServes()
  })

  it('an infinite loop with unlimited fuel: TIMEOUT, and a fresh instance serves the next call', async () => {
    const unlimited = await Sandbox.create(ARITH_WAT, { fuel: 'unlimited', timeout: '300ms' })
    expect(await unlimited.call('count')).toBe(1)
    const error = await rejectsWith(unlimited.call('spin'), 'TIMEOUT')
    expect(error).toMatchObject({ kind: 'time', limit: 300 })
    expect(Number(error.used)).toBeGreaterThanOrEqual(300)
    expect(await unlimited.call('add', 1, 2)).toBe(3)
    expect(await unlimited.call('count')).toBe(1) // the killed instance's state is gone
    await unlimited.close()
  })

  it('a recursion bomb without a depth limit the engine hits first is still STACK_OVERFLOW', async () => {
    const deep = await Sandbox.create(ARITH_WAT, { stackDepth: 2 ** 30 })
    await rejectsWith(deep.call('recurse', 0), 'STACK_OVERFLOW')
    expect(await deep.call('add', 1, 2)).toBe(3)
    await deep.close()
  })

  it('a 1 GiB memory declaration under a 16MB cap fails create with MEMORY_LIMIT', async () => {
    const error = await rejectsWith(Sandbox.create('(module (memory 16384))', { memory: '16MB' }), 'MEMORY_LIMIT')
    expect(error).toMatchObject({ kind: 'memory', limit: 16 * 2 ** 20, used: 2 ** 30 })
  })

  it('a memory without a maximum gets the cap as its maximum', async () => {
    const open = await Sandbox.create('(module (memory 1) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))', { memory: '1MB' })
    expect(await open.call('grow', 15)).toBe(1)
    expect(await open.call('grow', 1)).toBe(-1)
    expect(open.usage().memoryBytes).toBe(2 ** 20)
    await open.close()
  })

  it('a start function that loops forever fails create with FUEL_EXHAUSTED', async () => {
    await rejectsWith(Sandbox.create('(module (func $s (loop (br 0))) (start $s))', { fuel: 1e5 }), 'FUEL_EXHAUSTED')
  })

  it('truncated and garbage bytes are INVALID_MODULE', async () => {
    await rejectsWith(Sandbox.create(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 0x7f])), 'INVALID_MODULE')
    await rejectsWith(Sandbox.create(new Uint8Array(1000).fill(0xff)), 'INVALID_MODULE')
    await rejectsWith(Sandbox.create(new Uint8Array()), 'INVALID_MODULE')
  })

  it('an unknown import is a LINK_ERROR naming it', async () => {
    const error = await rejectsWith(Sandbox.create('(module (import "env" "steal" (func)) (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))'), 'LINK_ERROR')
    expect(error.imports).toEqual(['env.steal', 'wasi_snapshot_preview1.fd_write'])
    expect(error.message).toContain('env.steal')
    const memory = await rejectsWith(Sandbox.create('(module (import "env" "memory" (memory 1)))'), 'LINK_ERROR')
    expect(memory.imports).toEqual(['env.memory'])
  })

  it('a guest exporting the meter\'s reserved names cannot confuse it', async () => {
    await rejectsWith(Sandbox.create('(module (global (export "__wasm_sandbox_fuel") (mut i64) (i64.const 99)))'), 'INVALID_MODULE')
  })

  it('a call to a missing export is NO_SUCH_EXPORT and the sandbox keeps serving', async () => {
    await rejectsWith(sb.call('doesNotExist'), 'NO_SUCH_EXPORT')
    await stillServes()
  })
})
