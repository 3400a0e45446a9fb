/**
 * Real C programs (test/fixtures/c, built with clang --target=wasm32-wasi) run through
 * `runCommand`: output byte for byte, exit codes, argv/env/stdin exactness, in-memory and
 * host-directory preopens, clocks/randomness under the policy, fuel and timeouts.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox, type SandboxOptions } from 'wasm-sandbox'
import { buildFixtures, type Fixtures } from './build.js'
import { E, describeEvents, rejectsWith } from './helpers.js'

let wasm: Fixtures
beforeAll(async () => {
  wasm = await buildFixtures()
})

/** Sandboxes opened by a test; closed after it, whatever happened. */
const open: Sandbox[] = []
async function sandbox(program: string, options: SandboxOptions): Promise<Sandbox> {
  const sb = await Sandbox.create(wasm[program]!, options)
  open.push(sb)
  return sb
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((sb) => sb.close()))
})

const utf8 = (s: string) => new TextEncoder().encode(s)

describe('argv', () => {
  it('hello prints argv[0] = main.wasm and the given args, byte for byte', async () => {
    const sb = await sandbox('hello', { wasi: true })
    const out = await sb.runCommand({ args: ['a', 'b c'] })
    const expected = 'hello, world\nargc=3\nargv[0]=main.wasm\nargv[1]=a\nargv[2]=b c\n'
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toBe(expected)
    expect(out.stdoutBytes).toEqual(utf8(expected))
    expect(out.stderr).toBe('')
    expect(out.stderrBytes.length).toBe(0)
  })

  it('uses wasi.args when the run gives none, and a run\'s args replace them', async () => {
    const sb = await sandbox('hello', { wasi: { args: ['from', 'options'] } })
    expect((await sb.runCommand()).stdout).toBe('hello, world\nargc=3\nargv[0]=main.wasm\nargv[1]=from\nargv[2]=options\n')
    expect((await sb.runCommand({ args: ['only'] })).stdout).toBe('hello, world\nargc=2\nargv[0]=main.wasm\nargv[1]=only\n')
    expect((await sb.runCommand({ args: [] })).stdout).toBe('hello, world\nargc=1\nargv[0]=main.wasm\n')
  })

  it('passes unicode and empty args as exact UTF-8 bytes', async () => {
    const sb = await sandbox('envargs', { wasi: true })
    const args = ['héllo', '日本語', '🎉', 'e\u0301', '', 'tab\there', 'a=b']
    const out = await sb.runCommand({ args })
    const expected = [
      `argc=${args.length + 1}`,
      'arg[0]=main.wasm|bytes=9',
      ...args.map((a, i) => `arg[${i + 1}]=${a}|bytes=${utf8(a).length}`),
      'envc=0',
      'getenv(PATH)=(unset)', 'getenv(HOME)=(unset)', 'getenv(USER)=(unset)', 'getenv(PWD)=(unset)', 'getenv(NODE_OPTIONS)=(unset)',
    ].join('\n') + '\n'
    expect(out.stdoutBytes).toEqual(utf8(expected))
    // the byte lengths the guest measured (strlen) are the UTF-8 lengths
    expect(out.stdout).toContain('arg[3]=🎉|bytes=4')
    expect(out.stdout).toContain('arg[4]=e\u0301|bytes=3')
  })
})

describe('environment', () => {
  it('contains only the given variables, in order, with run env merged over wasi.env', async () => {
    expect(process.env.PATH, 'the host has a PATH to leak').toBeTruthy()
    const sb = await sandbox('envargs', { wasi: { env: { FOO: 'bar', EMPTY: '', UNI: 'ñ=日本 🎉' } } })
    const out = await sb.runCommand({ env: { FOO: 'override', NEW: 'x' } })
    expect(out.stdout).toBe([
      'argc=1', 'arg[0]=main.wasm|bytes=9',
      'env[0]=FOO=override', 'env[1]=EMPTY=', 'env[2]=UNI=ñ=日本 🎉', 'env[3]=NEW=x', 'envc=4',
      'getenv(PATH)=(unset)', 'getenv(HOME)=(unset)', 'getenv(USER)=(unset)', 'getenv(PWD)=(unset)', 'getenv(NODE_OPTIONS)=(unset)',
    ].join('\n') + '\n')
    // a run's env does not stick to the sandbox
    const again = await sb.runCommand()
    expect(again.stdout).toContain('env[0]=FOO=bar\nenv[1]=EMPTY=\nenv[2]=UNI=ñ=日本 🎉\nenvc=3\n')
    expect(again.stdout).not.toContain('NEW=')
  })

  it('is empty with wasi: true: no host variable (PATH, HOME) gets through', async () => {
    const sb = await sandbox('envargs', { wasi: true })
    const out = await sb.runCommand()
    expect(out.stdout).toContain('envc=0\n')
    expect(out.stdout).toContain('getenv(PATH)=(unset)\ngetenv(HOME)=(unset)\n')
    expect(out.stdout).not.toContain(process.env.PATH!)
  })
})

