import { createHash } from 'node:crypto'
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { expect } from 'vitest'
import type { SecurityEvent } from 'wasm-sandbox'

/** WASI errno values (wasi-libc's errno values are the same numbers). */
export const E = {
  BADF: 8, EXIST: 20, INVAL: 28, ISDIR: 31, NAMETOOLONG: 37, NOENT: 44, NOTDIR: 54, NOTSUP: 58, PERM: 63, ROFS: 69, XDEV: 75, NOTCAPABLE: 76,
} as const

export { rejectsWith } from '../node/helpers.js'

/**
 * The "<step>: <result>" lines the C fixtures print, by step ("ok" or "errno=N").
 * Lines whose result is something else (e.g. "read=...") are kept under "<step> <key>".
 */
export function steps(stdout: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const m = /^(.*?): (ok|errno=\d+)$/.exec(line)
    if (m) map.set(m[1]!, m[2]!)
  }
  return map
}

/** `errno=N` as the fixtures print it. */
export const errno = (n: number) => `errno=${n}`

/** The security events recorded after the first `from` of them. */
export function eventsSince(events: SecurityEvent[], from: number): SecurityEvent[] {
  return events.slice(from)
}

/** Asserts that `events` has a filesystem event for `operation` (and `path`, when given). */
export function expectFsEvent(events: SecurityEvent[], operation: string, path?: string, detail?: RegExp): void {
  const match = events.find((e) => e.capability === 'filesystem' && e.operation === operation && (path === undefined || e.path === path) && (!detail || detail.test(e.detail)))
  expect(match, `no filesystem event ${operation} ${path === undefined ? '' : JSON.stringify(path)}${detail ? ` ${detail}` : ''} in:\n${describeEvents(events)}`).toBeDefined()
  expect(typeof match!.time).toBe('number')
}

export function describeEvents(events: SecurityEvent[]): string {
  return events.map((e) => `  ${e.capability} ${e.operation} ${JSON.stringify(e.path)} (${e.detail})`).join('\n') || '  (none)'
}

/**
 * Every entry under `root` (recursively, symlinks not followed): type, mode, size, a
 * SHA-256 of each file's bytes and each symlink's target. Equal snapshots mean the tree
 * is byte-identical.
 */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const full = join(dir, name)
      const key = rel ? `${rel}/${name}` : name
      const st = await lstat(full)
      const mode = (st.mode & 0o7777).toString(8)
      if (st.isSymbolicLink()) out[key] = `symlink -> ${await readlink(full)}`
      else if (st.isDirectory()) {
        out[key] = `dir ${mode}`
        await walk(full, key)
      } else if (st.isFile()) out[key] = `file ${mode} ${st.size} ${createHash('sha256').update(await readFile(full)).digest('hex')}`
      else out[key] = `other ${st.mode}`
    }
  }
  await walk(root, '')
  return out
}

/** A marker that only the secret file outside the mounts contains. */
export const SECRET = 'TOP-SECRET-7f3a9c-do-not-leak'

export interface HostFixture {
  /** The temp directory holding everything below. */
  base: string
  /** Mounted as /data: a.txt, sub/b.txt and symlinks (see below). */
  mount: string
  /** Mounted as /other. */
  other: string
  /** Mounted as /ro (read-only): a.txt, sub/b.txt. */
  ro: string
  /** Another temp directory, outside every mount, holding secret.txt. */
  outside: string
  secretFile: string
  cleanup(): Promise<void>
}

/**
 * Two temp directories: `base` with the directories to mount, and `outside` with a secret
 * file. The /data mount holds symlinks that lead out:
 *   link-file -> <outside>/secret.txt (absolute), link-dir -> <outside>,
 *   link-up -> ../../<outside name>/secret.txt (relative), dangling -> <outside>/created.txt,
 * and one that stays inside: inner-link -> a.txt.
 */
export async function makeHostFixture(): Promise<HostFixture> {
  const base = await mkdtemp(join(tmpdir(), 'wasm-sandbox-wasi-host-'))
  const outside = await mkdtemp(join(tmpdir(), 'wasm-sandbox-wasi-outside-'))
  const put = async (path: string, data: string | Uint8Array) => {
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, data)
  }
  const mount = join(base, 'mount')
  const other = join(base, 'other')
  const ro = join(base, 'ro')
  const secretFile = join(outside, 'secret.txt')
  await put(join(mount, 'a.txt'), 'alpha\n')
  await put(join(mount, 'sub/b.txt'), 'beta\n')
  await put(join(other, 'o.txt'), 'other\n')
  await put(join(ro, 'a.txt'), 'alpha\n')
  await put(join(ro, 'sub/b.txt'), 'beta\n')
  await put(secretFile, `${SECRET}\n`)
  await symlink(secretFile, join(mount, 'link-file'))
  await symlink(outside, join(mount, 'link-dir'))
  await symlink(join('..', '..', outside.split('/').pop()!, 'secret.txt'), join(mount, 'link-up'))
  await symlink(join(outside, 'created.txt'), join(mount, 'dangling'))
  await symlink('a.txt', join(mount, 'inner-link'))
  return {
    base, mount, other, ro, outside, secretFile,
    cleanup: async () => {
      await rm(base, { recursive: true, force: true })
      await rm(outside, { recursive: true, force: true })
    },
  }
}
