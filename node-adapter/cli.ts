#!/usr/bin/env node
// The `wasm-sandbox` command: run WASI commands, call exports, inspect modules.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { dirname, resolve } from 'node:path'
import { meter, parseManifest, SandboxError, watToWasm, type ExportDescriptor, type ModuleInfo } from '../core/index.js'
import { Sandbox } from './sandbox.js'
import { nodeComponentTools } from './component-tools.js'
import type { McpToolSpec } from './mcp/index.js'

const HELP: Record<string, string> = {
  main: `usage: wasm-sandbox <command> [options]

commands:
  run <file> [-- args...]        run a WASI command (_start); its exit code is ours
  call <file> <export> [args...] call an export and print the result and usage
  inspect <file>                 list imports, exports, memories and sections
  serve --route /path=file ...   serve HTTP routes (and middleware) from wasm
  mcp --tool name=file[:export]  serve exports as Model Context Protocol tools (stdio or HTTP)

Run \`wasm-sandbox <command> --help\` for a command's options.`,
  run: `usage: wasm-sandbox run <file.wasm|file.wat> [options] [-- args...]

Runs the module's _start under the policy, with stdin from ours (when it is not a terminal).
  --fuel N            instructions per run ('unlimited' for none)
  --memory SIZE       memory cap, e.g. 64MB
  --timeout TIME      wall-clock limit, e.g. 5s
  --policy NAME       strict (default), standard or permissive
  --dir HOST:GUEST[:ro]  mount a host directory (repeatable)
  --env K=V           an environment variable for the guest (repeatable)
  --clock, --random   grant clocks / randomness
  --json              print { exitCode, stdout, stderr, usage } as JSON instead`,
  call: `usage: wasm-sandbox call <file> <export> [args...] [options]

Arguments are numbers (i64 as integers); with --json the single argument is JSON for a
bytes/JSON export (see the README, "Bytes and JSON calls").
  --fuel N, --memory SIZE, --timeout TIME, --policy NAME   as for run
  --json              JSON in and out (callJson), and JSON output`,
  serve: `usage: wasm-sandbox serve --route /api/*=route.wasm [--route ...] [options]

Serves HTTP on 127.0.0.1 until interrupted (see the README, "HTTP").
  --route PATTERN=FILE  a route (repeatable; a trailing * matches the rest of the path)
  --middleware FILE     a middleware module (repeatable, outermost first)
  --port N              default 8080 (0 picks a free port)
  --host HOST           default 127.0.0.1
  --body-limit SIZE     default 16MB
  --fuel N, --memory SIZE, --timeout TIME, --policy NAME   for every route`,
  mcp: `usage: wasm-sandbox mcp --tool NAME=FILE[:EXPORT] [--tool ...] [--manifest FILE.json ...] [options]

Serves guest exports as MCP tools, on stdin/stdout (default) or streamable HTTP. Each call
runs on a fresh instance under the policy; guest errors are tool errors with their code.
  --tool NAME=FILE[:EXPORT]  a tool (repeatable); EXPORT defaults to NAME
  --manifest FILE.json       a plugin manifest: every entry point becomes a tool, with the
                             manifest's permissions, descriptions and input schemas
  --http PORT                streamable HTTP on 127.0.0.1:PORT/mcp instead of stdio (0: any port)
  --host HOST                with --http, default 127.0.0.1
  --fuel N, --memory SIZE, --timeout TIME, --policy NAME   for --tool tools`,
  inspect: `usage: wasm-sandbox inspect <file> [--json]

Prints the module's size, whether it is a component, imports, exports with signatures,
memories and sections.`,
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP.main)
    return command ? 0 : 2
  }
  if (!(command in HELP) || command === 'main') throw new UsageError(`unknown command ${JSON.stringify(command)}; try run, call, inspect, serve or mcp`)
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP[command])
    return 0
  }
  if (command === 'run') return runCommand(rest)
  if (command === 'call') return callExport(rest)
  if (command === 'serve') return serveRoutes(rest)
  if (command === 'mcp') return serveMcp(rest)
  return inspect(rest)
}

