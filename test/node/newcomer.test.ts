// What a new user trips over (issue 21): process lifetime, argument checks, messages.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox, SandboxPool } from 'wasm-sandbox'
import { serve } from 'wasm-sandbox/http'
import { createMcpServer } from 'wasm-sandbox/mcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { coreComponent } from '../support/components.js'
import { ARITH_WAT, rejectsWith } from './helpers.js'

const DIST = { 'wasm-sandbox': new URL('../../dist/node-adapter/index.js', import.meta.url).href, 'wasm-sandbox/http': new URL('../../dist/node-adapter/http/index.js', import.meta.url).href }

/**
 * Runs an ES module script in a fresh Node process (`wasm-sandbox` imports are the built
 * dist). Resolves with how it ended; a process still alive after `deadlineMs` is killed,
 * and then `signal` says so.
 */
async function node(script: string, deadlineMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'lifetime-'))
  const file = join(dir, 'main.mjs')
  await writeFile(file, script.replace(/from '(wasm-sandbox(?:\/http)?)'/g, (_, name: keyof typeof DIST) => `from '${DIST[name]}'`))
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: 'pipe' })
    let stdout = '', stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      void rm(dir, { recursive: true })
      resolve({ code, signal, stdout, stderr })
    })
  })
}

const ADD = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))) (func (export "spin") (loop $l (br $l))))'

describe('a forgotten close() does not keep Node alive', () => {
  it('a sandbox, after calls (one of them timed out and respawned the worker)', async () => {
    const out = await node(`
      import { Sandbox } from 'wasm-sandbox'
      const sb = await Sandbox.create(${JSON.stringify(ADD)}, { timeout: '200ms' })
      console.log(await sb.call('add', 2, 3))
      await sb.call('spin').catch((e) => console.log(e.code))
      console.log(await sb.call('add', 4, 5))
    `)
    expect(out.stderr).toBe('')
    expect(out.signal).toBeNull() // it ended by itself
    expect(out.code).toBe(0)
    expect(out.stdout.split('\n')).toEqual(['5', 'TIMEOUT', '9', ''])
  })

  it('a pool with warm sandboxes above min, and createHandler', async () => {
    const out = await node(`
      import { SandboxPool } from 'wasm-sandbox'
      import { createHandler } from 'wasm-sandbox/http'
      const pool = await SandboxPool.create(${JSON.stringify(ADD)}, { min: 1, max: 3 })
      console.log((await Promise.all([pool.call('add', 1, 1), pool.call('add', 2, 2), pool.call('add', 3, 3)])).join(' '))
      const handler = createHandler(${JSON.stringify(ADD)}, { export: 'nope' })
      console.log((await handler(new Request('http://x/'))).status)
    `)
    expect(out.signal).toBeNull()
    expect(out.code).toBe(0)
    expect(out.stdout).toBe('2 4 6\n500\n')
  })

  it('a sandbox still keeps the process alive while a call runs', async () => {
    // The call is the only thing the process waits for: it must finish and print.
    const out = await node(`
      import { Sandbox } from 'wasm-sandbox'
      const sb = await Sandbox.create('(module (func (export "count") (param i32) (result i32) (local $i i32) (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (local.get 0)))) (local.get $i)))')
      sb.call('count', 50000000).then((n) => console.log(n))
    `)
    expect(out.code).toBe(0)
    expect(out.stdout).toBe('50000000\n')
  })
})

describe('await using', () => {
  it('closes a sandbox and a pool at the end of the block', async () => {
    let kept: Sandbox, keptPool: SandboxPool
    {
      await using sb = await Sandbox.create(ADD)
      await using pool = await SandboxPool.create(ADD, { min: 1 })
      expect(await sb.call('add', 1, 2)).toBe(3)
      expect(await pool.call('add', 1, 2)).toBe(3)
      kept = sb
      keptPool = pool
    }
    await rejectsWith(kept.call('add', 1, 2), 'CLOSED')
    await rejectsWith(keptPool.call('add', 1, 2), 'CLOSED')
  })
})

