#!/usr/bin/env node
// The `wasm-sandbox` command: run WASI commands, call exports, inspect modules.
import { readFile, stat } from 'node:fs/promises'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { homedir } from 'node:os'
import { editDistance, meter, parseManifest, SandboxError, watToWasm, type ExportDescriptor, type ModuleInfo, type Usage } from '../core/index.js'
import { Reader } from '../core/meter/reader.js'
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
  help <command>                 a command's options (as \`wasm-sandbox <command> --help\`)

  --version                      print the version

Exit codes: 0 success (run: the program's own exit code); 1 the module or the guest failed
(invalid module, link error, trap, a limit such as fuel or timeout); 2 bad usage (unknown
command or option, a bad option value or argument: CONFIG); 70 an internal error (a bug).`,
  run: `usage: wasm-sandbox run <file.wasm|file.wat> [options] [-- args...]

Runs the module's _start under the policy, with stdin from ours (when it is not a terminal).
Everything after -- goes to the program, flags included (run x.wasm -- --help).
  --fuel N            instructions per run ('unlimited' for none)
  --memory SIZE       memory cap, e.g. 64MB
  --timeout TIME      wall-clock limit, e.g. 5s
  --stack-depth N     most nested wasm calls
  --policy NAME       strict (default), standard or permissive
  --dir DIR           mount a host directory under the same path in the guest (repeatable;
                      ./x is x in the guest); DIR:ro mounts it read-only
  --dir HOST::GUEST   ... under another guest path (wasmtime's form)
  --dir HOST:GUEST[:ro]  ... under /GUEST, read-only with :ro, e.g. ./data:/data:ro
  --env K=V           an environment variable for the guest (repeatable); --env K passes ours
  --argv0 NAME        the program name the guest sees (default main.wasm)
  --invoke EXPORT     call EXPORT with the arguments instead of running _start (as call does)
  --clock, --random   grant clocks / randomness
  --cache-dir DIR     keep what compiling derives (metered modules, component glue) in DIR
                      for the next run (default $XDG_CACHE_HOME/wasm-sandbox, else
                      ~/.cache/wasm-sandbox); entries are verified before use
  --no-cache          neither read nor write the compile cache
  --json              print { exitCode, stdout, stderr, usage } as JSON instead`,
  call: `usage: wasm-sandbox call <file> <export> [args...] [options]

Arguments are numbers (i64 as integers, negative ones too); a component's are WIT values as
JSON (bare words are strings). Prints the result, and usage on stderr.
  --fuel N, --memory SIZE, --timeout TIME, --stack-depth N, --policy NAME   as for run
  --cache-dir DIR, --no-cache   as for run (the compile cache is on by default)
  --call-json         call a bytes/JSON export with callJson: the one argument is JSON
                      (see the README, "Bytes and JSON calls")
  --json              print { result, usage } as JSON instead`,
  serve: `usage: wasm-sandbox serve --route /api/*=route.wasm [--route ...] [options]

Serves HTTP on 127.0.0.1 until interrupted (see the README, "HTTP").
  --route PATTERN=FILE  a route (repeatable; a trailing * matches the rest of the path)
  --middleware FILE     a middleware module (repeatable, outermost first)
  --port N              default 8080 (0 picks a free port)
  --host HOST           default 127.0.0.1
  --body-limit SIZE     default 16MB
  --fuel N, --memory SIZE, --timeout TIME, --stack-depth N, --policy NAME   for every route
  --cache-dir DIR, --no-cache   the compile cache, as for run (on by default)`,
  mcp: `usage: wasm-sandbox mcp --tool NAME=FILE[:EXPORT] [--tool ...] [--manifest FILE.json ...] [options]

Serves guest exports as MCP tools, on stdin/stdout (default) or streamable HTTP. Each call
runs on a fresh instance under the policy; guest errors are tool errors with their code.
  --tool NAME=FILE[:EXPORT]  a tool (repeatable); EXPORT defaults to NAME
  --manifest FILE.json       a plugin manifest: every entry point becomes a tool, with the
                             manifest's permissions, descriptions and input schemas
  --http PORT                streamable HTTP on 127.0.0.1:PORT/mcp instead of stdio (0: any port)
  --host HOST                with --http, default 127.0.0.1
  --fuel N, --memory SIZE, --timeout TIME, --stack-depth N, --policy NAME   for --tool tools
  --cache-dir DIR, --no-cache   the compile cache, as for run (on by default)`,
  inspect: `usage: wasm-sandbox inspect <file> [--json]

Prints the module's size, whether it is a component, imports, exports with signatures,
memories and sections.`,
}

class UsageError extends Error {}

const COMMANDS = ['run', 'call', 'inspect', 'serve', 'mcp']

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === '--version' || command === '-V') {
    console.log((JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version)
    return 0
  }
  if (command === 'help' && rest[0] !== undefined) {
    if (!COMMANDS.includes(rest[0])) throw new UsageError(`no help for ${JSON.stringify(rest[0])}${didYouMean(rest[0], COMMANDS)}; the commands are ${COMMANDS.join(', ')}`)
    console.log(HELP[rest[0]])
    return 0
  }
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP.main)
    return command ? 0 : 2
  }
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, [...COMMANDS, 'help'])}; the commands are ${COMMANDS.join(', ')}`)
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest // after --: the guest's
  if (own.includes('--help') || own.includes('-h')) {
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
  'stack-depth': { type: 'string' }, 'cache-dir': { type: 'string' }, 'no-cache': { type: 'boolean' },
} as const

function limits(values: { fuel?: string; memory?: string; timeout?: string; policy?: string; 'stack-depth'?: string; 'cache-dir'?: string; 'no-cache'?: boolean }) {
  const fuel = values.fuel === undefined ? undefined : values.fuel === 'unlimited' ? 'unlimited' as const : /^\d+$/.test(values.fuel) ? BigInt(values.fuel) : Number(values.fuel)
  const stackDepth = values['stack-depth']
  if (stackDepth !== undefined && !/^\d+$/.test(stackDepth)) throw new UsageError(`--stack-depth ${stackDepth}: expected a whole number of nested calls`)
  if (values['no-cache'] && values['cache-dir'] !== undefined) throw new UsageError('--no-cache and --cache-dir: give one or the other')
  if (values['cache-dir'] === '') throw new UsageError('--cache-dir: expected a directory')
  return {
    ...(values['no-cache'] ? {} : { cacheDir: values['cache-dir'] ?? defaultCacheDir() }),
    ...(fuel !== undefined ? { fuel } : {}),
    ...(stackDepth !== undefined ? { stackDepth: Number(stackDepth) } : {}),
    ...(values.memory !== undefined ? { memory: values.memory } : {}),
    ...(values.timeout !== undefined ? { timeout: values.timeout } : {}),
    ...(values.policy !== undefined ? { policy: values.policy as 'strict' } : {}),
  }
}

/** The user's cache directory for us: $XDG_CACHE_HOME/wasm-sandbox, else ~/.cache/wasm-sandbox (%LOCALAPPDATA% on Windows). */
function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME
  if (xdg && isAbsolute(xdg)) return join(xdg, 'wasm-sandbox') // the XDG spec: a relative value is to be ignored
  if (process.platform === 'win32' && process.env.LOCALAPPDATA) return join(process.env.LOCALAPPDATA, 'wasm-sandbox', 'cache')
  return join(homedir(), '.cache', 'wasm-sandbox')
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
  const { values, positionals } = parse(own, {
    ...LIMIT_OPTIONS, dir: { type: 'string', multiple: true }, env: { type: 'string', multiple: true }, clock: { type: 'boolean' }, random: { type: 'boolean' },
    argv0: { type: 'string' }, invoke: { type: 'string' },
  })
  const [file, ...extra] = positionals
  if (!file) throw new UsageError('run needs a module file')
  const preopens = await dirPreopens(values.dir ?? [])
  const env = envVars(values.env ?? [])
  const sandbox = await Sandbox.create(file, {
    ...limits(values),
    wasi: { args: [...extra, ...guestArgs], env, preopens, stdin: await readStdin(), ...(values.clock ? { clock: true } : {}), ...(values.random ? { random: true } : {}) },
  })
  try {
    if (values.invoke !== undefined) return await printCall(sandbox, values.invoke, [...extra, ...guestArgs], values.json)
    const out = await sandbox.runCommand(values.argv0 !== undefined ? { argv0: values.argv0 } : {}).catch((error: unknown) => {
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
  const { values, positionals } = parse(argv, { ...LIMIT_OPTIONS, 'call-json': { type: 'boolean' } })
  const [file, fn, ...args] = positionals
  if (!file || !fn) throw new UsageError('call needs a module file and an export name')
  const sandbox = await Sandbox.create(file, limits(values))
  try {
    if (values['call-json']) {
      if (args.length > 1) throw new UsageError('with --call-json, give one JSON argument')
      let input: unknown
      try {
        input = JSON.parse(args[0] ?? 'null')
      } catch {
        throw new UsageError(`--call-json: ${JSON.stringify(args[0])} is not JSON`)
      }
      const result = await sandbox.callJson(fn, input)
      printResult(JSON.stringify(result, bigintReplacer), result, sandbox.lastUsage!, values.json)
      return 0
    }
    return await printCall(sandbox, fn, args, values.json)
  } finally {
    await sandbox.close()
  }
}

/** Calls `fn` with command-line arguments (numbers, or JSON for a component) and prints the result. */
async function printCall(sandbox: Sandbox, fn: string, args: string[], json: boolean | undefined): Promise<number> {
  const exp = sandbox.exports().find((e) => e.name === fn)
  if (exp?.signature !== undefined) { // a component function: WIT values, given as JSON (bare words are strings)
    const result = await sandbox.call(fn, ...args.map((a) => { try { return JSON.parse(a) } catch { return a } }))
    printResult(typeof result === 'string' ? result : JSON.stringify(result, bigintReplacer), result, sandbox.lastUsage!, json)
    return 0
  }
  const bytesAbi = exp?.params.join() === 'i32,i32' && exp.results.join() === 'i64'
  const parsed = args.map((a, i) => {
    const n = Number(a)
    if (a.trim() === '' || Number.isNaN(n) && a !== 'NaN') {
      throw new UsageError(`argument ${i + 1} (${JSON.stringify(a)}) is not a number${bytesAbi ? `; to send JSON to a bytes/JSON export, use --call-json` : ''}`)
    }
    if (exp?.params[i] !== 'i64') return n
    try {
      return BigInt(a)
    } catch {
      throw new UsageError(`argument ${i + 1} (${JSON.stringify(a)}) is i64: expected an integer`)
    }
  })
  const result = await sandbox.call(fn, ...parsed)
  printResult(Array.isArray(result) ? result.map(String).join(' ') : String(result), result, sandbox.lastUsage!, json)
  return 0
}

/** The result on stdout and usage on stderr, or with --json both as one JSON object. */
function printResult(text: string, result: unknown, usage: Usage, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify({ result: result === undefined ? null : result, usage }, bigintReplacer))
    return
  }
  console.log(text)
  console.error(`fuel ${usage.fuelUsed}, memory ${usage.memoryBytes} bytes, ${usage.wallMs.toFixed(2)} ms`)
}

async function serveRoutes(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...LIMIT_OPTIONS, route: { type: 'string', multiple: true }, middleware: { type: 'string', multiple: true }, port: { type: 'string' }, host: { type: 'string' }, 'body-limit': { type: 'string' } }, false)
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
  const { values } = parse(argv, { ...LIMIT_OPTIONS, tool: { type: 'string', multiple: true }, manifest: { type: 'string', multiple: true }, http: { type: 'string' }, host: { type: 'string' } }, false)
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
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } })
  const [file] = positionals
  if (!file) throw new UsageError('inspect needs a module file')
  const raw = new Uint8Array(await readFile(file).catch((e: NodeJS.ErrnoException) => { throw new SandboxError('CONFIG', `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { field: 'file' }) }))
  const isText = raw[0] !== 0
  const text = isText ? new TextDecoder().decode(raw) : ''
  const bytes = !isText ? raw : /^\s*\(\s*component\b/.test(text) ? await nodeComponentTools().then((tools) => tools.parse(text)) : await watToWasm(text)
  const component = bytes[4] === 0x0d && bytes[6] === 0x01
  const report: Record<string, unknown> = { file, sizeBytes: raw.length, component }
  const lines: Record<string, string[]> = {}
  if (component) {
    const wit = await nodeComponentTools().then((tools) => tools.wit(bytes))
    const items = (kind: string) => [...wit.matchAll(new RegExp(`^\\s*${kind}\\s+([^;]+);`, 'gm'))].map((m) => m[1]!)
    lines.imports = items('import')
    lines.exports = items('export')
    report.imports = lines.imports.map(witItem)
    report.exports = lines.exports.map(witItem)
  } else {
    const info: ModuleInfo = meter(bytes, { fuel: 'unlimited' }).info
    lines.imports = info.imports.map((i) => `${i.module}.${i.name}: ${i.kind}${i.type ? ` (${i.type.params}) -> (${i.type.results})` : ''}`)
    lines.exports = info.exports.map(describeExport)
    report.imports = info.imports.map((i) => ({ module: i.module, name: i.name, kind: i.kind, ...(i.type ? { params: i.type.params, results: i.type.results } : {}) }))
    report.exports = info.exports.map((e) => ({ name: e.name, kind: e.kind, ...(e.kind === 'function' ? { params: e.params, results: e.results } : {}) }))
    report.memoryInitialBytes = info.memoryInitialBytes
    report.start = info.hasStart
    const found = sections(bytes)
    report.sections = found
    lines.sections = found.map((s) => `${s.section}${s.name !== undefined ? ` ${JSON.stringify(s.name)}` : ''}: ${s.sizeBytes} bytes`)
  }
  if (values.json) console.log(JSON.stringify(report, null, 2))
  else {
    console.log(`${file}: ${raw.length} bytes, ${component ? 'a component' : 'a core module'}`)
    for (const [key, value] of Object.entries(report)) {
      if (Array.isArray(value)) { console.log(`${key}:`); for (const line of lines[key]!) console.log(`  ${line}`) }
      else if (key !== 'file' && key !== 'sizeBytes' && key !== 'component') console.log(`${key}: ${value}`)
    }
  }
  return 0
}

/** A WIT world item: `greet: func(...)` is a function, anything else an interface. */
function witItem(item: string): { name: string; kind: 'function' | 'interface'; signature?: string } {
  const fn = /^([\w-]+)\s*:\s*(func\b.*)$/s.exec(item)
  return fn ? { name: fn[1]!, kind: 'function', signature: fn[2]!.trim() } : { name: item.trim(), kind: 'interface' }
}

function describeExport(e: ExportDescriptor): string {
  return e.kind === 'function' ? `${e.name}: function (${e.params.join(', ')}) -> (${e.results.join(', ')})` : `${e.name}: ${e.kind}`
}

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount', 'tag']

/** Sections in order, with their sizes (read from the headers) and, for custom sections, their names. */
function sections(bytes: Uint8Array): { section: string; name?: string; sizeBytes: number }[] {
  const out: { section: string; name?: string; sizeBytes: number }[] = []
  const r = new Reader(bytes, 8) // the module has passed meter(): its headers are well formed
  while (!r.done) {
    const id = r.byte()
    const size = r.u32()
    const end = r.pos + size
    out.push(id === 0 ? { section: 'custom', name: r.name(), sizeBytes: size } : { section: SECTION_NAMES[id] ?? `unknown(${id})`, sizeBytes: size })
    r.pos = end
  }
  return out
}

/** Negative numbers are arguments (`call add.wasm add -1 2`), not flags. */
const NEGATIVE_NUMBER = /^-(\d|\.\d|Infinity$|NaN$)/

/**
 * `parseArgs` as the commands use it: positionals allowed, unknown flags refused with a
 * "did you mean", negative numbers taken as values.
 */
function parse<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, allowPositionals = true) {
  const held: string[] = []
  const masked = args.map((a) => NEGATIVE_NUMBER.test(a) ? `\0${held.push(a) - 1}` : a)
  const unmask = (v: string) => v.startsWith('\0') ? held[Number(v.slice(1))]! : v
  let parsed
  try {
    parsed = parseArgs({ args: masked, options, allowPositionals, strict: true })
  } catch (error) {
    const unknown = /Unknown option '(-[^']*)'/.exec((error as Error).message)?.[1]
    if (!unknown) throw error
    const known = [...Object.keys(options).map((k) => `--${k}`), '--help']
    throw new UsageError(`unknown option ${unknown}${didYouMean(unknown, known) || `; the options are ${known.join(', ')}`}`)
  }
  const values = parsed.values as Record<string, unknown>
  for (const [key, value] of Object.entries(values)) {
    values[key] = typeof value === 'string' ? unmask(value) : Array.isArray(value) ? value.map((v) => unmask(v as string)) : value
  }
  return { values: parsed.values, positionals: parsed.positionals.map(unmask) }
}

/** "; did you mean X?" when one of `known` is close to `given`, else ''. */
function didYouMean(given: string, known: string[]): string {
  let best: string | null = null
  let bestDistance = Math.min(3, Math.ceil(given.length / 2))
  for (const k of known) {
    const d = editDistance(k.toLowerCase(), given.toLowerCase())
    if (d < bestDistance) { best = k; bestDistance = d }
  }
  return best ? `; did you mean ${best}?` : ''
}

/**
 * `--dir` specs: `DIR` (the same path in the guest, as wasmtime has it; `DIR:ro` read-only),
 * `HOST::GUEST` (wasmtime), or `HOST:/GUEST[:ro|rw]`. A host folder that is not there is
 * CONFIG naming the flag.
 */
async function dirPreopens(specs: string[]): Promise<Record<string, { host: string; readonly: boolean }>> {
  const preopens: Record<string, { host: string; readonly: boolean }> = {}
  for (const spec of specs) {
    const access = /:(ro|rw)$/.exec(spec)?.[1]
    const bare = access ? spec.slice(0, -3) : spec
    // `./x` is `x` in the guest (wasi-libc resolves relative paths from /, so `x` and `/x` reach it)
    const mapped = bare.includes('::') ? bare.split('::') : /^(.+?):(\/.*)$/.exec(bare)?.slice(1) ?? [bare, bare.replace(/^\.\/(?=.)/, '').replace(/(?<=.)\/+$/, '')]
    const [host, guest] = mapped as [string, string]
    if (!host || !guest) throw new UsageError(`--dir ${spec}: expected DIR, HOST::GUEST or HOST:/GUEST[:ro], e.g. ./data or ./data:/data:ro`)
    const found = await stat(host).catch(() => null)
    if (!found?.isDirectory()) {
      throw new SandboxError('CONFIG', `--dir ${spec}: ${found ? 'not a directory' : 'no such directory'}: ${resolve(host)}`, {
        field: '--dir', suggestion: 'give a host folder that exists (relative to the current directory)',
      })
    }
    preopens[guest] = { host, readonly: access === 'ro' }
  }
  return preopens
}

/** `--env K=V`, or `--env K` for our own value of K (skipped when we have none, as wasmtime does). */
function envVars(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at === 0 || pair === '') throw new UsageError(`--env ${pair}: expected K=V, or K to pass on our own K`)
    if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1)
    else if (process.env[pair] !== undefined) env[pair] = process.env[pair]!
  }
  return env
}

function bigintReplacer(key: string, value: unknown): unknown {
  if (key === 'wallMs' && typeof value === 'number') return Math.round(value * 100) / 100
  return typeof value === 'bigint' ? value.toString() : value
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (error as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      console.error(`wasm-sandbox: ${(error as Error).message} (see --help)`)
      process.exitCode = 2
    } else if (error instanceof SandboxError) {
      console.error(`wasm-sandbox: ${error.code}: ${error.message}${error.suggestion && !error.message.includes(error.suggestion) ? ` (${error.suggestion})` : ''}`)
      process.exitCode = error.code === 'CONFIG' ? 2 : 1 // a bad option or argument is bad usage
    } else {
      console.error(`wasm-sandbox: ${(error as Error)?.stack ?? String(error)}`)
      process.exitCode = 70
    }
  },
)