const LIMIT_OPTIONS = {
  fuel: { type: 'string' }, memory: { type: 'string' }, timeout: { type: 'string' }, policy: { type: 'string' }, json: { type: 'boolean' },
} as const

function limits(values: { fuel?: string; memory?: string; timeout?: string; policy?: string }) {
  const fuel = values.fuel === undefined ? undefined : values.fuel === 'unlimited' ? 'unlimited' as const : /^\d+$/.test(values.fuel) ? BigInt(values.fuel) : Number(values.fuel)
  return {
    ...(fuel !== undefined ? { fuel } : {}),
    ...(values.memory !== undefined ? { memory: values.memory } : {}),
    ...(values.timeout !== undefined ? { timeout: values.timeout } : {}),
    ...(values.policy !== undefined ? { policy: values.policy as 'strict' } : {}),
  }
}

async function readStdin(): Promise<Uint8Array> {
  if (process.stdin.isTTY) return new Uint8Array()
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function runCommand(argv: string[]): Promise<number> {
  const split = argv.indexOf('--')
  const own = split < 0 ? argv : argv.slice(0, split)
  const guestArgs = split < 0 ? [] : argv.slice(split + 1)
  const { values, positionals } = parseArgs({
    args: own, allowPositionals: true, strict: true,
    options: { ...LIMIT_OPTIONS, dir: { type: 'string', multiple: true }, env: { type: 'string', multiple: true }, clock: { type: 'boolean' }, random: { type: 'boolean' } },
  })
  const [file, ...extra] = positionals
  if (!file) throw new UsageError('run needs a module file')
  const preopens: Record<string, { host: string; readonly: boolean }> = {}
  for (const spec of values.dir ?? []) {
    const m = /^(.+?):(\/[^:]*)(?::(ro|rw))?$/.exec(spec)
    if (!m) throw new UsageError(`--dir ${spec}: expected HOST:GUEST or HOST:GUEST:ro, e.g. ./data:/data:ro`)
    preopens[m[2]!] = { host: m[1]!, readonly: m[3] === 'ro' }
  }
  const env: Record<string, string> = {}
  for (const pair of values.env ?? []) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--env ${pair}: expected K=V`)
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  const sandbox = await Sandbox.create(file, {
    ...limits(values),
    wasi: { args: [...extra, ...guestArgs], env, preopens, stdin: await readStdin(), ...(values.clock ? { clock: true } : {}), ...(values.random ? { random: true } : {}) },
  })
  try {
    const out = await sandbox.runCommand().catch((error: unknown) => {
      // Show what the program wrote before it failed (a panic message says why), then the error line.
      if (error instanceof SandboxError && !values.json) {
        if (error.stdoutBytes) process.stdout.write(error.stdoutBytes)
        if (error.stderrBytes) process.stderr.write(error.stderrBytes)
      }
      throw error
    })
    if (values.json) {
      console.log(JSON.stringify({ exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr, usage: out.usage }, bigintReplacer))
    } else {
      process.stdout.write(out.stdoutBytes)
      process.stderr.write(out.stderrBytes)
    }
    return out.exitCode
  } finally {
    await sandbox.close()
  }
}

async function callExport(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: LIMIT_OPTIONS })
  const [file, fn, ...args] = positionals
  if (!file || !fn) throw new UsageError('call needs a module file and an export name')
  const sandbox = await Sandbox.create(file, limits(values))
  try {
    if (values.json) {
      if (args.length > 1) throw new UsageError('with --json, give one JSON argument')
      let input: unknown
      try {
        input = JSON.parse(args[0] ?? 'null')
      } catch {
        throw new UsageError(`--json: ${JSON.stringify(args[0])} is not JSON`)
      }
      const result = await sandbox.callJson(fn, input)
      console.log(JSON.stringify({ result, usage: sandbox.lastUsage }, bigintReplacer))
      return 0
    }
    const exp = sandbox.exports().find((e) => e.name === fn)
    if (exp?.signature !== undefined) { // a component function: WIT values, given as JSON (bare words are strings)
      const result = await sandbox.call(fn, ...args.map((a) => { try { return JSON.parse(a) } catch { return a } }))
      const usage = sandbox.lastUsage!
      console.log(typeof result === 'string' ? result : JSON.stringify(result, bigintReplacer))
      console.error(`fuel ${usage.fuelUsed}, memory ${usage.memoryBytes} bytes, ${usage.wallMs.toFixed(2)} ms`)
      return 0
    }
    const parsed = args.map((a, i) => {
      const n = Number(a)
      if (a.trim() === '' || Number.isNaN(n) && a !== 'NaN') throw new UsageError(`argument ${i} (${JSON.stringify(a)}) is not a number`)
      return exp?.params[i] === 'i64' ? BigInt(a) : n
    })
    const result = await sandbox.call(fn, ...parsed)
    const usage = sandbox.lastUsage!
    console.log(Array.isArray(result) ? result.map(String).join(' ') : String(result))
    console.error(`fuel ${usage.fuelUsed}, memory ${usage.memoryBytes} bytes, ${usage.wallMs.toFixed(2)} ms`)
    return 0
  } finally {
    await sandbox.close()
  }
}

async function serveRoutes(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { ...LIMIT_OPTIONS, route: { type: 'string', multiple: true }, middleware: { type: 'string', multiple: true }, port: { type: 'string' }, host: { type: 'string' }, 'body-limit': { type: 'string' } },
  })
  const routes: Record<string, { source: string; options: object }> = {}
  for (const spec of values.route ?? []) {
    const at = spec.indexOf('=')
    if (at <= 0 || !spec.startsWith('/')) throw new UsageError(`--route ${spec}: expected /path=file.wasm`)
    routes[spec.slice(0, at)] = { source: spec.slice(at + 1), options: limits(values) }
  }
  if (Object.keys(routes).length === 0) throw new UsageError('serve needs at least one --route /path=file.wasm')
  const port = Number(values.port ?? 8080)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${values.port}: expected a port number`)
  const { serve } = await import('./http/index.js')
  const server = await serve({ routes, middleware: values.middleware ?? [], port, host: values.host ?? '127.0.0.1', ...(values['body-limit'] ? { bodyLimit: values['body-limit'] } : {}) })
  console.log(`wasm-sandbox: serving ${Object.keys(routes).join(', ')} on ${server.url}`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await server.close()
  return 0
}

async function serveMcp(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { ...LIMIT_OPTIONS, tool: { type: 'string', multiple: true }, manifest: { type: 'string', multiple: true }, http: { type: 'string' }, host: { type: 'string' } },
  })
  const tools: McpToolSpec[] = []
  for (const spec of values.tool ?? []) {
    const match = /^([^=]+)=(.+?)(?::([^:/\\]+))?$/.exec(spec)
    if (!match) throw new UsageError(`--tool ${spec}: expected NAME=FILE[:EXPORT]`)
    tools.push({ name: match[1]!, source: match[2]!, ...(match[3] ? { export: match[3] } : {}), options: limits(values) })
  }
  for (const file of values.manifest ?? []) {
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => { throw new SandboxError('CONFIG', `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { field: 'manifest' }) })
    const manifest = parseManifest(text)
    // A manifest's module path is relative to the manifest.
    const module = manifest.module.path ? { ...manifest.module, path: resolve(dirname(file), manifest.module.path) } : manifest.module
    const resolved = { ...manifest, module }
    for (const name of manifest.entryPoints ?? Object.keys(manifest.tools ?? {})) tools.push({ name, manifest: resolved })
  }
  if (tools.length === 0) throw new UsageError('mcp needs at least one --tool NAME=FILE or --manifest FILE.json (with entryPoints)')
  const { createMcpServer } = await import('./mcp/index.js')
  const server = await createMcpServer({ tools })
  try {
    if (values.http !== undefined) {
      const port = Number(values.http)
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--http ${values.http}: expected a port number`)
      const { url } = await server.listen({ port, host: values.host ?? '127.0.0.1' })
      console.error(`wasm-sandbox: MCP on ${url} (${tools.map((t) => t.name).join(', ')})`)
      await new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve) })
    } else {
      await server.serveStdio() // stdout is the protocol: messages for people go to stderr
    }
  } finally {
    await server.close()
  }
  return 0
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { json: { type: 'boolean' } } })
  const [file] = positionals
  if (!file) throw new UsageError('inspect needs a module file')
  const raw = new Uint8Array(await readFile(file).catch((e: NodeJS.ErrnoException) => { throw new SandboxError('CONFIG', `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { field: 'file' }) }))
  const isText = raw[0] !== 0
  const text = isText ? new TextDecoder().decode(raw) : ''
  const bytes = !isText ? raw : /^\s*\(\s*component\b/.test(text) ? await nodeComponentTools().then((tools) => tools.parse(text)) : await watToWasm(text)
  const component = bytes[4] === 0x0d && bytes[6] === 0x01
  const report: Record<string, unknown> = { file, sizeBytes: raw.length, component }
  if (component) {
    const wit = await nodeComponentTools().then((tools) => tools.wit(bytes))
    report.imports = [...wit.matchAll(/^\s*import\s+([^;]+);/gm)].map((m) => m[1]!)
    report.exports = [...wit.matchAll(/^\s*export\s+([^;]+);/gm)].map((m) => m[1]!)
  } else {
    const info: ModuleInfo = meter(bytes, { fuel: 'unlimited' }).info
    report.imports = info.imports.map((i) => `${i.module}.${i.name}: ${i.kind}${i.type ? ` (${i.type.params}) -> (${i.type.results})` : ''}`)
    report.exports = info.exports.map(describeExport)
    report.memoryInitialBytes = info.memoryInitialBytes
    report.start = info.hasStart
    report.sections = sections(bytes)
  }
  if (values.json) console.log(JSON.stringify(report, null, 2))
  else {
    console.log(`${file}: ${raw.length} bytes, ${component ? 'a component' : 'a core module'}`)
    for (const [key, value] of Object.entries(report)) {
      if (Array.isArray(value)) { console.log(`${key}:`); for (const line of value) console.log(`  ${line}`) }
      else if (key !== 'file' && key !== 'sizeBytes' && key !== 'component') console.log(`${key}: ${value}`)
    }
  }
  return 0
}

function describeExport(e: ExportDescriptor): string {
  return e.kind === 'function' ? `${e.name}: function (${e.params.join(', ')}) -> (${e.results.join(', ')})` : `${e.name}: ${e.kind}`
}

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount', 'tag']

/** Section ids and sizes, read from the headers. */
function sections(bytes: Uint8Array): string[] {
  const out: string[] = []
  let pos = 8
  const leb = () => { let r = 0, shift = 0, b: number; do { b = bytes[pos++]!; r += (b & 0x7f) * 2 ** shift; shift += 7 } while (b & 0x80); return r }
  while (pos < bytes.length) {
    const id = bytes[pos++]!
    const size = leb()
    out.push(`${SECTION_NAMES[id] ?? `unknown(${id})`}: ${size} bytes`)
    pos += size
  }
  return out
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (error as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      console.error(`wasm-sandbox: ${(error as Error).message} (see --help)`)
      process.exitCode = 2
    } else if (error instanceof SandboxError) {
      console.error(`wasm-sandbox: ${error.code}: ${error.message}${error.suggestion && !error.message.includes(error.suggestion) ? ` (${error.suggestion})` : ''}`)
      process.exitCode = 1
    } else {
      console.error(`wasm-sandbox: ${(error as Error)?.stack ?? String(error)}`)
      process.exitCode = 70
    }
  },
)