describe('arguments are checked, not wrapped', () => {
  let sb: Sandbox
  beforeAll(async () => { sb = await Sandbox.create(ARITH_WAT) })
  afterAll(() => sb.close())

  it('i32: out of range or fractional is CONFIG naming the argument from 1', async () => {
    const big = await rejectsWith(sb.call('add', 2 ** 40, 2), 'CONFIG')
    expect(big.message).toContain('add argument 1 is i32')
    expect(big.message).toContain('1099511627776')
    expect(big.field).toBe('args[0]')
    const frac = await rejectsWith(sb.call('add', 1, 1.5), 'CONFIG')
    expect(frac.message).toContain('add argument 2 is i32: expected an integer, got 1.5')
    await rejectsWith(sb.call('add', 2 ** 32, 0), 'CONFIG')
    await rejectsWith(sb.call('add', NaN, 0), 'CONFIG')
    // The whole i32 range, signed or unsigned, is accepted
    expect(await sb.call('add', 0xffffffff, 1)).toBe(0)
    expect(await sb.call('add', -(2 ** 31), 0)).toBe(-(2 ** 31))
    // f32/f64 take any number
    expect(await sb.call('divf64', 1.5, 0.5)).toBe(3)
  })

  it('i64: a bigint out of range, or an unsafe number, is CONFIG', async () => {
    const over = await rejectsWith(sb.call('add64', 2n ** 64n, 1n), 'CONFIG')
    expect(over.message).toContain('add64 argument 1 is i64: expected an integer from -2^63 to 2^64-1')
    await rejectsWith(sb.call('add64', 1n, -(2n ** 63n) - 1n), 'CONFIG')
    const unsafe = await rejectsWith(sb.call('add64', 2 ** 60, 1n), 'CONFIG')
    expect(unsafe.message).toContain('a bigint')
    expect(await sb.call('add64', 2n ** 64n - 1n, 1n)).toBe(0n)
  })

  it('callBytes takes a string as UTF-8', async () => {
    const echo = await Sandbox.create(`(module (memory (export "memory") 1) (global $h (mut i32) (i32.const 1024))
      (func (export "alloc") (param $n i32) (result i32) (global.get $h) (global.set $h (i32.add (global.get $h) (local.get $n))))
      (func (export "echo") (param $p i32) (param $n i32) (result i64)
        (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n)))))`)
    try {
      expect(new TextDecoder().decode(await echo.callBytes('echo', 'héllo ✓'))).toBe('héllo ✓')
      await rejectsWith(echo.callBytes('echo', 42 as never), 'CONFIG')
    } finally {
      await echo.close()
    }
  })

  it('a component called with a wrong WIT type is CONFIG naming the argument', async () => {
    const component = await coreComponent(`(memory (export "memory") 1)
      (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
      (func (export "greet") (param $ptr i32) (param $len i32) (result i32) (i32.store (i32.const 8) (local.get $ptr)) (i32.store (i32.const 12) (local.get $len)) (i32.const 8))
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))`, `
      (func (export "greet") (param "name" string) (result string) (canon lift (core func $i "greet") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))))
      (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))`)
    const cs = await Sandbox.create(component)
    try {
      expect(await cs.call('greet', 'x')).toBe('x')
      const notString = await rejectsWith(cs.call('greet', 5), 'CONFIG')
      expect(notString.message).toBe('greet argument 1 (name: string): expected a string, got 5')
      expect(notString.field).toBe('args[0]')
      await rejectsWith(cs.call('greet'), 'CONFIG')
      const neg = await rejectsWith(cs.call('add', 1, -1), 'CONFIG')
      expect(neg.message).toContain('add argument 2 (b: u32): expected an integer from 0 to 4294967295')
      await rejectsWith(cs.call('add', 'a', 2), 'CONFIG')
      expect(await cs.call('add', 2, 3)).toBe(5)
    } finally {
      await cs.close()
    }
  })
})

