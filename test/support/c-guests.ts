/**
 * The C example guests (test/fixtures/http, test/fixtures/ws), compiled as a user would:
 * `clang --target=wasm32-unknown-unknown -O2 -nostdlib` with every exported function kept.
 * Each test file gets its own temporary directory, removed when the process ends.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let out: string | null = null

/** `fixture` is relative to test/fixtures (`'http/auth.c'`); returns the .wasm path. */
export function cGuest(fixture: string): string {
  if (!out) {
    const dir = mkdtempSync(join(tmpdir(), 'c-guests-'))
    out = dir
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  const file = join(out, `${basename(fixture, '.c')}.wasm`)
  execFileSync('clang', ['--target=wasm32-unknown-unknown', '-O2', '-nostdlib', '-Wl,--no-entry', '-Wl,--export-dynamic',
    fileURLToPath(new URL(`../fixtures/${fixture}`, import.meta.url)), '-o', file])
  return file
}
