import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { watToWasm } from 'wasm-sandbox/core'
import { createMcpServer, type WasmMcpServer } from 'wasm-sandbox/mcp'
import { componentFromText } from '../support/components.js'

const CLI = fileURLToPath(new URL('../../dist/node-adapter/cli.js', import.meta.url))

/** Numbers, a JSON tool over the bytes ABI (upper-cases the JSON text), a counter in a global, and a runaway. */
const MATH = `(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap)) (global.set $heap (i32.add (global.get $heap) (local.get $len))) (local.get $p))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "square64") (param i64) (result i64) (i64.mul (local.get 0) (local.get 0)))
  (func (export "shout") (param $ptr i32) (param $len i32) (result i64) (local $i i32) (local $c i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
        (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))
  (global $calls (mut i32) (i32.const 0))
  (func (export "count") (result i32) (global.set $calls (i32.add (global.get $calls) (i32.const 1))) (global.get $calls))
  (func (export "spin") (loop $l (br $l))))`

const GREET_COMPONENT = `(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    (func (export "id") (param i32 i32) (result i32) (i32.store (i32.const 8) (local.get 0)) (i32.store (i32.const 12) (local.get 1)) (i32.const 8)))
  (core instance $i (instantiate $m))
  (func (export "echo") (param "message" string) (result string)
    (canon lift (core func $i "id") (memory (core memory $i "memory")) (realloc (core func $i "realloc")))))`

const textOf = (result: { content?: unknown }) => ((result.content as { type: string; text: string }[])[0]!).text

describe('MCP server (createMcpServer) over streamable HTTP, with the SDK client', () => {
  let server: WasmMcpServer
  let endpoint: { url: string; close(): Promise<void> }
  let client: Client
  beforeAll(async () => {
    const math = await watToWasm(MATH)
    server = await createMcpServer({
      tools: [
        { name: 'add', source: math, options: { fuel: 1e6 } },
        { name: 'square', source: math, export: 'square64', description: 'n squared' },
        { name: 'shout', source: math, inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
        { name: 'spin', source: math, options: { fuel: 100_000 } },
        { name: 'echo', source: await componentFromText(GREET_COMPONENT) },
        { name: 'count', source: math },
      ],
    })
    endpoint = await server.listen()
    client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url)))
  })
  afterAll(async () => {
    await client?.close()
    await endpoint?.close()
    await server?.close()
  })

  it('lists the tools with descriptions and input schemas derived from the signatures', async () => {
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual(['add', 'square', 'shout', 'spin', 'echo', 'count'])
    const byName = new Map(tools.map((t) => [t.name, t]))
    const i32 = { type: 'integer', description: 'i32: a 32-bit integer' }
    expect(byName.get('add')!.inputSchema).toEqual({ type: 'object', properties: { arg0: i32, arg1: i32 }, required: ['arg0', 'arg1'] })
    expect(byName.get('square')!.description).toBe('n squared')
    expect(byName.get('echo')!.inputSchema).toEqual({ type: 'object', properties: { message: { type: 'string' } }, required: ['message'] })
    expect(byName.get('shout')!.inputSchema).toMatchObject({ properties: { text: { type: 'string' } } })
  })

  it('calls numeric, i64, JSON and component tools', async () => {
    expect(textOf(await client.callTool({ name: 'add', arguments: { arg0: 40, arg1: 2 } }))).toBe('42')
    expect(textOf(await client.callTool({ name: 'square', arguments: { arg0: 3_000_000_000 } }))).toBe('"9000000000000000000"')
    expect(JSON.parse(textOf(await client.callTool({ name: 'shout', arguments: { text: 'hello' } })))).toEqual({ TEXT: 'HELLO' })
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'héllo' } }))).toBe('"héllo"')
  })

  it('a tool that exhausts its fuel is an MCP tool error with the code; the server keeps serving', async () => {
    const result = await client.callTool({ name: 'spin', arguments: {} })
    expect(result.isError).toBe(true)
    expect(textOf(result)).toMatch(/^FUEL_EXHAUSTED: .* \(limit 100000, used 100000\)/)
    expect((result._meta as Record<string, { code: string }>)['wasm-sandbox/error']!.code).toBe('FUEL_EXHAUSTED')
    expect(textOf(await client.callTool({ name: 'add', arguments: { arg0: 1, arg1: 2 } }))).toBe('3')
  })

  it('bad arguments and unknown tools are tool errors too', async () => {
    const missing = await client.callTool({ name: 'add', arguments: { arg0: 1 } })
    expect(missing.isError).toBe(true)
    expect(textOf(missing)).toMatch(/^CONFIG: .*missing argument "arg1"/)
    const unknown = await client.callTool({ name: 'nope', arguments: {} })
    expect(unknown.isError).toBe(true)
    expect(textOf(unknown)).toMatch(/^NO_SUCH_EXPORT/)
  })

  it('each call runs on a fresh instance: a counter in a global never gets past 1', async () => {
    const counts = []
    for (let i = 0; i < 4; i++) counts.push(textOf(await client.callTool({ name: 'count', arguments: {} })))
    expect(counts).toEqual(['1', '1', '1', '1'])
  })
})