describe('stdin', () => {
  const text = 'héllo wörld\nline two\n\n  spaced   out  \nno newline'

  it('string stdin: wc counts lines, words and UTF-8 bytes; cat echoes it exactly', async () => {
    const wc = await sandbox('wc', { wasi: true })
    expect((await wc.runCommand({ stdin: text })).stdout).toBe(`4 8 ${Buffer.byteLength(text)}\n`)
    const cat = await sandbox('cat', { wasi: true })
    const withNul = 'a\u0000b 日本 🎉\r\n'
    const out = await cat.runCommand({ stdin: withNul })
    expect(out.stdout).toBe(withNul)
    expect(out.stdoutBytes).toEqual(utf8(withNul))
  })

  it('byte stdin: every byte value (several reads long) comes back unchanged', async () => {
    const input = new Uint8Array(256 * 40).map((_, i) => i % 256)
    const cat = await sandbox('cat', { wasi: true })
    const out = await cat.runCommand({ stdin: input })
    expect(out.exitCode).toBe(0)
    expect(out.stdoutBytes.length).toBe(input.length)
    expect(Buffer.from(out.stdoutBytes).equals(Buffer.from(input))).toBe(true)
    const wc = await sandbox('wc', { wasi: true })
    // 40 '\n' bytes. Words: the whitespace bytes are 9-13 and 32, so the first block holds
    // 3 word starts (0-8, 14-31, 33-255) and each later one 2 (its 0-8 continues 33-255).
    expect((await wc.runCommand({ stdin: input })).stdout).toBe(`40 ${3 + 39 * 2} ${input.length}\n`)
  })

  it('wasi.stdin is the default, a run\'s stdin replaces it, no stdin reads as empty', async () => {
    const wc = await sandbox('wc', { wasi: { stdin: 'one two\nthree\n' } })
    expect((await wc.runCommand()).stdout).toBe('2 3 14\n')
    expect((await wc.runCommand({ stdin: new Uint8Array([0x41, 0x0a]) })).stdout).toBe('1 1 2\n')
    expect((await wc.runCommand()).stdout).toBe('2 3 14\n')
    const empty = await sandbox('wc', { wasi: true })
    expect((await empty.runCommand()).stdout).toBe('0 0 0\n')
  })
})

