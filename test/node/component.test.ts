import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox, SandboxError, type SandboxEvent } from 'wasm-sandbox'
import { commandComponent, componentFromText, coreComponent, qjsComponent, SUM_CORE, SUM_LIFTS } from '../support/components.js'
import { rejectsWith } from './helpers.js'
import { fileURLToPath } from 'node:url'
import { transpileBytes } from '@bytecodealliance/jco-transpile'

/** Deterministic pseudo-random numbers in [0, 1). */
function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

/**
 * The component instantiated in this process without the sandbox: jco's glue, the core
 * modules as jco produced them (no metering), the shim's own WASI. Calls answer as the
 * sandbox does (a WIT result as { tag, val }).
 */
async function unmeteredInstance(bytes: Uint8Array): Promise<(fn: string, args: unknown[]) => unknown> {
  const { files } = await transpileBytes(bytes, { name: 'raw', instantiation: 'async' })
  const glue = await import(`data:text/javascript;base64,${Buffer.from(files['raw.js']!).toString('base64')}`)
  const base = new URL('../../node_modules/@bytecodealliance/preview2-shim/dist/browser/', import.meta.url)
  const load = (name: string) => import(fileURLToPath(new URL(`${name}.js`, base)))
  const [cli, io, clocks, random, filesystem] = await Promise.all(['cli', 'io', 'clocks', 'random', 'filesystem'].map(load))
  const c = cli.createCli({})
  const fs = filesystem.createFilesystem({ adapter: new filesystem.InMemoryFilesystemAdapter(), preopens: {} })
  const imports: Record<string, unknown> = {
    'wasi:io/error': io.error, 'wasi:io/poll': io.poll, 'wasi:io/streams': io.streams,
    'wasi:clocks/monotonic-clock': clocks.monotonicClock, 'wasi:clocks/wall-clock': clocks.wallClock,
    'wasi:random/insecure-seed': random.insecureSeed, 'wasi:filesystem/types': fs.types, 'wasi:filesystem/preopens': fs.preopens,
  }
  for (const [name, namespace] of Object.entries(c)) imports[`wasi:cli/${name.replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)}`] = namespace
  const root = await glue.instantiate((file: string) => WebAssembly.compile(files[file]!), imports)
  return (fn, args) => {
    const [iface, name] = fn.includes('#') ? fn.split('#') : [null, fn]
    const f = iface ? root[iface][name!] : root[name!.replace(/-([a-z])/g, (_, x: string) => x.toUpperCase())]
    if (fn !== 'parse-int') return f(...args)
    try {
      return { tag: 'ok', val: f(...args) }
    } catch (error) {
      return { tag: 'err', val: error }
    }
  }
}

/** A component written by hand: strings through the canonical ABI, numbers, and runaway guests. */
const GREET_CORE = `
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1))) (i32.sub (i32.const 0) (local.get 2))))
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
  ${SUM_CORE}
  (func (export "spin") (loop $l (br $l)))
  (func $rec (export "recurse") (param i32) (result i32) (i32.add (i32.const 1) (call $rec (local.get 0))))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "boom") unreachable)`
const GREET_LIFTS = `
  (func (export "greet") (param "name" string) (result string)
    (canon lift (core func $i "greet") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc"))))
  ${SUM_LIFTS}
  (func (export "spin") (canon lift (core func $i "spin")))
  (func (export "recurse") (param "n" u32) (result u32) (canon lift (core func $i "recurse")))
  (func (export "grow") (param "pages" u32) (result s32) (canon lift (core func $i "grow")))
  (func (export "boom") (canon lift (core func $i "boom")))`

const SHAPES_WIT = `package test:shapes;

interface geometry {
  record point { x: f64, y: f64 }
  variant shape { circle(f64), rect(point), empty }
  area: func(s: shape) -> f64;
  centroid: func(points: list<point>) -> option<point>;
}

world shapes {
  export geometry;
  export greet: func(name: string) -> string;
  export parse-int: func(s: string) -> result<s32, string>;
  export count: func() -> u32;
  export bytes-sum: func(data: list<u8>) -> u32;
  export now: func() -> f64;
}
`
const SHAPES_JS = `
let calls = 0;
export const geometry = {
  area(s) {
    switch (s.tag) {
      case 'circle': return Math.PI * s.val * s.val;
      case 'rect': return s.val.x * s.val.y;
      default: return 0;
    }
  },
  centroid(points) {
    if (points.length === 0) return undefined;
    let x = 0, y = 0;
    for (const p of points) { x += p.x; y += p.y; }
    return { x: x / points.length, y: y / points.length };
  },
};
export function greet(name) { return 'hello, ' + name; }
export function parseInt(s) {
  const n = Number(s);
  if (!Number.isInteger(n)) throw 'not an integer: ' + s;
  return n;
}
export function count() { return ++calls; }
export function bytesSum(data) { let s = 0; for (const b of data) s += b; return s; }
export function now() { return Date.now(); }
`

