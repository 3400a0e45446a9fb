/**
 * Red-team pass on the persistent compile cache (`cacheDir`), through the public API, as a
 * local attacker who can put files in the cache directory. Each create runs in its own
 * process (test/support/cache-child.mjs), so the persistent cache, not this process's
 * in-memory one, answers. Every test asserts the SAFE behaviour; `FIXED:` tests were attacks
 * that succeeded until fixed, `it.fails` marks the documented trust boundary.
 *
 * Findings:
 *  - Fixed (node-adapter/cache-store.ts checks the directory, then opens non-blocking, not
 *    through a link, and reads only a plain file of ours): a FIFO named `<key>.wsc` hangs Sandbox.create forever: the store opens the entry before
 *    checking what it is, and before checking the directory — so also in a group- or
 *    world-writable directory the README says is "neither read nor written" (another user can
 *    plant it there: the key is computable from the public library build and the source).
 *  - Documented trust boundary: whoever can write the directory as you (it passes the
 *    owner/mode checks) can re-sign an entry with weaker limits, and it runs.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { meter } from 'wasm-sandbox/core'
import { wat } from '../core/meter/helpers.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = join(ROOT, 'test/support/cache-child.mjs')
const base = mkdtempSync(join(tmpdir(), 'redteam-cache-'))
afterAll(() => rmSync(base, { recursive: true, force: true }))

const MODULE = `(module (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`
const OPTIONS = { fuel: 1e6, memory: '128KB' }

interface ChildOutput { events: { outcome: string; key: string; stored?: boolean; detail?: string }[]; result?: { ok: boolean; value?: number; code?: string }; createError?: string }

/** Runs the child; a child still running after `watchdogMs` is killed (it hung) and null returned. */
function child(dir: string, fn: string, args: number[], options: object = OPTIONS, watchdogMs = 20_000): Promise<ChildOutput | null> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CHILD, dir, MODULE, JSON.stringify(options), fn, ...args.map(String)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stdout.on('data', (d) => (out += d))
    proc.stderr.on('data', (d) => (err += d))
    const watchdog = setTimeout(() => proc.kill('SIGKILL'), watchdogMs)
    proc.on('error', reject)
    proc.on('exit', (code, signal) => {
      clearTimeout(watchdog)
      if (signal === 'SIGKILL') return resolve(null)
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildOutput)
      } catch {
        reject(new Error(`child exited ${code}: ${out}\n${err}`))
      }
    })
  })
}

function freshDir(name: string, mode = 0o700): string {
  const dir = join(base, name)
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, mode) // umask-proof
  return dir
}

/** The key of MODULE under `options`, and its entry's bytes, from a first process. */
async function firstEntry(options: object = OPTIONS): Promise<{ key: string; bytes: Uint8Array; dir: string }> {
  const dir = freshDir(`first-${Math.random().toString(36).slice(2)}`)
  const out = (await child(dir, 'add', [2, 3], options))!
  expect(out.events[0]).toMatchObject({ outcome: 'miss', stored: true })
  const key = out.events[0]!.key
  return { key, bytes: new Uint8Array(readFileSync(join(dir, `${key}.wsc`))), dir }
}

/** The entry format of core/sandbox/compile-cache-entry.ts, as someone who read it would write it. */
function encodeEntry(key: string, meta: unknown, blobs: Record<string, Uint8Array>, kind = 'module'): Uint8Array {
  const header = Buffer.from(JSON.stringify({ key, kind, meta, blobs: Object.entries(blobs).map(([n, b]) => [n, b.length]) }))
  const prefix = Buffer.alloc(12)
  prefix.set([0x57, 0x53, 0x43, 0x43])
  prefix.writeUInt32LE(1, 4)
  prefix.writeUInt32LE(header.length, 8)
  const body = Buffer.concat([prefix, header, ...Object.values(blobs)])
  return Buffer.concat([body, createHash('sha256').update(body).digest()])
}