describe('in-memory preopens', () => {
  const files = {
    'a.txt': 'alpha\n',
    'sub/b.bin': new Uint8Array([0, 1, 2]),
    'sub/deep/c.txt': '',
    'z.txt': 'zz',
    'ünï/çödé.txt': 'x',
  }

  it('the tree walker lists every file and directory with its size', async () => {
    const sb = await sandbox('tree', { wasi: { preopens: { '/data': { files } } } })
    const out = await sb.runCommand()
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toBe([
      'a.txt size=6', 'sub/ dir', 'sub/b.bin size=3', 'sub/deep/ dir', 'sub/deep/c.txt size=0', 'z.txt size=2',
      'ünï/ dir', 'ünï/çödé.txt size=1', 'entries=8',
    ].join('\n') + '\n')
    // a path that is not preopened (wasi-libc answers ENOENT or ENOTCAPABLE, depending on its version)
    expect((await sb.runCommand({ args: ['/nope'] })).stdout).toMatch(new RegExp(`^\\. error errno=(${E.NOENT}|${E.NOTCAPABLE})\nentries=1\n$`))
  })

  const writerOutput = [
    'out existed before: no',
    'mkdir out: ok',
    'write one.txt: ok',
    'write two.txt: ok',
    'write three.txt: ok',
    'patch three.txt: ok',
    'append one.txt: ok',
    'rename one.txt uno.txt: ok',
    'unlink two.txt: ok',
    'mkdir out/sub: ok',
    'write sub/deep.bin: ok',
    'out/sub/',
    'out/sub/deep.bin size=256',
    'out/three.txt size=6 text=THRee\\n',
    'out/uno.txt size=9 text=one\\nmore\\n',
  ].join('\n') + '\n'

  it('the writer creates, patches, appends, renames and deletes; every run starts from a fresh copy', async () => {
    const given = new Uint8Array([9, 9, 9])
    const sb = await sandbox('writer', { wasi: { preopens: { '/data': { files: { 'a.txt': 'alpha\n', 'given.bin': given } } } } })
    const first = await sb.runCommand()
    expect(first.exitCode).toBe(0)
    expect(first.stdout).toBe(writerOutput)
    // The implementation gives each run its own copy of the in-memory files: nothing the
    // first run wrote is visible to the second, which therefore prints the same.
    const second = await sb.runCommand()
    expect(second.stdout).toBe(writerOutput)
    expect(given).toEqual(new Uint8Array([9, 9, 9]))
    expect(sb.audit()).toEqual([])
  })

  it('a different program on the same preopen does not see another run\'s writes', async () => {
    const tree = await sandbox('tree', { wasi: { preopens: { '/data': { files: { 'a.txt': 'alpha\n' } } } } })
    const writer = await sandbox('writer', { wasi: { preopens: { '/data': { files: { 'a.txt': 'alpha\n' } } } } })
    expect((await writer.runCommand()).stdout).toBe(writerOutput)
    expect((await tree.runCommand()).stdout).toBe('a.txt size=6\nentries=1\n')
  })
})

describe('host-directory preopens (Node)', () => {
  let dir = ''
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
    dir = ''
  })

  const hostWriterOutput = [
    'out existed before: no', 'mkdir out: ok', 'write one.txt: ok', 'write two.txt: ok', 'write three.txt: ok',
    'patch three.txt: ok', 'append one.txt: ok', 'rename one.txt uno.txt: ok', 'unlink two.txt: ok', 'mkdir out/sub: ok',
    'write sub/deep.bin: ok', 'out/sub/', 'out/sub/deep.bin size=256', 'out/three.txt size=6 text=THRee\\n', 'out/uno.txt size=9 text=one\\nmore\\n',
  ].join('\n') + '\n'

  it('the writer\'s output on a host mount is the same as in memory, and the files land on the host', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasm-sandbox-wasi-writer-'))
    await writeFile(join(dir, 'a.txt'), 'alpha\n')
    const sb = await sandbox('writer', { wasi: { preopens: { '/data': { host: dir } } } })
    const out = await sb.runCommand()
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toBe(hostWriterOutput)
    expect(await readFile(join(dir, 'out/three.txt'), 'utf8')).toBe('THRee\n')
    expect(await readFile(join(dir, 'out/uno.txt'), 'utf8')).toBe('one\nmore\n')
    expect(new Uint8Array(await readFile(join(dir, 'out/sub/deep.bin')))).toEqual(new Uint8Array(256).map((_, i) => i))
    expect((await readdir(join(dir, 'out'))).sort()).toEqual(['sub', 'three.txt', 'uno.txt'])
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('alpha\n')
  })

  it('host writes persist: the next run sees them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasm-sandbox-wasi-writer-'))
    const sb = await sandbox('writer', { wasi: { preopens: { '/data': { host: dir } } } })
    const first = await sb.runCommand()
    expect(first.stdout).toContain('out existed before: no\nmkdir out: ok\n')
    expect(await readFile(join(dir, 'out/uno.txt'), 'utf8')).toBe('one\nmore\n')
    const second = await sb.runCommand()
    expect(second.stdout).toContain(`out existed before: yes\nmkdir out: errno=${E.EXIST}\n`)
    expect(second.stdout).toContain(`mkdir out/sub: errno=${E.EXIST}\n`)
    const tree = await sandbox('tree', { wasi: { preopens: { '/data': { host: dir } } } })
    expect((await tree.runCommand()).stdout).toBe([
      'out/ dir', 'out/sub/ dir', 'out/sub/deep.bin size=256', 'out/three.txt size=6', 'out/uno.txt size=9', 'entries=5',
    ].join('\n') + '\n')
  })
})