describe('messages that point the right way', () => {
  it('a TIMEOUT while instantiating says what was running', async () => {
    const start = await rejectsWith(Sandbox.create('(module (func $s (loop $l (br $l))) (start $s))', { timeout: '200ms', fuel: 'unlimited' }), 'TIMEOUT')
    expect(start.message).toBe('instantiating the module (running its start function) took longer than the timeout of 200ms')
    const init = await rejectsWith(Sandbox.create('(module (memory (export "memory") 1) (func (export "_initialize") (loop $l (br $l))))', { timeout: '200ms', fuel: 'unlimited', wasi: true }), 'TIMEOUT')
    expect(init.message).toContain('running its _initialize')
  })

  it('`used` figures are whole; cumulative usage has no per-call fuel limit', async () => {
    const sb = await Sandbox.create(ADD, { timeout: '100ms', fuel: 1000 })
    try {
      const fuel = await rejectsWith(sb.call('spin'), 'FUEL_EXHAUSTED')
      expect(fuel.used).toBe(1000n)
      const slow = await Sandbox.create(ADD, { timeout: '100ms', fuel: 'unlimited' })
      const timedOut = await rejectsWith(slow.call('spin'), 'TIMEOUT')
      await slow.close()
      expect(Number.isInteger(timedOut.used)).toBe(true)
      for (let i = 0; i < 400; i++) await sb.call('add', i, 1)
      expect(sb.lastUsage!.fuelLimit).toBe(1000n)
      expect(sb.usage().fuelUsed).toBeGreaterThan(1000n)
      expect(sb.usage().fuelLimit).toBeNull()
    } finally {
      await sb.close()
    }
  })

  it('an Emscripten module that needs its JavaScript glue is LINK_ERROR saying so', async () => {
    const error = await rejectsWith(Sandbox.create(EMSCRIPTEN_WAT), 'LINK_ERROR')
    expect(error.message).toContain('built by Emscripten for its JavaScript glue')
    expect(error.suggestion).toContain('-sSTANDALONE_WASM')
    expect(error.imports).toEqual(['env.emscripten_resize_heap', 'env.invoke_vi'])
  })

  it('Sandbox.fromManifest takes a path; the module path is relative to the manifest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'manifest-path-'))
    try {
      await writeFile(join(dir, 'add.wat'), ADD)
      const sha256 = createHash('sha256').update(ADD).digest('hex')
      await writeFile(join(dir, 'plugin.json'), JSON.stringify({ id: 'acme.add', name: 'Add', version: '1.0.0', module: { path: './add.wat', sha256 }, entryPoints: ['add'] }))
      const sb = await Sandbox.fromManifest(join(dir, 'plugin.json'))
      expect(await sb.call('add', 2, 3)).toBe(5)
      await sb.close()
      const missing = await rejectsWith(Sandbox.fromManifest(join(dir, 'nope.json')), 'CONFIG')
      expect(missing.field).toBe('manifest')
    } finally {
      await rm(dir, { recursive: true })
    }
  })

  it('POST /health is 405', async () => {
    const server = await serve({ port: 0, routes: { '/*': ADD } })
    try {
      expect((await fetch(`${server.url}/health`)).status).toBe(200)
      const post = await fetch(`${server.url}/health`, { method: 'POST', body: 'x' })
      expect(post.status).toBe(405)
      expect(post.headers.get('allow')).toBe('GET, HEAD')
    } finally {
      await server.close()
    }
  })

  it('console.log(sandbox) prints a short summary', async () => {
    const sb = await Sandbox.create(ADD)
    await sb.call('add', 1, 2)
    expect(inspect(sb)).toMatch(/^Sandbox \{ exports: \[add, spin\], calls: 1, fuelUsed: \d+ \}$/)
    await sb.close()
    expect(inspect(sb)).toContain(', closed }')
    const pool = await SandboxPool.create(ADD)
    expect(inspect(pool)).toBe('SandboxPool { size: 1, idle: 1, busy: 0, queued: 0, calls: 0, failures: 0 }')
    await pool.close()
  })
})

const EMSCRIPTEN_WAT = `(module
  (import "env" "emscripten_resize_heap" (func (param i32) (result i32)))
  (import "env" "invoke_vi" (func (param i32 i32)))
  (func (export "main") (result i32) (i32.const 0)))`

describe('MCP tools', () => {
  it('take argument names from the name section and have readable descriptions', async () => {
    const server = await createMcpServer({ tools: [
      { name: 'subtract', source: '(module (func (export "subtract") (param $minuend i32) (param $subtrahend i64) (result i64) (i64.sub (i64.extend_i32_s (local.get $minuend)) (local.get $subtrahend))))' },
    ] })
    const endpoint = await server.listen()
    const client = new Client({ name: 'test', version: '1.0.0' })
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url)))
      const [tool] = (await client.listTools()).tools
      expect(tool!.description).toBe('Runs the WebAssembly function subtract in a sandbox with minuend (a 32-bit integer), subtrahend (a 64-bit integer); returns a 64-bit integer.')
      expect(tool!.inputSchema).toMatchObject({ properties: { minuend: { type: 'integer' }, subtrahend: { type: 'integer' } }, required: ['minuend', 'subtrahend'] })
      const result = await client.callTool({ name: 'subtract', arguments: { minuend: 50, subtrahend: 8 } })
      expect((result.content as { text: string }[])[0]!.text).toBe('42')
    } finally {
      await client.close()
      await endpoint.close()
      await server.close()
    }
  })
})