describe('components: a hand-written component', () => {
  let bytes: Uint8Array
  let sb: Sandbox
  beforeAll(async () => {
    bytes = await coreComponent(GREET_CORE, GREET_LIFTS)
    sb = await Sandbox.create(bytes, { fuel: 1e6, memory: '1MB', stackDepth: 200 })
  })
  afterAll(() => sb.close())

  it('is detected by its header, and typed calls take and return WIT values', async () => {
    expect(await sb.call('greet', 'wasm')).toBe('hello, wasm')
    expect(await sb.call('greet', 'héllo ✓')).toBe('hello, héllo ✓')
    expect(await sb.call('add', 2, 3)).toBe(5)
  })

  it('lists the exports with their WIT signatures', () => {
    const greet = sb.exports().find((e) => e.name === 'greet')
    expect(greet).toEqual({ name: 'greet', kind: 'function', params: ['name: string'], results: ['string'], signature: 'func(name: string) -> string' })
    expect(sb.exports().map((e) => e.name)).toEqual(['greet', 'add', 'sum-to', 'spin', 'recurse', 'grow', 'boom'])
  })

  it('meters fuel exactly: a·n + b, the same in every run', async () => {
    const fuel = async (n: number) => {
      await sb.call('sum-to', n)
      return sb.lastUsage!.fuelUsed
    }
    const [f10, f20, f30] = [await fuel(10), await fuel(20), await fuel(30)]
    expect(f20 - f10).toBe(f30 - f20)
    expect(f20 - f10).toBeGreaterThan(0n)
    expect(await fuel(20)).toBe(f20)
  })

  it('a runaway loop ends with FUEL_EXHAUSTED carrying the limit, and the next call works on a fresh instance', async () => {
    const error = await rejectsWith(sb.call('spin'), 'FUEL_EXHAUSTED')
    expect(error.limit).toBe(1_000_000n)
    expect(await sb.call('greet', 'again')).toBe('hello, again')
  })

  it('the stack depth limit applies inside the component', async () => {
    const error = await rejectsWith(sb.call('recurse', 1), 'STACK_OVERFLOW')
    expect(error.limit).toBe(200)
    expect(await sb.call('add', 1, 1)).toBe(2)
  })

  it('memory caps rewrite the core module: growing past the limit fails, within it succeeds', async () => {
    expect(await sb.call('grow', 100)).toBe(-1) // 1 MB cap = 16 pages
    expect(await sb.call('grow', 2)).toBe(1)
    expect(sb.lastUsage!.memoryBytes).toBe(3 * 65536)
  })

  it('a trap is TRAP naming the export; the sandbox keeps serving', async () => {
    const error = await rejectsWith(sb.call('boom'), 'TRAP')
    expect(error.export).toBe('boom')
    expect(await sb.call('add', 40, 2)).toBe(42)
  })

  it('an unknown function is NO_SUCH_EXPORT listing what exists; bytes calls are refused clearly', async () => {
    const error = await rejectsWith(sb.call('nope'), 'NO_SUCH_EXPORT')
    expect(error.suggestion).toMatch(/greet, add/)
    const bytesError = await rejectsWith(sb.callBytes('greet', new Uint8Array([1])), 'CONFIG')
    expect(bytesError.message).toMatch(/component/)
  })

  it('accepts component text as the source, and reports a text error with its line', async () => {
    const text = `(component (core module $m ${GREET_CORE}) (core instance $i (instantiate $m)) ${GREET_LIFTS})`
    const fromText = await Sandbox.create(text)
    try {
      expect(await fromText.call('add', 20, 22)).toBe(42)
    } finally {
      await fromText.close()
    }
    const error = await rejectsWith(Sandbox.create('(component\n  (core module $m\n    (func (export "f") (i32.bogus))))'), 'INVALID_MODULE')
    expect(error.line).toBe(3)
  })

  it('garbage after a component header is INVALID_MODULE, not a crash', async () => {
    const broken = bytes.slice(0, 40)
    await rejectsWith(Sandbox.create(broken), 'INVALID_MODULE')
  })
})

