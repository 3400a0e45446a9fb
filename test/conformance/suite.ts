/**
 * The conformance suite: one list of cases run against the Node adapter (in vitest) and the
 * browser adapter (in Chromium), whose results must be identical. Results are plain JSON:
 * values, error codes and fields, fuel counts, WASI output and audit events (without times).
 */
type Api = typeof import('wasm-sandbox')

const ADD = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))'

const KITCHEN = `(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "alloc") (param i32) (result i32) (local i32)
    (local.set 1 (global.get $heap)) (global.set $heap (i32.add (global.get $heap) (local.get 0))) (local.get 1))
  (func (export "echo") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32)) (i64.extend_i32_u (local.get 1))))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "mulf32") (param f32 f32) (result f32) (f32.mul (local.get 0) (local.get 1)))
  (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "sum") (param $n i32) (result i32) (local $s i32)
    (block $done (loop $l (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $l)))
    (local.get $s))
  (func (export "spin") (loop $l (br $l)))
  (func (export "boom") unreachable)
  (func $r (export "recurse") (param i32) (result i32) (i32.add (i32.const 1) (call $r (local.get 0))))
  (func (export "growForever") (result i32)
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (i32.load (i32.const 0x7ffffff0))))`

const HOST = `(module
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (import "env" "shout" (func $shout (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 0) "hello")
  (func (export "alloc") (param i32) (result i32) (local i32)
    (local.set 1 (global.get $heap)) (global.set $heap (i32.add (global.get $heap) (local.get 0))) (local.get 1))
  (func (export "useTwice") (param i32) (result i32) (call $twice (local.get 0)))
  (func (export "useShout") (result i32) (i32.wrap_i64 (call $shout (i32.const 0) (i32.const 5)))))`

const WASI_CAT = `(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "notes.txt")
  (data (i32.const 120) "../secret")
  (func (export "_start") (local $fd i32) (local $n i32)
    ;; open notes.txt in the first preopen (fd 3) and copy it to stdout
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 9) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))
    (local.set $fd (i32.load (i32.const 200)))
    (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 1000))
    (drop (call $read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12)))
    ;; try to escape, and to read randomness: both denied
    (i32.store8 (i32.const 300) (call $open (i32.const 3) (i32.const 0) (i32.const 120) (i32.const 9) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))
    (i32.store8 (i32.const 301) (call $random (i32.const 400) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 300)) (i32.store (i32.const 4) (i32.const 2))
    (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 12)))
    (call $exit (i32.const 7))))`

/** Programs of the vendored WASI testsuite (test/wasi-testsuite), by language and name. */
const testsuiteProgram = (language: string, name: string) => new URL(`../wasi-testsuite/tests/${language}/testsuite/wasm32-wasip1/${name}.wasm`, import.meta.url)

/** The C suite's `fs-tests.dir`, as an in-memory preopen (the way a browser runs it). */
const C_FS_TESTS = { file: 'Hello World!', 'lseek.txt': '01234567', 'pread.txt': 'pread-test', 'fopendir.dir/file-0': '', 'fopendir.dir/file-1': '', 'writeable/.gitignore': '*\n!.gitignore\n' }

/** Writes to stdout and stderr, then traps (`unreachable`) or spins until its fuel runs out. */
const WRITE_THEN_FAIL = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "partial output\\n")
  (data (i32.const 200) "panicked: the reason\\n")
  (func $say (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr)) (i32.store (i32.const 4) (local.get $len))
    (drop (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (call $say (i32.const 1) (i32.const 100) (i32.const 15))
    (call $say (i32.const 2) (i32.const 200) (i32.const 21))
    (unreachable)))`

/** A SandboxError (or anything else) as comparable data. */
function describeError(error: unknown): unknown {
  const e = error as Record<string, unknown>
  if (!(error instanceof Error) || typeof e.code !== 'string') return { unexpected: String(error) }
  const out: Record<string, unknown> = { code: e.code }
  for (const key of ['kind', 'limit', 'used', 'trap', 'export', 'field', 'offset', 'line', 'imports', 'stdout', 'stderr']) {
    if (e[key] !== undefined && !(e.code === 'TIMEOUT' && key === 'used')) out[key] = typeof e[key] === 'bigint' ? `${e[key]}n` : e[key]
  }
  return out
}

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { value: plain(await promise) }
  } catch (error) {
    return { error: describeError(error) }
  }
}

/** bigints as strings, bytes as arrays: JSON-comparable. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`
  if (value instanceof Uint8Array) return Array.from(value)
  if (Array.isArray(value)) return value.map(plain)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

