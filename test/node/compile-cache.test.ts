// The persistent compile cache (issue 19): fresh Node processes sharing a real cache directory.
import { execFile, spawn } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox, type CompileCacheEvent, type SandboxEvent } from 'wasm-sandbox'
import { coreComponent, SUM_CORE, SUM_LIFTS } from '../support/components.js'
import { rejectsWith } from './helpers.js'

const DIST = new URL('../../dist/node-adapter/index.js', import.meta.url).href
const CLI = fileURLToPath(new URL('../../dist/node-adapter/cli.js', import.meta.url))

/** What a child process runs: one create, one call; prints the result, the fuel and the cache events. */
const CHILD = `
import { readFile } from 'node:fs/promises'
const [dist, source, cacheDir, fn, ...args] = process.argv.slice(2)
const { Sandbox } = await import(dist)
const events = []
const sb = await Sandbox.create(source.endsWith('.wasm') ? new Uint8Array(await readFile(source)) : source, {
  fuel: Number(process.env.FUEL ?? 1e6), cacheDir, onEvent: (e) => { if (e.type === 'compile-cache') events.push(e) },
})
const result = await sb.call(fn, ...args.map(Number))
console.log(JSON.stringify({ result, fuel: String(sb.lastUsage.fuelUsed), events }))
await sb.close()
`

interface ChildReport { result: unknown; fuel: string; events: CompileCacheEvent[] }

/** A fresh Node process creating `source` with `cacheDir` and calling `fn(args)`. */
function child(script: string, source: string, cacheDir: string, fn: string, args: number[] = [], env: Record<string, string> = {}): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, DIST, source, cacheDir, fn, ...args.map(String)], { timeout: 120_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`child failed: ${error.message}\n${stderr}`))
      else resolve(JSON.parse(stdout) as ChildReport)
    })
  })
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe', env: { ...process.env, ...env } })
    let stdout = '', stderr = ''
    proc.stdout.on('data', (d) => { stdout += d })
    proc.stderr.on('data', (d) => { stderr += d })
    proc.on('close', (code) => resolve({ code, stdout, stderr }))
    proc.stdin.end()
  })
}

const entries = async (dir: string) => (await readdir(dir)).sort()

const SUM_MODULE = `(module ${SUM_CORE})`

/** A module of its own for each in-process test, so this process's in-memory cache never answers first. */
let unique = 0
const freshModule = () => `(module (func (export "f") (result i32) (i32.const ${1000 + ++unique})))`
const cacheEvents = (events: SandboxEvent[]) => events.filter((e): e is CompileCacheEvent => e.type === 'compile-cache')