describe('components: fuel across core modules', () => {
  // Two core modules that each loop n times: each stays under a budget of 3/4 of the pair's
  // total, the call as a whole does not.
  const loop = '(local $i i32) (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (local.get 0))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))'
  const TWO_MODULES = `(component
    (core module $a (func (export "work") (param i32) ${loop}))
    (core instance $ia (instantiate $a))
    (core module $b (import "a" "work" (func $w (param i32)))
      (func (export "both") (param i32) ${loop} (call $w (local.get 0))))
    (core instance $ib (instantiate $b (with "a" (instance $ia))))
    (func (export "both") (param "n" u32) (canon lift (core func $ib "both"))))`

  it('usage sums the modules exactly, and a call over budget in total is FUEL_EXHAUSTED', async () => {
    const free = await Sandbox.create(TWO_MODULES, { fuel: 'unlimited' })
    await free.call('both', 1000)
    const total = free.lastUsage!.fuelUsed
    await free.call('both', 1000)
    expect(free.lastUsage!.fuelUsed).toBe(total)
    await free.close()
    const budget = (total * 3n) / 4n
    const limited = await Sandbox.create(TWO_MODULES, { fuel: budget })
    try {
      const error = await rejectsWith(limited.call('both', 1000), 'FUEL_EXHAUSTED')
      expect(error.limit).toBe(budget)
      await limited.call('both', 10)
      expect(limited.lastUsage!.fuelUsed).toBeLessThan(budget)
    } finally {
      await limited.close()
    }
  })
})

describe('components: a real JavaScript component (componentize-qjs)', () => {
  let bytes: Uint8Array
  let sb: Sandbox
  beforeAll(async () => {
    bytes = await qjsComponent(SHAPES_WIT, SHAPES_JS)
    sb = await Sandbox.create(bytes, { wasi: { clock: true } })
  }, 120_000)
  afterAll(() => sb.close())

  it('maps strings, records, variants, lists, options and results as jco does', async () => {
    expect(await sb.call('greet', 'qjs')).toBe('hello, qjs')
    expect(await sb.call('test:shapes/geometry#area', { tag: 'rect', val: { x: 2, y: 3 } })).toBe(6)
    expect(await sb.call('test:shapes/geometry#area', { tag: 'circle', val: 1 })).toBeCloseTo(Math.PI)
    expect(await sb.call('test:shapes/geometry#area', { tag: 'empty' })).toBe(0)
    expect(await sb.call('test:shapes/geometry#centroid', [{ x: 0, y: 0 }, { x: 2, y: 4 }])).toEqual({ x: 1, y: 2 })
    expect(await sb.call('test:shapes/geometry#centroid', [])).toBeUndefined()
    expect(await sb.call('parse-int', '12')).toEqual({ tag: 'ok', val: 12 })
    expect(await sb.call('parse-int', 'x')).toEqual({ tag: 'err', val: 'not an integer: x' })
    expect(await sb.call('bytes-sum', new Uint8Array([1, 2, 3, 250]))).toBe(256)
  })

  it('lists world functions with WIT and interface functions with their types', () => {
    const byName = new Map(sb.exports().map((e) => [e.name, e]))
    expect(byName.get('parse-int')?.signature).toBe('func(s: string) -> result<s32, string>')
    expect(byName.get('test:shapes/geometry#centroid')?.signature).toBe('(points: Array<Point>) => Point | undefined')
  })

  it('keeps instance state between calls, and counts fuel for the work done', async () => {
    const a = await sb.call('count')
    expect(await sb.call('count')).toBe(a + 1)
    expect(sb.lastUsage!.fuelUsed).toBeGreaterThan(0n)
  })

  it('runs out of fuel deterministically on a small budget, and recovers', async () => {
    const small = await Sandbox.create(bytes, { wasi: true, fuel: 20_000 })
    try {
      const error = await rejectsWith(small.call('test:shapes/geometry#centroid', Array.from({ length: 2000 }, (_, i) => ({ x: i, y: i }))), 'FUEL_EXHAUSTED')
      expect(error.limit).toBe(20_000n)
      expect(await small.call('greet', 'x')).toBe('hello, x')
    } finally {
      await small.close()
    }
  })

  it('is LINK_ERROR under the strict policy, naming the WASI interfaces, before any guest code runs; each is an audit event', async () => {
    const events: SandboxEvent[] = []
    const error = await rejectsWith(Sandbox.create(bytes, { onEvent: (e) => events.push(e) }), 'LINK_ERROR')
    expect(error.imports).toContain('wasi:cli/environment')
    expect(error.imports).toContain('wasi:filesystem/preopens')
    expect(error.message).toMatch(/wasi: true/)
    expect(events.some((e) => e.type === 'audit' && /wasi:cli\/environment/.test(e.detail))).toBe(true)
  })

  it('clocks are denied on use without wasi.clock: SECURITY_VIOLATION and an audit event; granted, they work', async () => {
    const denied = await Sandbox.create(bytes, { wasi: true })
    try {
      const error = await rejectsWith(denied.call('now'), 'SECURITY_VIOLATION')
      expect(error.message).toMatch(/wasi\.clock/)
      expect(denied.audit().some((e) => e.capability === 'clock')).toBe(true)
      expect(await denied.call('greet', 'still here')).toBe('hello, still here')
    } finally {
      await denied.close()
    }
    const now = await sb.call('now') as number
    expect(Math.abs(now - Date.now())).toBeLessThan(60_000)
  })

  it('differential: the metered sandbox and an unmetered in-process instance agree on every result', async () => {
    const raw = await unmeteredInstance(bytes)
    const rand = seeded(7)
    const calls: [string, unknown[]][] = []
    for (let i = 0; i < 60; i++) {
      const n = Math.floor(rand() * 40)
      const points = Array.from({ length: n }, () => ({ x: Math.round(rand() * 1e6) / 1e3, y: Math.round(rand() * 1e6) / 1e3 }))
      calls.push(['test:shapes/geometry#centroid', [points]])
      calls.push(['test:shapes/geometry#area', [[{ tag: 'circle', val: rand() * 10 }, { tag: 'rect', val: points[0] ?? { x: 1, y: 2 } }, { tag: 'empty' }][i % 3]]])
      calls.push(['parse-int', [i % 4 === 0 ? `x${i}` : String(Math.floor(rand() * 2 ** 31) * (i % 2 ? -1 : 1))]])
      calls.push(['bytes-sum', [new Uint8Array(n * 3).map(() => Math.floor(rand() * 256))]])
      calls.push(['greet', [`näme ${i} 𝄞`.repeat(n % 5)]])
    }
    for (const [fn, args] of calls) {
      expect(await sb.call(fn, ...args), `${fn}(${JSON.stringify(args).slice(0, 80)})`).toEqual(raw(fn, args))
    }
  })

  it('a second create of the same component is served from the transpile cache', async () => {
    const again = await Sandbox.create(bytes, { wasi: { clock: true } })
    try {
      expect(await again.call('greet', 'cached')).toBe('hello, cached')
    } finally {
      await again.close()
    }
  })
})

