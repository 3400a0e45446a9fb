/**
 * Issue 18, item 5: a directory fd must not follow a rename swap out of its mount. The guest
 * opens `sub/`, renames `sub` -> `sub2` and a symlink to an outside directory -> `sub`, then
 * lists, stats and opens through the fd it holds. Every such call must stay inside the mount.
 */
import { mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { E } from './helpers.js'

// Writes the fd_readdir buffer to stdout, and one errno byte per step to stderr:
// open sub, rename sub->sub2, rename link->sub, readdir(fd, cookie 0), filestat(fd), open fd/secret.txt.
const SWAP = `(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename" (func $rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $filestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "sub")
  (data (i32.const 110) "sub2")
  (data (i32.const 120) "link")
  (data (i32.const 130) "secret.txt")
  (func (export "_start") (local $fd i32)
    (i32.store8 (i32.const 300) (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 3)
      (i32.const 2 (; O_DIRECTORY ;)) (i64.const 0x1fffffbf (; all but fd_write ;)) (i64.const 0x1fffffff) (i32.const 0) (i32.const 200)))
    (local.set $fd (i32.load (i32.const 200)))
    (i32.store8 (i32.const 301) (call $rename (i32.const 3) (i32.const 100) (i32.const 3) (i32.const 3) (i32.const 110) (i32.const 4)))
    (i32.store8 (i32.const 302) (call $rename (i32.const 3) (i32.const 120) (i32.const 4) (i32.const 3) (i32.const 100) (i32.const 3)))
    (i32.store8 (i32.const 303) (call $readdir (local.get $fd) (i32.const 1024) (i32.const 4096) (i64.const 0) (i32.const 204)))
    (i32.store8 (i32.const 304) (call $filestat (local.get $fd) (i32.const 400)))
    (i32.store8 (i32.const 305) (call $open (local.get $fd) (i32.const 0) (i32.const 130) (i32.const 10)
      (i32.const 0) (i64.const 2 (; fd_read ;)) (i64.const 0) (i32.const 0) (i32.const 208)))
    (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.load (i32.const 204)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (i32.store (i32.const 0) (i32.const 300)) (i32.store (i32.const 4) (i32.const 6))
    (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 16)))))`

let base: string
let mount: string
let outside: string
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'wasm-sandbox-swap-'))
  mount = join(base, 'mount')
  outside = join(base, 'outside')
  await mkdir(join(mount, 'sub'), { recursive: true })
  await writeFile(join(mount, 'sub', 'inner.txt'), 'inside\n')
  await mkdir(outside)
  await writeFile(join(outside, 'secret.txt'), 'TOP-SECRET\n')
  await writeFile(join(outside, 'other-secret.bin'), 'x')
  await symlink(outside, join(mount, 'link'))
})
afterEach(async () => {
  await rm(base, { recursive: true, force: true })
})

it('a directory fd whose path was swapped for a symlink to the outside lists, stats and opens nothing there; the next run works', async () => {
  const sb = await Sandbox.create(SWAP, { wasi: { preopens: { '/data': { host: mount } } } })
  try {
    const out = await sb.runCommand()
    const [open, rename1, rename2, listed, statted, opened] = out.stderrBytes
    expect([open, rename1, rename2]).toEqual([0, 0, 0]) // the swap itself is allowed: it stays in the mount
    expect(await readlink(join(mount, 'sub'))).toBe(outside)
    expect(await readdir(join(mount, 'sub2'))).toEqual(['inner.txt'])
    // The fd's path now leads out: every call through it is refused, nothing outside is named.
    expect(listed).toBe(E.NOTCAPABLE)
    expect(statted).toBe(E.NOTCAPABLE)
    expect(opened).toBe(E.NOTCAPABLE)
    expect(out.stdout).not.toMatch(/secret/)

    // The sandbox serves on: the next run sees the same confinement (sub is the symlink now).
    const again = await sb.runCommand()
    expect(again.exitCode).toBe(0)
    expect(again.stderrBytes[0]).toBe(E.NOTCAPABLE)
    expect(again.stdout).not.toMatch(/secret/)
  } finally {
    await sb.close()
  }
})