describe('clocks and randomness', () => {
  const clockDenied = `clock_gettime(REALTIME): fail errno=${E.NOTCAPABLE}\nclock_gettime(MONOTONIC): fail errno=${E.NOTCAPABLE}\nclock_getres(MONOTONIC): fail errno=${E.NOTCAPABLE}\n`
  const clockAllowed = 'clock_gettime(REALTIME): ok plausible=yes\nclock_gettime(MONOTONIC): ok plausible=yes\nclock_getres(MONOTONIC): ok\nrealtime after 2020: yes\n'
  const randomDenied = `getentropy: -1 errno=${E.NOTCAPABLE}\n`
  const randomAllowed = 'getentropy: 0 errno=0\nsecond draw: 0\ndiffers: yes\nnonzero: yes\n'

  for (const wasi of [true, {}] as const) {
    it(`are denied under the default policy with wasi: ${JSON.stringify(wasi)} (ENOTCAPABLE + audit events)`, async () => {
      const clock = await sandbox('clock', { wasi })
      const out = await clock.runCommand()
      expect(out.exitCode).toBe(0)
      expect(out.stdout).toBe(clockDenied)
      const clockEvents = clock.audit()
      expect(clockEvents, describeEvents(clockEvents)).toContainEqual(expect.objectContaining({ capability: 'clock', operation: 'clock_time_get' }))
      expect(clockEvents).toContainEqual(expect.objectContaining({ capability: 'clock', operation: 'clock_res_get' }))
      expect(clockEvents.every((e) => e.capability === 'clock' && typeof e.detail === 'string' && e.path === undefined)).toBe(true)

      const random = await sandbox('random', { wasi })
      expect((await random.runCommand()).stdout).toBe(randomDenied)
      expect(random.audit()).toEqual([expect.objectContaining({ capability: 'random', operation: 'random_get' })])
    })
  }

  it('are granted with wasi: { clock: true, random: true }', async () => {
    const clock = await sandbox('clock', { wasi: { clock: true, random: true } })
    expect((await clock.runCommand()).stdout).toBe(clockAllowed)
    const random = await sandbox('random', { wasi: { clock: true, random: true } })
    expect((await random.runCommand()).stdout).toBe(randomAllowed)
    expect([...clock.audit(), ...random.audit()]).toEqual([])
  })

  it('are granted by policy: \'standard\' with wasi: true; explicit fields still override the preset', async () => {
    const clock = await sandbox('clock', { policy: 'standard', wasi: true })
    expect((await clock.runCommand()).stdout).toBe(clockAllowed)
    const random = await sandbox('random', { policy: 'standard', wasi: true })
    expect((await random.runCommand()).stdout).toBe(randomAllowed)
    expect([...clock.audit(), ...random.audit()]).toEqual([])

    const noRandom = await sandbox('random', { policy: 'standard', wasi: { random: false } })
    expect((await noRandom.runCommand()).stdout).toBe(randomDenied)
    const onlyClock = await sandbox('clock', { policy: 'strict', wasi: { clock: true } })
    expect((await onlyClock.runCommand()).stdout).toBe(clockAllowed)
  })

  it('only one capability is granted when only one is asked for', async () => {
    const random = await sandbox('random', { wasi: { clock: true } })
    expect((await random.runCommand()).stdout).toBe(randomDenied)
    const clock = await sandbox('clock', { wasi: { random: true } })
    expect((await clock.runCommand()).stdout).toBe(clockDenied)
  })
})