/** A component in text form: strings through the canonical ABI, a counted loop, a runaway loop. */
const COMPONENT = `(component
  (core module $m
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (data (i32.const 16) "hello, ")
    (func (export "greet") (param $ptr i32) (param $len i32) (result i32)
      (local $out i32)
      (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $len) (i32.const 7))))
      (memory.copy (local.get $out) (i32.const 16) (i32.const 7))
      (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $ptr) (local.get $len))
      (i32.store (i32.const 8) (local.get $out))
      (i32.store (i32.const 12) (i32.add (local.get $len) (i32.const 7)))
      (i32.const 8))
    (func (export "sum") (param $n i32) (result i32) (local $s i32)
      (block $done (loop $l (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $l)))
      (local.get $s))
    (func (export "spin") (loop $l (br $l))))
  (core instance $i (instantiate $m))
  (func (export "greet") (param "name" string) (result string)
    (canon lift (core func $i "greet") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))))
  (func (export "sum") (param "n" u32) (result u32) (canon lift (core func $i "sum")))
  (func (export "spin") (canon lift (core func $i "spin"))))`

export const cases: Record<string, (api: Api) => Promise<unknown>> = {
  async 'run() one-liner'({ run }) {
    return outcome(run(ADD, 'add', [5, 3], { fuel: 1e6, memory: '16MB', timeout: '1s' }))
  },
  async 'numbers, i64, f32, multi-value, fuel counts'({ Sandbox }) {
    const sb = await Sandbox.create(KITCHEN, { fuel: 1e6 })
    const results = [
      await outcome(sb.call('add64', 2n ** 62n, 2n ** 62n)),
      await outcome(sb.call('mulf32', 1.1, 3)),
      await outcome(sb.call('swap', 7, 9n)),
      await outcome(sb.call('sum', 1000)),
      plain(sb.lastUsage?.fuelUsed),
      sb.exports().map((e) => `${e.name}:${e.kind}(${e.params})->(${e.results})`),
    ]
    await sb.close()
    return results
  },
  async 'limits end in typed errors and the sandbox keeps serving'({ Sandbox }) {
    const sb = await Sandbox.create(KITCHEN, { fuel: 1e6, memory: '2MB', stackDepth: 100 })
    const results = []
    for (const fn of ['spin', 'boom', 'recurse', 'growForever', 'missing']) {
      results.push(fn, await outcome(fn === 'recurse' ? sb.call(fn, 0) : sb.call(fn)), await outcome(sb.call('sum', 3)))
    }
    await sb.close()
    return results
  },
  async 'timeout kills the worker; the next call runs on a fresh instance'({ Sandbox }) {
    const sb = await Sandbox.create(KITCHEN, { fuel: 'unlimited', timeout: '300ms' })
    const results = [await outcome(sb.call('spin')), await outcome(sb.call('sum', 4))]
    await sb.close()
    return results
  },
  async 'bytes, JSON, batch and stream'({ Sandbox }) {
    const sb = await Sandbox.create(KITCHEN, { fuel: 1e6 })
    const results = [
      await outcome(sb.callBytes('echo', new Uint8Array([1, 2, 3]))),
      await outcome(sb.callJson('echo', { text: 'héllo 𝄞', list: [1, [2, { x: null }]] })),
      (await sb.callBatch([{ fn: 'sum', args: [10] }, { fn: 'boom' }, { fn: 'sum', args: [20] }])).map((r) => (r.ok ? r.value : describeError(r.error))),
    ]
    const streamed: unknown[] = []
    for await (const v of sb.stream('sum', [[1], [2], [3], [4]])) streamed.push(v)
    results.push(streamed)
    await sb.close()
    return results
  },
  async 'a burst of bytes calls (pipelined through the channel\'s ring), a trap among them'({ Sandbox }) {
    const sb = await Sandbox.create(KITCHEN, { fuel: 1e6 })
    const calls = Array.from({ length: 60 }, (_, i) => (i === 30 ? sb.callBytes('boom', new Uint8Array([i])) : sb.callJson('echo', { i })))
    const results: unknown[] = (await Promise.allSettled(calls)).map((r) => (r.status === 'fulfilled' ? r.value : describeError(r.reason)))
    const { fuelUsed, calls: count, traps, hostCalls } = sb.usage()
    results.push(plain({ fuelUsed, count, traps, hostCalls }))
    await sb.close()
    return results
  },
  async 'bad input is typed'({ Sandbox }) {
    return [
      await outcome(Sandbox.create(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5]))),
      await outcome(Sandbox.create('(module\n (func (result i32)\n  i64.const 1))')),
      await outcome(Sandbox.create('(module (import "env" "steal" (func)))')),
      await outcome(Sandbox.create(ADD, { memory: '64 mb' })),
      await outcome(Sandbox.create('(module (memory 16384))', { memory: '16MB' })),
    ]
  },
  async 'host functions'({ Sandbox }) {
    const sb = await Sandbox.create(HOST, {
      imports: {
        env: {
          twice: (x: number) => x * 2,
          shout: async (ptr: number, len: number, ctx: { readString(p: number, l: number): Promise<string> }) => (await ctx.readString(ptr, len)).toUpperCase() + '!',
        },
      },
    })
    const results = [await outcome(sb.call('useTwice', 21)), await outcome(sb.call('useShout')), sb.usage().hostCalls]
    await sb.close()
    return results
  },
  async 'inline sandboxes: results, errors and fuel on the caller\'s thread; synchronous host functions without SharedArrayBuffer'({ Sandbox }) {
    const sb = await Sandbox.create(KITCHEN, { isolation: 'inline', fuel: 1e6, memory: '2MB', stackDepth: 100 })
    const results: unknown[] = []
    for (const [fn, args] of [['add64', [2n ** 62n, 1n]], ['swap', [7, 9n]], ['sum', [1000]], ['spin', []], ['recurse', [0]], ['growForever', []], ['sum', [3]]] as const) {
      results.push(fn, await outcome(sb.call(fn, ...args)), plain(sb.lastUsage?.fuelUsed))
    }
    await sb.close()
    const host = await Sandbox.create(HOST, {
      isolation: 'inline', fuel: 1e6,
      imports: { env: { twice: (x: number) => x * 2, shout: (ptr: number, len: number, ctx: { readString(p: number, l: number): string }) => ctx.readString(ptr, len).toUpperCase() + '!' } },
    })
    results.push(await outcome(host.call('useTwice', 21)), await outcome(host.call('useShout')), host.usage().hostCalls)
    await host.close()
    const wasi = await Sandbox.create(WASI_CAT, { isolation: 'inline', fuel: 1e7, wasi: { preopens: { '/data': { files: { 'notes.txt': 'inline\n' }, readonly: true } } } })
    const out = await wasi.runCommand()
    results.push(out.exitCode, out.stdout, plain(out.usage.fuelUsed))
    await wasi.close()
    return results
  },
  async 'pools, tenants, reload and profiling'({ SandboxPool, Sandbox, createTenant }) {
    const tenant = createTenant('conformance', { maxInstances: 3, fuelTotal: 100_000 })
    const pool = await tenant.createPool(KITCHEN, { min: 1, max: 2 })
    const sums = await Promise.all([pool.call('sum', 10), pool.call('sum', 20), pool.call('sum', 30)])
    const third = await tenant.createSandbox(KITCHEN)
    const overQuota = await outcome(tenant.createSandbox(KITCHEN))
    await third.close()
    await pool.close()
    const plainPool = await SandboxPool.create(ADD, { max: 1, reuse: 'fresh' })
    const fresh = await plainPool.call('add', 1, 2)
    await plainPool.close()
    const sb = await Sandbox.create(KITCHEN, { profile: true })
    await sb.call('sum', 5)
    const profile = (await sb.profile()).map((p) => ({ ...p, fuel: `${p.fuel}n` }))
    const reload = await sb.reload(ADD)
    const forced = await sb.reload(ADD, { force: true })
    const afterReload = await outcome(sb.call('add', 2, 2))
    await sb.close()
    return { sums, overQuota, usage: plain(tenant.usage()), fresh, profile, reload, forced, afterReload }
  },
  async 'components: transpiled, metered, typed calls'({ Sandbox }) {
    const sb = await Sandbox.create(COMPONENT, { fuel: 100_000 })
    const results = [
      sb.exports().map((e) => `${e.name}: ${e.signature}`),
      await outcome(sb.call('greet', 'héllo 𝄞')),
      await outcome(sb.call('sum', 100)),
      plain(sb.lastUsage?.fuelUsed),
      await outcome(sb.call('spin')),
      await outcome(sb.call('greet', 'again')),
      await outcome(sb.callJson('greet', {})),
    ]
    await sb.close()
    return results
  },
  async 'WASI command with an in-memory preopen, under the policy'({ Sandbox }) {
    const sb = await Sandbox.create(WASI_CAT, { wasi: { preopens: { '/data': { files: { 'notes.txt': 'from a virtual file\n' }, readonly: true } } } })
    const out = await sb.runCommand()
    const results = {
      exitCode: out.exitCode, stdout: out.stdout, stderr: Array.from(out.stderrBytes), fuel: plain(out.usage.fuelUsed),
      audit: sb.audit().map(({ time: _time, ...event }) => event),
    }
    await sb.close()
    return results
  },
  async 'WASI testsuite programs on in-memory preopens'({ Sandbox }) {
    const programs: [string, string, { args?: string[]; env?: Record<string, string>; files?: Record<string, string> }][] = [
      ['assemblyscript', 'args_get-multiple-arguments', { args: ['first', 'the "second" arg', '3'] }],
      ['assemblyscript', 'environ_get-multiple-variables', { env: { a: 'text', b: 'escap " ing', c: 'new\nline' } }],
      ['assemblyscript', 'proc_exit-failure', {}],
      ['c', 'pread-with-access', { files: C_FS_TESTS }],
      ['c', 'fdopendir-with-access', { files: C_FS_TESTS }],
      ['rust', 'fd_readdir', { files: { '.keep': '' } }],
      ['rust', 'path_open_read_write', { files: { '.keep': '' } }],
      ['rust', 'file_pread_pwrite', { files: { '.keep': '' } }],
    ]
    const results: unknown[] = []
    for (const [language, name, spec] of programs) {
      const preopens = spec.files ? { '/': { files: spec.files } } : {}
      const sb = await Sandbox.create(testsuiteProgram(language, name), { wasi: { args: spec.args ?? [], env: spec.env ?? {}, preopens, clock: true, random: true } })
      const out = await outcome(sb.runCommand().then((r) => ({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr })))
      results.push(name, out)
      await sb.close()
    }
    return results
  },
  async 'a failed WASI command keeps what it wrote'({ Sandbox }) {
    const sb = await Sandbox.create(WRITE_THEN_FAIL, { wasi: true, fuel: 100_000 })
    const trapped = await outcome(sb.runCommand())
    const bytes = await sb.runCommand().catch((e: { stdoutBytes?: Uint8Array; stderrBytes?: Uint8Array }) => [Array.from(e.stdoutBytes ?? []).length, Array.from(e.stderrBytes ?? []).length])
    await sb.close()
    return { trapped, bytes }
  },
}

/** Runs every case, in order; a case that throws records the error. */
export async function runSuite(api: Api, only?: string[]): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {}
  for (const [name, run] of Object.entries(cases)) {
    if (only && !only.includes(name)) continue
    try {
      results[name] = await run(api)
    } catch (error) {
      results[name] = { threw: describeError(error), message: String((error as Error)?.message) }
    }
  }
  return results
}