describe('components: WASI 0.2 commands (C programs adapted to wasi:cli/run)', () => {
  it('runCommand runs wasi:cli/run with argv and env exactly as given: nothing from the host leaks', async () => {
    process.env.WASM_SANDBOX_SECRET = 'host-secret'
    const sb = await Sandbox.create(await commandComponent('envargs'), { wasi: { args: ['ignored'], env: { ONLY: 'this' } } })
    try {
      const out = await sb.runCommand({ args: ['a b', 'héllo'] })
      expect(out.exitCode).toBe(0)
      expect(out.stdout).toContain('arg[0]=main.wasm|bytes=9')
      expect(out.stdout).toContain('arg[1]=a b|bytes=3')
      expect(out.stdout).toContain('arg[2]=héllo|bytes=6')
      expect(out.stdout).toContain('env[0]=ONLY=this\nenvc=1')
      expect(out.stdout).toContain('getenv(PATH)=(unset)')
      expect(out.stdout).not.toContain('host-secret')
      expect(out.stdout).not.toContain(process.cwd())
    } finally {
      delete process.env.WASM_SANDBOX_SECRET
      await sb.close()
    }
  }, 60_000)

  it('stdin goes in, stdout comes back byte for byte; a failing exit is non-zero', async () => {
    const cat = await Sandbox.create(await commandComponent('cat'), { wasi: true })
    const exit = await Sandbox.create(await commandComponent('exitcode'), { wasi: true })
    try {
      const input = 'line one\nline two ✓\n'.repeat(500)
      const out = await cat.runCommand({ stdin: input })
      expect(out.exitCode).toBe(0)
      expect(out.stdout).toBe(input)
      // The preview1 adapter turns exit(n != 0) into wasi:cli/exit's err: exit code 1.
      const failed = await exit.runCommand({ args: ['stderr'] })
      expect(failed.exitCode).toBe(1)
      expect(failed.stderr).toBe('something went wrong\n')
      expect((await exit.runCommand({ args: ['return'] })).exitCode).toBe(1)
    } finally {
      await Promise.all([cat.close(), exit.close()])
    }
  }, 60_000)

  it('a writable in-memory preopen comes back in `files`; each run starts from the given files', async () => {
    const sb = await Sandbox.create(await commandComponent('writer'), { wasi: { preopens: { '/data': { files: { 'seed.txt': 'seed' } } } } })
    try {
      const out = await sb.runCommand({ args: ['/data'] })
      expect(out.exitCode, out.stderr).toBe(0)
      const names = Object.keys(out.files['/data']!)
      expect(names).toContain('seed.txt')
      expect(names.some((n) => n.startsWith('out/'))).toBe(true)
      const again = await sb.runCommand({ args: ['/data'] })
      expect(Object.keys(again.files['/data']!).sort()).toEqual(names.sort())
    } finally {
      await sb.close()
    }
  }, 60_000)
})