describe('sleep', () => {
  it('nanosleep(50ms) with clocks granted really sleeps at least 50ms', async () => {
    const sb = await sandbox('sleep', { wasi: { clock: true } })
    const out = await sb.runCommand({ args: ['50'] })
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toBe('nanosleep: ok\nslept >= 50ms: yes\n')
    expect(sb.audit()).toEqual([])
  })

  it('without clocks, the sleep (poll_oneoff) is denied and audited', async () => {
    const sb = await sandbox('sleep', { wasi: true })
    const out = await sb.runCommand()
    // wasi-libc's nanosleep reports any poll_oneoff failure as ENOTSUP.
    expect(out.stdout).toBe(`clock before: fail errno=${E.NOTCAPABLE}\nnanosleep: fail errno=${E.NOTSUP}\nclock after: fail errno=${E.NOTCAPABLE}\n`)
    expect(out.exitCode).toBe(1)
    expect(sb.audit()).toContainEqual(expect.objectContaining({ capability: 'clock', operation: 'poll_oneoff' }))
  })

  it('a sleep longer than the timeout ends with TIMEOUT; the next run works', async () => {
    const sb = await sandbox('sleep', { wasi: { clock: true }, timeout: 300 })
    const error = await rejectsWith(sb.runCommand({ args: ['10000'] }), 'TIMEOUT')
    expect(error.message).toContain('_start')
    const out = await sb.runCommand({ args: ['50'] })
    expect(out.stdout).toBe('nanosleep: ok\nslept >= 50ms: yes\n')
  })

  it('a per-run timeout applies too', async () => {
    const sb = await sandbox('sleep', { wasi: { clock: true } })
    await rejectsWith(sb.runCommand({ args: ['10000'], timeout: 200 }), 'TIMEOUT')
    expect((await sb.runCommand({ args: ['1'] })).stdout).toBe('nanosleep: ok\nslept >= 1ms: yes\n')
  })
})

describe('fuel', () => {
  /** busy.c's result for n rounds. */
  const busy = (n: number) => {
    let h = 0
    for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + i) >>> 0
    return `n=${n} h=${h}\n`
  }

  it('a WASI program that runs out of fuel fails with FUEL_EXHAUSTED; the next run works', async () => {
    const sb = await sandbox('busy', { wasi: true, fuel: 2_000_000 })
    const error = await rejectsWith(sb.runCommand({ args: ['1000000000'] }), 'FUEL_EXHAUSTED')
    expect(error.usage?.fuelLimit).toBe(2_000_000n)
    expect(error.usage!.fuelUsed > 1_000_000n).toBe(true)
    const out = await sb.runCommand({ args: ['10'] })
    expect(out.exitCode).toBe(0)
    expect(out.stdout).toBe(busy(10))
    expect(out.usage.fuelUsed > 0n && out.usage.fuelUsed < 2_000_000n).toBe(true)
    // the same command costs the same fuel every time
    const again = await sb.runCommand({ args: ['10'] })
    expect(again.usage.fuelUsed).toBe(out.usage.fuelUsed)
    expect((await sb.runCommand({ args: ['1000'] })).stdout).toBe(busy(1000))
  })
})

describe('exit codes', () => {
  it('exit(42) from a nested function: exitCode 42, stdout flushed, nothing after it runs', async () => {
    const sb = await sandbox('exitcode', { wasi: true })
    const out = await sb.runCommand()
    expect(out.exitCode).toBe(42)
    expect(out.stdout).toBe('start\nexiting from depth\n')
    expect(out.stderr).toBe('')
  })

  it('returning from main gives its value; stderr is captured separately', async () => {
    const sb = await sandbox('exitcode', { wasi: true })
    const returned = await sb.runCommand({ args: ['return'] })
    expect(returned.exitCode).toBe(7)
    expect(returned.stdout).toBe('start\n')
    const failed = await sb.runCommand({ args: ['stderr'] })
    expect(failed.exitCode).toBe(3)
    expect(failed.stdout).toBe('start\n')
    expect(failed.stderr).toBe('something went wrong\n')
    expect(failed.stderrBytes).toEqual(utf8('something went wrong\n'))
    // a clean exit after those
    expect((await sb.runCommand({ args: ['return'] })).exitCode).toBe(7)
  })
})

describe('without WASI', () => {
  it('a WASI program cannot be loaded without a WASI grant', async () => {
    const error = await rejectsWith(Sandbox.create(wasm.hello!, {}), 'LINK_ERROR')
    expect(error.message).toContain('wasi_snapshot_preview1')
  })
})
