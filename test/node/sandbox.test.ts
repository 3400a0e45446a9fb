import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, Sandbox, SandboxError } from 'wasm-sandbox'
import { meter } from 'wasm-sandbox/core'
import wabtInit from 'wabt'
import { ARITH_WAT, rejectsWith } from './helpers.js'

const wabt = await wabtInit()
const ADD_WAT = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))'
const ADD_WASM = wabt.parseWat('add.wat', ADD_WAT).toBinary({}).buffer

describe('sources', () => {
  let dir: string
  let server: Server
  let base: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasm-sandbox-'))
    await writeFile(join(dir, 'add.wasm'), ADD_WASM)
    await writeFile(join(dir, 'add.wat'), ADD_WAT)
    server = createServer((req, res) => {
      if (req.url === '/add.wasm') { res.setHeader('content-type', 'application/wasm'); res.end(ADD_WASM) }
      else if (req.url === '/add.wat') res.end(ADD_WAT)
      else { res.statusCode = 404; res.end('nope') }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(async () => {
    server.close()
    await rm(dir, { recursive: true })
  })

  it('accepts bytes, ArrayBuffer, Buffer, text, paths, file: and http: URLs', async () => {
    const sources: unknown[] = [
      ADD_WASM, ADD_WASM.buffer.slice(ADD_WASM.byteOffset, ADD_WASM.byteOffset + ADD_WASM.byteLength), Buffer.from(ADD_WASM), ADD_WAT,
      `  ;; a comment first\n${ADD_WAT}`, join(dir, 'add.wasm'), join(dir, 'add.wat'), pathToFileURL(join(dir, 'add.wasm')),
      new URL(`${base}/add.wasm`), `${base}/add.wat`,
    ]
    for (const source of sources) expect(await run(source, 'add', [5, 3])).toBe(8)
  })

  it('accepts a WebAssembly.Module compiled from meter() output, and refuses an unmetered one', async () => {
    const metered = new WebAssembly.Module(meter(ADD_WASM, { fuel: 1000, stackDepth: 1000 }).bytes)
    expect(await run(metered, 'add', [20, 22])).toBe(42)
    // Metered without the call-depth limit the policy sets: its limits would not hold.
    const noDepth = await rejectsWith(Sandbox.create(new WebAssembly.Module(meter(ADD_WASM, { fuel: 1000 }).bytes)), 'CONFIG')
    expect(noDepth.message).toContain('stackDepth')
    const error = await rejectsWith(Sandbox.create(new WebAssembly.Module(ADD_WASM)), 'CONFIG')
    expect(error.field).toBe('source')
  })

  it('reports bad bytes with the offset and bad text with the line', async () => {
    const truncated = await rejectsWith(Sandbox.create(ADD_WASM.subarray(0, ADD_WASM.length - 3)), 'INVALID_MODULE')
    expect(typeof truncated.offset).toBe('number')
    const garbage = await rejectsWith(Sandbox.create(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), 'INVALID_MODULE')
    expect(garbage.offset).toBe(0)
    const text = await rejectsWith(Sandbox.create('(module\n  (func (result i32)\n    i64.const 1))'), 'INVALID_MODULE')
    expect(text.line).toBe(3) // the instruction that leaves an i64 where an i32 is due
    const syntax = await rejectsWith(Sandbox.create('(module\n\n (func i32.bogus))'), 'INVALID_MODULE')
    expect(syntax.line).toBe(3)
    // Structurally fine but fails validation: the engine's offset, into the caller's binary.
    const invalid = wabt.parseWat('bad.wat', '(module (func (result i32) (i32.const 1) (i32.const 2)))')
    const badBytes = invalid.toBinary({}).buffer
    const validation = await rejectsWith(Sandbox.create(badBytes), 'INVALID_MODULE')
    expect(validation.offset).toBeGreaterThan(8)
    expect(validation.offset).toBeLessThan(badBytes.length)
  })

  it('fails clearly on missing files, failed fetches and unsupported values', async () => {
    expect((await rejectsWith(Sandbox.create('/no/such/file.wasm'), 'CONFIG')).field).toBe('source')
    await rejectsWith(Sandbox.create(new URL(`${base}/missing.wasm`)), 'CONFIG')
    await rejectsWith(Sandbox.create(42 as never), 'CONFIG')
  })
})

describe('calls', () => {
  let sb: Sandbox
  beforeAll(async () => { sb = await Sandbox.create(ARITH_WAT, { fuel: 1e6, memory: '16MB', timeout: '2s', stackDepth: 200 }) })
  afterAll(() => sb.close())

  it('passes i32, i64 (bigint), f32, f64 and multi-value results', async () => {
    expect(await sb.call('add', 2, 3)).toBe(5)
    expect(await sb.call('add', 0x7fffffff, 1)).toBe(-0x80000000)
    expect(await sb.call('add64', 2n ** 62n, 2n ** 62n)).toBe(-(2n ** 63n))
    expect(await sb.call('add64', 1, 2)).toBe(3n)
    expect(await sb.call('mulf32', 1.1, 3)).toBe(Math.fround(Math.fround(1.1) * 3))
    expect(await sb.call('divf64', 1, 0)).toBe(Infinity)
    expect(await sb.call('swap', 7, 9n)).toEqual([9n, 7])
  })

  it('lists exports with signatures, hiding the meter', () => {
    const names = sb.exports().map((e) => e.name)
    expect(names).toContain('memory')
    expect(names.some((n) => n.startsWith('__wasm_sandbox'))).toBe(false)
    expect(sb.exports().find((e) => e.name === 'swap')).toEqual({ name: 'swap', kind: 'function', params: ['i32', 'i64'], results: ['i64', 'i32'] })
    expect(sb.exports().find((e) => e.name === 'memory')?.kind).toBe('memory')
  })

  it('keeps instance state between calls', async () => {
    const a = await sb.call('count')
    expect(await sb.call('count')).toBe(a + 1)
  })

  it('checks arguments against the signature', async () => {
    await rejectsWith(sb.call('add', 1), 'CONFIG')
    await rejectsWith(sb.call('add64', 1.5, 1), 'CONFIG')
    await rejectsWith(sb.call('add', 'x', 1), 'CONFIG')
  })

  it('reports per-call and cumulative usage', async () => {
    const before = sb.usage()
    await sb.call('add', 1, 1)
    const last = sb.lastUsage!
    expect(last.calls).toBe(1)
    expect(last.traps).toBe(0)
    expect(last.fuelUsed).toBe(3n) // local.get, local.get, i32.add
    expect(last.fuelLimit).toBe(1_000_000n)
    expect(last.memoryBytes).toBe(65536)
    expect(last.wallMs).toBeGreaterThan(0)
    const after = sb.usage()
    expect(after.calls).toBe(before.calls + 1)
    expect(after.fuelUsed).toBe(before.fuelUsed + 3n)
  })

  it('counts fuel deterministically', async () => {
    await rejectsWith(sb.call('spin'), 'FUEL_EXHAUSTED')
    const runs = []
    for (let i = 0; i < 3; i++) { await sb.call('divf64', 1, 3); runs.push(sb.lastUsage!.fuelUsed) }
    expect(new Set(runs).size).toBe(1)
  })

  it('reports a missing export with what exists', async () => {
    const error = await rejectsWith(sb.call('nope'), 'NO_SUCH_EXPORT')
    expect(error.export).toBe('nope')
    expect(error.suggestion).toContain('add')
    expect((await rejectsWith(sb.call('memory'), 'NO_SUCH_EXPORT')).suggestion).toContain('memory')
  })

  it('treats a trailing { signal, timeout } object as call options', async () => {
    expect(await sb.call('add', 1, 2, { timeout: '1s' })).toBe(3)
    const controller = new AbortController()
    controller.abort()
    await rejectsWith(sb.call('add', 1, 2, { signal: controller.signal }), 'CANCELLED')
  })
})

describe('lifecycle', () => {
  it('run() creates, calls and closes', async () => {
    expect(await run(ADD_WAT, 'add', [5, 3], { fuel: 1e6, memory: '16MB', timeout: '1s' })).toBe(8)
  })

  it('rejects calls after close() with CLOSED, and close() is idempotent', async () => {
    const sb = await Sandbox.create(ADD_WAT)
    await sb.close()
    await sb.close()
    await rejectsWith(sb.call('add', 1, 2), 'CLOSED')
  })

  it('queues concurrent calls and answers each', async () => {
    const sb = await Sandbox.create(ADD_WAT)
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sb.call('add', i, i)))
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i))
    await sb.close()
  })

  it('cancels a running call through its signal, and the next call works', async () => {
    const sb = await Sandbox.create(ARITH_WAT, { fuel: 'unlimited', timeout: '30s' })
    const controller = new AbortController()
    const pending = sb.call('spin', { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await rejectsWith(pending, 'CANCELLED')
    expect(await sb.call('add', 1, 2)).toBe(3)
    await sb.close()
  })

  it('rejects options it does not know, before doing any work', async () => {
    const error = await rejectsWith(Sandbox.create(ADD_WAT, { timout: '1s' } as never), 'CONFIG')
    expect(error.suggestion).toBe("did you mean 'timeout'?")
    expect(error).toBeInstanceOf(SandboxError)
  })
})