describe('wasm-sandbox mcp (the CLI) over stdio, with the SDK client', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-'))
    const math = await watToWasm(MATH)
    await writeFile(join(dir, 'math.wasm'), math)
    await writeFile(join(dir, 'plugin.json'), JSON.stringify({
      id: 'acme.math', name: 'Math', version: '1.0.0', description: 'arithmetic',
      module: { path: 'math.wasm', sha256: createHash('sha256').update(math).digest('hex') },
      permissions: { fuel: 50_000 },
      entryPoints: ['add', 'spin'],
      tools: { add: { description: 'adds two numbers', inputSchema: { type: 'object', properties: { arg0: { type: 'integer' }, arg1: { type: 'integer' } } } } },
    }))
  })
  afterAll(() => rm(dir, { recursive: true }))

  const connect = async (args: string[]) => {
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', ...args], stderr: 'pipe' }))
    return client
  }

  it('serves --tool tools: list, call, and a fuel error', async () => {
    const client = await connect(['--tool', `add=${join(dir, 'math.wasm')}`, '--tool', `runaway=${join(dir, 'math.wasm')}:spin`, '--fuel', '10000'])
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['add', 'runaway'])
      expect(textOf(await client.callTool({ name: 'add', arguments: { arg0: 2, arg1: 3 } }))).toBe('5')
      const spun = await client.callTool({ name: 'runaway', arguments: {} })
      expect(spun.isError).toBe(true)
      expect(textOf(spun)).toMatch(/^FUEL_EXHAUSTED/)
    } finally {
      await client.close()
    }
  })

  it('serves a manifest: entry points as tools, with its descriptions, schemas and permissions', async () => {
    const client = await connect(['--manifest', join(dir, 'plugin.json')])
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => [t.name, t.description])).toEqual([['add', 'adds two numbers'], ['spin', 'arithmetic']])
      expect(textOf(await client.callTool({ name: 'add', arguments: { arg0: 20, arg1: 22 } }))).toBe('42')
      const spun = await client.callTool({ name: 'spin', arguments: {} })
      expect(textOf(spun)).toMatch(/^FUEL_EXHAUSTED: .*limit 50000/)
    } finally {
      await client.close()
    }
  })

  it('refuses a manifest whose module changed', async () => {
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ id: 'x', name: 'x', version: '1.0.0', module: { path: 'math.wasm', sha256: '0'.repeat(64) }, entryPoints: ['add'] }))
    const { spawnSync } = await import('node:child_process')
    const out = spawnSync(process.execPath, [CLI, 'mcp', '--manifest', join(dir, 'bad.json')], { input: '', encoding: 'utf8' })
    expect(out.status).toBe(1)
    expect(out.stderr).toMatch(/SECURITY_VIOLATION/)
  })
})