describe('persistent compile cache', () => {
  let dir: string
  let script: string
  let moduleFile: string
  let componentFile: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'compile-cache-'))
    script = join(dir, 'child.mjs')
    await writeFile(script, CHILD)
    moduleFile = join(dir, 'sum.wat')
    await writeFile(moduleFile, SUM_MODULE)
    componentFile = join(dir, 'sum.component.wasm')
    await writeFile(componentFile, await coreComponent(SUM_CORE, SUM_LIFTS))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('a second process creating the same module is a hit: same result, same fuel', async () => {
    const cache = join(dir, 'module-cache')
    const first = await child(script, moduleFile, cache, 'sum-to', [100])
    expect(first.events).toMatchObject([{ type: 'compile-cache', outcome: 'miss', kind: 'module', stored: true }])
    expect(await entries(cache)).toEqual([`${first.events[0]!.key}.wsc`])
    const second = await child(script, moduleFile, cache, 'sum-to', [100])
    expect(second.events).toMatchObject([{ outcome: 'hit', kind: 'module', key: first.events[0]!.key }])
    expect(second.result).toBe(5050)
    expect(second.fuel).toBe(first.fuel) // the cached module is the metered one
    expect(BigInt(second.fuel)).toBeGreaterThan(100n)
  })

  it('a second process creating the same component is a hit, without transpiling', async () => {
    const cache = join(dir, 'component-cache')
    const first = await child(script, componentFile, cache, 'sum-to', [10])
    expect(first.events).toMatchObject([{ outcome: 'miss', kind: 'component', stored: true }])
    expect(first.result).toBe(55)
    const second = await child(script, componentFile, cache, 'sum-to', [10])
    expect(second.events).toMatchObject([{ outcome: 'hit', kind: 'component' }])
    expect(second.result).toBe(55)
    expect(second.fuel).toBe(first.fuel)
    // Other meter settings (another fuel budget) are another entry.
    const other = await child(script, componentFile, cache, 'add', [2, 3], { FUEL: '5000' })
    expect(other.events).toMatchObject([{ outcome: 'miss', stored: true }])
    expect(other.result).toBe(5)
    expect(await entries(cache)).toHaveLength(2)
  })

  it('a tampered (bytes flipped) or truncated entry is refused and rebuilt; the result is still right', async () => {
    const cache = join(dir, 'tamper-cache')
    const first = await child(script, componentFile, cache, 'sum-to', [10])
    const file = join(cache, `${first.events[0]!.key}.wsc`)
    const good = await readFile(file)

    const flipped = Buffer.from(good)
    for (const at of [Math.floor(good.length / 2), good.length - 100]) flipped[at]! ^= 0xff
    await writeFile(file, flipped)
    const afterFlip = await child(script, componentFile, cache, 'sum-to', [10])
    expect(afterFlip.events).toMatchObject([{ outcome: 'invalid', stored: true, detail: expect.stringMatching(/digest mismatch/) }])
    expect(afterFlip.result).toBe(55)
    expect(afterFlip.fuel).toBe(first.fuel)
    expect(await readFile(file)).toEqual(good) // rebuilt and stored again

    await truncate(file, Math.floor(good.length / 3))
    const afterTruncate = await child(script, componentFile, cache, 'sum-to', [10])
    expect(afterTruncate.events).toMatchObject([{ outcome: 'invalid', stored: true }])
    expect(afterTruncate.result).toBe(55)
    await truncate(file, 7)
    expect((await child(script, componentFile, cache, 'sum-to', [10])).events[0]).toMatchObject({ outcome: 'invalid', detail: expect.stringMatching(/truncated/) })
    expect((await child(script, componentFile, cache, 'sum-to', [10])).events[0]!.outcome).toBe('hit')
  })

  it("module A's entry under module B's key is refused: B runs, not A", async () => {
    const cache = join(dir, 'swap-cache')
    const a = join(dir, 'a.wat')
    const b = join(dir, 'b.wat')
    await writeFile(a, '(module (func (export "f") (result i32) (i32.const 111)))')
    await writeFile(b, '(module (func (export "f") (result i32) (i32.const 222)))')
    const keyA = (await child(script, a, cache, 'f')).events[0]!.key
    const keyB = (await child(script, b, cache, 'f')).events[0]!.key
    expect(keyA).not.toBe(keyB)
    await copyFile(join(cache, `${keyA}.wsc`), join(cache, `${keyB}.wsc`))
    const swapped = await child(script, b, cache, 'f')
    expect(swapped.events).toMatchObject([{ outcome: 'invalid', detail: 'written for another key' }])
    expect(swapped.result).toBe(222)
  })

  it('concurrent writers of one entry do not corrupt it', async () => {
    const cache = join(dir, 'concurrent-cache')
    const runs = await Promise.all(Array.from({ length: 4 }, () => child(script, componentFile, cache, 'sum-to', [10])))
    for (const run of runs) expect(run.result).toBe(55)
    const files = await entries(cache)
    expect(files).toEqual([`${runs[0]!.events[0]!.key}.wsc`]) // no temporary file left behind
    const after = await child(script, componentFile, cache, 'sum-to', [10])
    expect(after.events[0]!.outcome).toBe('hit')
    expect(after.result).toBe(55)
  }, 180_000)

  it('past the size bound the least recently used entries go; stale temporary files too', async () => {
    const cache = join(dir, 'evict-cache')
    const sources = await Promise.all(['a', 'b', 'c'].map(async (name, i) => {
      const file = join(dir, `evict-${name}.wat`)
      await writeFile(file, `(module (func (export "f") (result i32) (i32.const ${7000 + i})))`)
      return file
    }))
    const keyA = (await child(script, sources[0]!, cache, 'f')).events[0]!.key
    const keyB = (await child(script, sources[1]!, cache, 'f')).events[0]!.key
    expect((await child(script, sources[0]!, cache, 'f')).events[0]!.outcome).toBe('hit') // A is now used more recently than B
    const stale = join(cache, `.${keyA}.1.dead.tmp`)
    await writeFile(stale, 'left by a writer that died')
    await utimes(stale, new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000))
    const size = (await stat(join(cache, `${keyA}.wsc`))).size
    // Room for two entries under 3/4 of the bound, not for three under the bound.
    const third = await child(script, sources[2]!, cache, 'f', [], { WASM_SANDBOX_CACHE_MAX_BYTES: String(3 * size - 10) })
    expect(third.events[0]).toMatchObject({ outcome: 'miss', stored: true })
    expect(await entries(cache)).toEqual([`${keyA}.wsc`, `${third.events[0]!.key}.wsc`].sort())
    expect(keyB).not.toBe(keyA)
  })

  it('a cacheDir that cannot be written does not fail create', async () => {
    const blocker = join(dir, 'a-file')
    await writeFile(blocker, 'not a directory')
    const events: SandboxEvent[] = []
    const sb = await Sandbox.create(freshModule(), { cacheDir: join(blocker, 'cache'), onEvent: (e) => events.push(e) })
    expect(await sb.call('f')).toBe(1000 + unique)
    await sb.close()
    expect(cacheEvents(events)).toMatchObject([{ outcome: 'miss', stored: false, detail: expect.stringMatching(/cannot write: .*ENOTDIR/) }])
  })

  it('a directory or entry others can write is neither read nor written', async () => {
    const loose = join(dir, 'loose')
    await mkdir(loose)
    await chmod(loose, 0o777)
    const events: SandboxEvent[] = []
    const sb = await Sandbox.create(freshModule(), { cacheDir: loose, onEvent: (e) => events.push(e) })
    await sb.close()
    expect(cacheEvents(events)).toMatchObject([{ outcome: 'miss', stored: false, detail: expect.stringMatching(/writable by group or others/) }])
    expect(await entries(loose)).toEqual([])

    // A valid entry, made loose afterwards, is not used.
    const tight = join(dir, 'tight')
    const source = join(dir, 'tight.wat')
    await writeFile(source, freshModule())
    const made = await child(script, source, tight, 'f')
    const entry = join(tight, `${made.events[0]!.key}.wsc`)
    await chmod(entry, 0o666)
    const reread = await child(script, source, tight, 'f')
    expect(reread.events).toMatchObject([{ outcome: 'miss', detail: expect.stringMatching(/cannot read: .*writable by group or others/) }])
    await chmod(tight, 0o775)
    const dirLoose = await child(script, source, tight, 'f')
    expect(dirLoose.events).toMatchObject([{ outcome: 'miss', stored: false }])
    expect(dirLoose.result).toBe(made.result)
  })

  it('cacheDir must be a path: CONFIG otherwise', async () => {
    for (const bad of [42, '', true]) {
      const error = await rejectsWith(Sandbox.create(freshModule(), { cacheDir: bad as never }), 'CONFIG')
      expect(error.field).toBe('cacheDir')
    }
  })

  it('the CLI caches under $XDG_CACHE_HOME/wasm-sandbox by default, in --cache-dir when given, nowhere with --no-cache', async () => {
    const xdg = join(dir, 'xdg')
    expect((await cli(['call', moduleFile, 'add', '2', '3'], { XDG_CACHE_HOME: xdg })).stdout).toBe('5\n')
    expect(await entries(join(xdg, 'wasm-sandbox'))).toHaveLength(1)
    expect((await cli(['call', moduleFile, 'add', '2', '3'], { XDG_CACHE_HOME: xdg })).stdout).toBe('5\n')
    const chosen = join(dir, 'chosen')
    expect((await cli(['call', moduleFile, 'add', '2', '3', '--cache-dir', chosen], { XDG_CACHE_HOME: xdg })).stdout).toBe('5\n')
    expect(await entries(chosen)).toHaveLength(1)
    const none = join(dir, 'none')
    expect((await cli(['call', moduleFile, 'add', '2', '3', '--no-cache'], { XDG_CACHE_HOME: none })).stdout).toBe('5\n')
    await expect(readdir(none)).rejects.toThrow(/ENOENT/)
    const both = await cli(['call', moduleFile, 'add', '2', '3', '--no-cache', '--cache-dir', chosen], {})
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--no-cache and --cache-dir')
    expect((await cli(['help', 'run'], {})).stdout).toContain('--cache-dir DIR')
  })
})
