import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildFixtures, type Fixtures } from '../wasi/build.js'
import { commandComponent } from '../support/components.js'

// The real bin, spawned as a user would run it.
const CLI = fileURLToPath(new URL('../../dist/node-adapter/cli.js', import.meta.url))

function cli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe' })
    let stdout = '', stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

const ADD = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))) (func (export "big") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 3))) (func (export "spin") (loop $l (br $l))))'

describe('wasm-sandbox CLI', () => {
  let dir: string
  let programs: Fixtures
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-'))
    await writeFile(join(dir, 'add.wat'), ADD)
    programs = await buildFixtures()
  }, 120_000)
  afterAll(() => rm(dir, { recursive: true }))

  it('prints help, and fails with a one-line error and exit 2 on bad usage', async () => {
    const help = await cli(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('usage: wasm-sandbox <command>')
    expect((await cli(['run', '--help'])).stdout).toContain('--dir HOST:GUEST[:ro]')
    const bad = await cli(['frobnicate'])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect((await cli(['run', 'x.wasm', '--bogus'])).code).toBe(2)
  })

  it('run passes args, env, stdin and the exit code through', async () => {
    const hello = await cli(['run', programs.hello!, '--', 'from', 'the cli'])
    expect(hello.code).toBe(0)
    expect(hello.stdout).toContain('the cli')
    const cat = await cli(['run', programs.cat!], 'piped input\n')
    expect(cat.stdout).toBe('piped input\n')
    const env = await cli(['run', programs.envargs!, '--env', 'GREETING=hi'])
    expect(env.stdout).toContain('GREETING=hi')
    expect((await cli(['run', programs.exitcode!])).code).toBe(42)
  })

  it('run prints what a trapping program wrote before its one-line error', async () => {
    await writeFile(join(dir, 'panic.wat'), `(module
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 100) "partial output\\n")
      (data (i32.const 200) "panicked: why\\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 15))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.store (i32.const 0) (i32.const 200)) (i32.store (i32.const 4) (i32.const 14))
        (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (unreachable)))`)
    const out = await cli(['run', join(dir, 'panic.wat')])
    expect(out.code).toBe(1)
    expect(out.stdout).toBe('partial output\n')
    expect(out.stderr).toMatch(/^panicked: why\nwasm-sandbox: TRAP: .*unreachable\n$/)
  })

  it('run mounts a host directory read-only with --dir', async () => {
    await writeFile(join(dir, 'a.txt'), 'alpha\n')
    const out = await cli(['run', programs.tree!, '--dir', `${dir}:/data:ro`, '--json'])
    const json = JSON.parse(out.stdout)
    expect(json.exitCode).toBe(0)
    expect(json.stdout).toContain('a.txt')
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('alpha\n')
  })

  it('call prints the result and usage; limits give typed one-line errors', async () => {
    const add = await cli(['call', join(dir, 'add.wat'), 'add', '40', '2'])
    expect(add.code).toBe(0)
    expect(add.stdout.trim()).toBe('42')
    expect(add.stderr).toMatch(/^fuel 3, memory 0 bytes/)
    expect((await cli(['call', join(dir, 'add.wat'), 'big', '3000000000'])).stdout.trim()).toBe('9000000000')
    const spin = await cli(['call', join(dir, 'add.wat'), 'spin', '--fuel', '1000'])
    expect(spin.code).toBe(1)
    expect(spin.stderr).toMatch(/^wasm-sandbox: FUEL_EXHAUSTED: /)
    const missing = await cli(['call', join(dir, 'nope.wasm'), 'add'])
    expect(missing.stderr).toMatch(/^wasm-sandbox: CONFIG: .*no such file/)
  })

  it('inspect lists exports with signatures and sections', async () => {
    const out = await cli(['inspect', join(dir, 'add.wat'), '--json'])
    const report = JSON.parse(out.stdout)
    expect(report).toMatchObject({ component: false, exports: [
      { name: 'add', kind: 'function', params: ['i32', 'i32'], results: ['i32'] },
      { name: 'big', kind: 'function', params: ['i64'], results: ['i64'] },
      { name: 'spin', kind: 'function', params: [], results: [] },
    ] })
    expect(report.sections.some((s: { section: string }) => s.section === 'code')).toBe(true)
  })

  it('components: inspect shows the WIT imports and exports, call takes WIT values, run runs wasi:cli/run', async () => {
    const greet = join(dir, 'greet.wat')
    await writeFile(greet, `(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    (func (export "id") (param i32 i32) (result i32) (i32.store (i32.const 8) (local.get 0)) (i32.store (i32.const 12) (local.get 1)) (i32.const 8)))
  (core instance $i (instantiate $m))
  (func (export "echo") (param "s" string) (result string)
    (canon lift (core func $i "id") (memory (core memory $i "memory")) (realloc (core func $i "realloc")))))`)
    const report = JSON.parse((await cli(['inspect', greet, '--json'])).stdout)
    expect(report).toMatchObject({ component: true, imports: [], exports: [{ name: 'echo', kind: 'function', signature: 'func(s: string) -> string' }] })
    const called = await cli(['call', greet, 'echo', 'hello there'])
    expect(called.stdout).toBe('hello there\n')
    expect(called.stderr).toMatch(/^fuel \d+/)
    const command = join(dir, 'envargs.component.wasm')
    await writeFile(command, await commandComponent('envargs'))
    const ran = await cli(['run', command, '--env', 'A=1', '--', 'x'])
    expect(ran.code).toBe(0)
    expect(ran.stdout).toContain('arg[1]=x|bytes=1')
    expect(ran.stdout).toContain('env[0]=A=1\nenvc=1')
  }, 60_000)
})

describe('wasm-sandbox serve', () => {
  it('serves a route from the command line until interrupted', async () => {
    const route = join(tmpdir(), `route-${process.pid}.wat`)
    // a handle that always answers 200 with body "hi" (base64 aGk=)
    const reply = '{"status":200,"headers":{},"body":"aGk="}'
    await writeFile(route, `(module (memory (export "memory") 1) (global $h (mut i32) (i32.const 1024))
      (data (i32.const 0) ${JSON.stringify(reply)})
      (func (export "alloc") (param i32) (result i32) (local i32) (local.set 1 (global.get $h)) (global.set $h (i32.add (global.get $h) (local.get 0))) (local.get 1))
      (func (export "handle") (param i32 i32) (result i64) (i64.const ${reply.length})))`)
    const child = spawn(process.execPath, [CLI, 'serve', '--route', `/hi=${route}`, '--port', '0'], { stdio: 'pipe' })
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => { const m = /on (http:\/\/\S+)/.exec(String(d)); if (m) resolve(m[1]!) })
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)))
    })
    const response = await fetch(`${url}/hi`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('hi')
    child.kill('SIGINT')
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0)
    await rm(route)
  })
})