describe('components: escaping the preview2 file system', () => {
  const files = { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n' }
  let sb: Sandbox
  beforeAll(async () => {
    sb = await Sandbox.create(await commandComponent('escape'), {
      wasi: { preopens: { '/data': { files }, '/other': { files: {} }, '/ro': { files, readonly: true } } },
    })
  }, 60_000)
  afterAll(() => sb.close())

  const attack = async (name: string) => {
    const out = await sb.runCommand({ args: [name] })
    expect(out.stdout).toContain('done')
    expect(out.stdout).not.toMatch(/root:|daemon:/) // nothing of the host's /etc/passwd
    return new Map(out.stdout.split('\n').map((l) => /^(.*?): (ok|errno=\d+)$/.exec(l)).filter((m) => m !== null).map((m) => [m![1]!, m![2]!]))
  }

  it('.. above the preopen is refused however it is spelled', async () => {
    const steps = await attack('dotdot')
    for (const step of ['open /data/<target>', 'open /data/sub/../../../etc/passwd', 'opendir /data/..', 'path_open ..', 'path_open sub/../../a.txt', 'create ../escaped.txt from cwd /data']) {
      expect(steps.get(step), step).toMatch(/^errno=/)
    }
    expect(steps.get('path_open sub/../a.txt')).toBe('ok') // inside the preopen is fine
  })

  it('absolute paths never reach the host file system', async () => {
    const steps = await attack('absolute')
    for (const [step, result] of steps) if (step !== 'data-fd') expect(result, step).toMatch(/^errno=/)
  })

  it('read-only preopens refuse every change, and each refusal is an audit event', async () => {
    const before = sb.audit().length
    const steps = await attack('readonly-write')
    for (const step of ['open /ro/a.txt O_WRONLY', 'open /ro/new.txt O_CREAT', 'truncate /ro/a.txt', 'unlink /ro/a.txt', 'mkdir /ro/newdir', 'rename /ro/a.txt /data/c.txt', 'openat /ro/sub created.txt O_CREAT']) {
      expect(steps.get(step), step).toMatch(/^errno=/)
    }
    expect(steps.get('open /ro/a.txt')).toBe('ok')
    const events = sb.audit().slice(before)
    expect(events.some((e) => e.capability === 'filesystem' && /read-only/.test(e.detail))).toBe(true)
  })

  it('links cannot be made, and renames cannot move files to another preopen', async () => {
    const links = await attack('symlink-create')
    expect(links.get('symlink /etc/passwd -> /data/link')).toMatch(/^errno=/)
    expect(links.get('open /data/link')).toMatch(/^errno=/)
    const hard = await attack('hardlink')
    for (const [step, result] of hard) if (/^link/.test(step)) expect(result, step).toMatch(/^errno=/)
    const rename = await attack('rename-out')
    expect(rename.get('rename /data/a.txt /other/a.txt')).toBe('errno=75')
    expect(rename.get('stat /other/a.txt')).toMatch(/^errno=/)
  })

  it('after every attack the sandbox still runs a normal program run', async () => {
    const steps = await attack('normal')
    expect([...steps.values()].every((r) => r === 'ok')).toBe(true)
  })
})

it('components: host directories are refused for components with a clear CONFIG error', async () => {
  const bytes = await commandComponent('hello')
  const error = await rejectsWith(Sandbox.create(bytes, { wasi: { preopens: { '/h': { host: '/tmp' } } } }), 'CONFIG')
  expect(error.field).toBe('wasi.preopens')
  expect(error).toBeInstanceOf(SandboxError)
}, 60_000)