function headerOf(bytes: Uint8Array): { key: string; kind: string; meta: unknown; blobs: [string, number][] } {
  const length = Buffer.from(bytes).readUInt32LE(8)
  return JSON.parse(Buffer.from(bytes.subarray(12, 12 + length)).toString())
}

describe('red team, compile cache: attacks that succeed (findings)', () => {
  it('FIXED: a FIFO planted as an entry in a group/world-writable (refused) cacheDir does not hang create', async () => {
    const { key } = await firstEntry()
    const shared = freshDir('shared', 0o777) // "neither read nor written" per the README
    execFileSync('mkfifo', [join(shared, `${key}.wsc`)]) // anyone with write access to the directory can do this
    const out = await child(shared, 'add', [2, 3], OPTIONS, 15_000)
    expect(out, 'create hung on the FIFO (watchdog killed the process)').not.toBeNull()
    expect(out!.result).toEqual({ ok: true, value: 5 })
  })

  it('FIXED: a FIFO (or other special file) left as an entry in your own cacheDir is a miss, not a hang', async () => {
    const { key, dir } = await firstEntry()
    rmSync(join(dir, `${key}.wsc`))
    execFileSync('mkfifo', ['-m', '600', join(dir, `${key}.wsc`)])
    const out = await child(dir, 'add', [2, 3], OPTIONS, 15_000)
    expect(out, 'create hung on the FIFO (watchdog killed the process)').not.toBeNull()
    expect(out!.result).toEqual({ ok: true, value: 5 })
  })

  it.fails('DOCUMENTED LIMIT: an entry re-signed by someone who can write the directory as you, metered with a weaker memory cap, is refused', async () => {
    const { key, bytes, dir } = await firstEntry()
    // The same module metered with a 16 MiB cap instead of the policy's 128 KiB.
    const weaker = meter(await wat(MODULE), { fuel: 'unlimited', stackDepth: 1000, memory: 16 * 2 ** 20, tableElements: 10_000, deferStart: true }).bytes
    writeFileSync(join(dir, `${key}.wsc`), encodeEntry(key, headerOf(bytes).meta, { 'metered.wasm': weaker }), { mode: 0o600 })
    const out = (await child(dir, 'grow', [100]))!
    expect(out.result).toEqual({ ok: true, value: -1 }) // 100 pages past the 2-page cap: refused
  })
})

