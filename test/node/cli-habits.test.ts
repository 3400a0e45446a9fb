// The CLI as users of wasmtime and node:wasi expect it (issue 21): the real bin, spawned.
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildFixtures, type Fixtures } from '../wasi/build.js'

const CLI = fileURLToPath(new URL('../../dist/node-adapter/cli.js', import.meta.url))

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe', cwd: options.cwd, env: { ...process.env, ...options.env } })
    let stdout = '', stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end()
  })
}

const ADD = `(module
  (func $add (export "add") (param $a i32) (param $b i32) (result i32) (i32.add (local.get $a) (local.get $b)))
  (func (export "big") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 3)))
  (func $rec (export "recurse") (param i32) (result i32) (i32.add (i32.const 1) (call $rec (local.get 0))))
  (memory (export "memory") 1)
  (global $h (mut i32) (i32.const 1024))
  (func (export "alloc") (param $n i32) (result i32) (global.get $h) (global.set $h (i32.add (global.get $h) (local.get $n))))
  (func (export "echo") (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n)))))`

describe('CLI habits', () => {
  let dir: string
  let add: string
  let programs: Fixtures
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-habits-'))
    add = join(dir, 'add.wat')
    await writeFile(add, ADD)
    programs = await buildFixtures()
  }, 120_000)
  afterAll(() => rm(dir, { recursive: true }))

  it('everything after -- goes to the guest, --help included; --argv0 names the program; --env K passes ours', async () => {
    const out = await cli(['run', programs.envargs!, '--argv0', 'prog', '--env', 'FROM_HOST', '--env', 'NOT_SET_ANYWHERE', '--', '--help', '-1'], { env: { FROM_HOST: 'yes' } })
    expect(out.code).toBe(0)
    expect(out.stdout).toContain('arg[0]=prog|')
    expect(out.stdout).toContain('arg[1]=--help|')
    expect(out.stdout).toContain('arg[2]=-1|')
    expect(out.stdout).toContain('env[0]=FROM_HOST=yes\nenvc=1')
  })

  it('--dir DIR mounts a folder under the same path; a missing one is CONFIG naming the flag', async () => {
    await mkdir(join(dir, 'x'))
    await writeFile(join(dir, 'x', 'a.txt'), 'alpha')
    const out = await cli(['run', programs.tree!, '--dir', './x', '--', 'x'], { cwd: dir })
    expect(out.stdout).toBe('a.txt size=5\nentries=1\n')
    const wasmtime = await cli(['run', programs.tree!, '--dir', './x::/data'], { cwd: dir })
    expect(wasmtime.stdout).toBe('a.txt size=5\nentries=1\n')
    const missing = await cli(['run', programs.tree!, '--dir', './nope'], { cwd: dir })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^wasm-sandbox: CONFIG: --dir \.\/nope: no such directory/)
  })

  it('negative numbers are arguments; out-of-range ones are CONFIG naming the argument (exit 2)', async () => {
    const neg = await cli(['call', add, 'add', '-1', '-2'])
    expect(neg.stdout).toBe('-3\n')
    expect((await cli(['call', add, 'big', '-5'])).stdout).toBe('-15\n')
    const wrapped = await cli(['call', add, 'add', '4294967297', '1'])
    expect(wrapped.code).toBe(2)
    expect(wrapped.stderr).toContain('CONFIG: add argument 1 is i32: expected an integer from -2^31 to 2^32-1, got 4294967297')
    const word = await cli(['call', add, 'add', '1', 'two'])
    expect(word.code).toBe(2)
    expect(word.stderr).toContain('argument 2 ("two") is not a number')
  })

  it('unknown flags and commands get a did-you-mean and exit 2; --version; help <command>', async () => {
    const typo = await cli(['call', add, 'add', '1', '2', '--fule', '10'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toBe('wasm-sandbox: unknown option --fule; did you mean --fuel? (see --help)\n')
    const command = await cli(['cal', add])
    expect(command.code).toBe(2)
    expect(command.stderr).toContain('did you mean call?')
    const version = await cli(['--version'])
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/)
    const help = await cli(['help', 'run'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('usage: wasm-sandbox run')
    expect((await cli(['--help'])).stdout).toContain('Exit codes: 0 success')
  })

  it('run --invoke calls an export; --stack-depth limits recursion (exit 1)', async () => {
    expect((await cli(['run', add, '--invoke', 'add', '2', '3'])).stdout).toBe('5\n')
    const deep = await cli(['run', add, '--invoke', 'recurse', '0', '--stack-depth', '50'])
    expect(deep.code).toBe(1)
    expect(deep.stderr).toMatch(/^wasm-sandbox: STACK_OVERFLOW: .*50/)
  })

  it('call --json is JSON output with usage; --call-json sends JSON to a bytes export', async () => {
    const json = JSON.parse((await cli(['call', add, 'add', '1', '2', '--json'])).stdout)
    expect(json).toMatchObject({ result: 3, usage: { fuelUsed: '3', calls: 1 } })
    const echoed = await cli(['call', add, 'echo', '{"x":[1,2]}', '--call-json'])
    expect(echoed.stdout).toBe('{"x":[1,2]}\n')
    expect(echoed.stderr).toMatch(/^fuel \d+/)
    const both = JSON.parse((await cli(['call', add, 'echo', '{"x":1}', '--call-json', '--json'])).stdout)
    expect(both.result).toEqual({ x: 1 })
    const hint = await cli(['call', add, 'echo', '{"x":1}'])
    expect(hint.stderr).toContain('use --call-json')
  })

  it('an Emscripten module that needs its JavaScript glue: LINK_ERROR saying so and what to do', async () => {
    const file = join(dir, 'emcc.wat')
    await writeFile(file, '(module (import "env" "emscripten_memcpy_js" (func (param i32 i32 i32))) (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (func (export "_start")))')
    const out = await cli(['run', file])
    expect(out.code).toBe(1)
    expect(out.stderr).toMatch(/^wasm-sandbox: LINK_ERROR: the module was built by Emscripten for its JavaScript glue .* \(build a standalone module instead: a WASI program \(emcc -sSTANDALONE_WASM/)
  })

  it('inspect names custom sections', async () => {
    const out = await cli(['inspect', add])
    expect(out.stdout).toContain('  custom "name": ')
    const report = JSON.parse((await cli(['inspect', add, '--json'])).stdout)
    expect(report.sections).toContainEqual({ section: 'custom', name: 'name', sizeBytes: expect.any(Number) })
    expect(report.imports).toEqual([])
  })
})
