/**
 * Writable in-memory preopens live in the worker's heap, outside the guest's capped memory,
 * and come back to the host in `files`: together they are bounded by the memory cap. A guest
 * that sizes files far past it with one cheap call each (a red-team probe: 8 x 200 MB for 241
 * fuel) gets ENOSPC and an audit event; the host holds nothing more, and the next run works.
 */
import { expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'

const MiB = 2 ** 20

/** Opens (creating) files a, b, c... and sets each to `size` bytes; exits with the last errno. */
const sizer = (count: number, size: number) => `(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $setSize (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32) (local $ret i32)
    (loop $next
      (i32.store8 (i32.const 100) (i32.add (i32.const 97) (local.get $i)))
      (drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1) (i32.const 1) (i64.const -1) (i64.const 0) (i32.const 0) (i32.const 200)))
      (local.set $ret (call $setSize (i32.load (i32.const 200)) (i64.const ${size})))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const ${count}))))
    (call $exit (local.get $ret))))`

it('in-memory files past the memory cap are ENOSPC with an audit event; what comes back stays within the cap', async () => {
  const sb = await Sandbox.create(sizer(8, 200 * MiB), { memory: '16MB', wasi: { preopens: { '/out': { files: {} } } } })
  const out = await sb.runCommand()
  expect(out.exitCode).toBe(51) // ENOSPC
  const files = out.files['/out'] ?? {}
  expect(Object.keys(files).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])
  expect(Object.values(files).reduce((total, f) => total + f.length, 0)).toBe(0)
  expect(sb.audit()).toContainEqual(expect.objectContaining({ capability: 'filesystem', operation: 'fd_filestat_set_size', count: 8 }))
  expect((await sb.runCommand()).exitCode).toBe(51) // the sandbox serves on, each run from the given files
  await sb.close()

  // Within the cap, it works: 3 files of 4 MiB under 16MB (the cap counts all of them).
  const fits = await Sandbox.create(sizer(3, 4 * MiB), { memory: '16MB', wasi: { preopens: { '/out': { files: {} } } } })
  const ok = await fits.runCommand()
  expect(ok.exitCode).toBe(0)
  expect(Object.values(ok.files['/out']!).map((f) => f.length)).toEqual([4 * MiB, 4 * MiB, 4 * MiB])
  const over = await Sandbox.create(sizer(4, 4 * MiB), { memory: '16MB', wasi: { preopens: { '/out': { files: {} } } } })
  expect((await over.runCommand()).exitCode).toBe(51) // the fourth would pass 16 MiB with the entries
  await fits.close()
  await over.close()
})