describe('red team, compile cache: defenses that held', () => {
  it('each meter setting keys its own entry: a module cached under weaker settings is never served to stricter ones', async () => {
    const dir = freshDir('settings')
    const loose = { fuel: 1e9, memory: '16MB', stackDepth: 100_000, tableElements: 10_000 }
    const first = (await child(dir, 'grow', [10], loose))!
    expect(first.result).toEqual({ ok: true, value: 1 })
    const keys = new Set([first.events[0]!.key])
    for (const stricter of [{ memory: '128KB' }, { fuel: 1e5 }, { stackDepth: 10 }, { tableElements: 10 }, { profile: true }]) {
      const out = (await child(dir, 'grow', [10], { ...loose, ...stricter }))!
      expect(out.events[0]!.outcome, JSON.stringify(stricter)).toBe('miss')
      keys.add(out.events[0]!.key)
      expect(out.result).toEqual({ ok: true, value: 'memory' in stricter ? -1 : 1 })
    }
    expect(keys.size).toBe(6)
  })

  it('crafted entries with a valid digest and key but a broken header or meta are refused and rebuilt', async () => {
    const { key, bytes, dir } = await firstEntry()
    const header = headerOf(bytes)
    const blob = bytes.subarray(bytes.length - 32 - header.blobs[0]![1], bytes.length - 32)
    const crafted = [
      encodeEntry(key, header.meta, {}), // no blob
      encodeEntry(key, null, { 'metered.wasm': blob }), // no meta
      encodeEntry(key, { ...(header.meta as object), exports: 'x' }, { 'metered.wasm': blob }),
      encodeEntry(key, header.meta, { 'metered.wasm': new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff]) }), // not wasm
      encodeEntry(key, header.meta, { 'metered.wasm': blob }, 'component'), // another kind
      (() => { // header length past the end, re-signed
        const body = Buffer.from(encodeEntry(key, header.meta, { 'metered.wasm': blob })).subarray(0, -32)
        body.writeUInt32LE(0xffffffff, 8)
        return Buffer.concat([body, createHash('sha256').update(body).digest()])
      })(),
    ]
    // blobs that are not [name, length] pairs, re-signed
    const oddHeader = Buffer.from(JSON.stringify({ ...header, blobs: [5, ['metered.wasm', -1]] }))
    const prefix = Buffer.alloc(12); prefix.set([0x57, 0x53, 0x43, 0x43]); prefix.writeUInt32LE(1, 4); prefix.writeUInt32LE(oddHeader.length, 8)
    const oddBody = Buffer.concat([prefix, oddHeader, blob])
    crafted.push(Buffer.concat([oddBody, createHash('sha256').update(oddBody).digest()]))
    for (const [i, entry] of crafted.entries()) {
      writeFileSync(join(dir, `${key}.wsc`), entry, { mode: 0o600 })
      const out = (await child(dir, 'add', [2, 3]))!
      expect(out.events[0]!.outcome, `crafted entry ${i}`).toBe('invalid')
      expect(out.result).toEqual({ ok: true, value: 5 })
      expect(readFileSync(join(dir, `${key}.wsc`)).equals(Buffer.from(bytes))).toBe(true) // rebuilt, written again
    }
  })

  it('an entry that is a symlink to a file others can write, a directory, or a >2 GiB file is not used; create goes on', async () => {
    const { key, bytes, dir } = await firstEntry()
    const file = join(dir, `${key}.wsc`)
    const outside = join(base, 'outside.wsc')
    writeFileSync(outside, bytes)
    chmodSync(outside, 0o666)
    rmSync(file)
    symlinkSync(outside, file)
    let out = (await child(dir, 'add', [2, 3]))!
    expect(out.events[0]!.outcome).toBe('miss')
    expect(out.events[0]!.detail).toMatch(/ELOOP|symbolic link/) // an entry is never read through a link
    expect(out.result).toEqual({ ok: true, value: 5 })

    rmSync(file, { force: true })
    mkdirSync(file)
    out = (await child(dir, 'add', [2, 3]))!
    expect(out.events[0]!.outcome).toBe('miss')
    expect(out.result).toEqual({ ok: true, value: 5 })
    rmSync(file, { recursive: true })

    closeSync(openSync(file, 'w', 0o600))
    truncateSync(file, 3 * 1024 ** 3) // sparse: no disk used
    out = (await child(dir, 'add', [2, 3]))!
    expect(out.events[0]!.outcome).toBe('miss')
    expect(out.result).toEqual({ ok: true, value: 5 })
  })

  it('a cacheDir that is a symlink to a directory others can write is refused: nothing read, nothing written', async () => {
    const { key, bytes } = await firstEntry()
    const open = freshDir('open-target', 0o777)
    // A valid entry sits there, but re-signed with a weaker cap: it must not be read.
    const weaker = meter(await wat(MODULE), { fuel: 'unlimited', stackDepth: 1000, memory: 16 * 2 ** 20, tableElements: 10_000, deferStart: true }).bytes
    writeFileSync(join(open, `${key}.wsc`), encodeEntry(key, headerOf(bytes).meta, { 'metered.wasm': weaker }), { mode: 0o600 })
    const link = join(base, 'link-to-open')
    symlinkSync(open, link)
    const out = (await child(link, 'grow', [100]))!
    expect(out.events[0]!.outcome).toBe('miss')
    expect(out.events[0]!.stored).toBe(false)
    expect(out.result).toEqual({ ok: true, value: -1 })
  })
})
