import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { constants, type Stats } from 'node:fs'
import type { CompileCacheStore } from '../core/index.js'

/**
 * The persistent compile cache on disk: one file per entry, `<cacheDir>/<key>.wsc`, written to
 * a temporary file and renamed into place, so a reader (another process) sees a whole entry
 * or none and concurrent writers of one key just replace each other's identical entry.
 *
 * A cached component's glue is JavaScript the worker runs, so whoever can write the directory
 * can run code as us: on POSIX the directory and each entry must be ours and not writable by
 * group or others (as ssh insists on for ~/.ssh); a directory that is not is refused (a miss,
 * nothing written). Core verifies every entry's digest and key besides.
 */
export function nodeCompileCache(dir: string): CompileCacheStore {
  const path = resolve(dir)
  let store = STORES.get(path)
  if (!store) {
    store = {
      fingerprint: buildFingerprint,
      async read(key) {
        const file = join(path, `${key}.wsc`)
        // The directory first: in one we do not trust, nothing is opened (a FIFO planted
        // there would block the open). Non-blocking and not through a link, then checked to
        // be a plain file of ours before a byte is read.
        try {
          trusted(await stat(path), path)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
          throw error
        }
        let handle
        try {
          handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOFOLLOW ?? 0))
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
          throw error
        }
        try {
          const info = await handle.stat()
          if (!info.isFile()) throw new Error(`${file} is not a file`)
          trusted(info, file)
          const bytes = new Uint8Array(await handle.readFile())
          const now = new Date()
          await handle.utimes(now, now).catch(() => {}) // recently used: evicted last
          return bytes
        } finally {
          await handle.close()
        }
      },
      async write(key, bytes) {
        await mkdir(path, { recursive: true, mode: 0o700 })
        trusted(await stat(path), path)
        const file = join(path, `${key}.wsc`)
        const temporary = join(path, `.${key}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
        try {
          await writeFile(temporary, bytes, { flag: 'wx', mode: 0o600 })
          await rename(temporary, file)
        } catch (error) {
          await rm(temporary, { force: true }).catch(() => {})
          throw error
        }
        await evict(path).catch(() => {}) // best effort: another process may be evicting too
      },
    }
    STORES.set(path, store)
  }
  return store
}

const STORES = new Map<string, CompileCacheStore>()

/**
 * Past this many bytes of entries (default 1 GiB; the environment variable
 * WASM_SANDBOX_CACHE_MAX_BYTES sets another), the least recently used go until 3/4 of it is left.
 */
export const COMPILE_CACHE_MAX_BYTES = 1024 * 1024 * 1024
/** A temporary file this old was left by a writer that died. */
const STALE_TEMPORARY_MS = 60 * 60 * 1000

async function evict(path: string): Promise<void> {
  const entries: { file: string; size: number; used: number }[] = []
  let total = 0
  for (const name of await readdir(path)) {
    const file = join(path, name)
    const info = await stat(file).catch(() => null)
    if (!info?.isFile()) continue
    if (name.endsWith('.tmp')) {
      if (Date.now() - info.mtimeMs > STALE_TEMPORARY_MS) await rm(file, { force: true })
    } else if (name.endsWith('.wsc')) {
      entries.push({ file, size: info.size, used: info.mtimeMs })
      total += info.size
    }
  }
  const set = Number(process.env.WASM_SANDBOX_CACHE_MAX_BYTES)
  const max = Number.isFinite(set) && set > 0 ? set : COMPILE_CACHE_MAX_BYTES
  if (total <= max) return
  entries.sort((a, b) => a.used - b.used)
  for (const entry of entries) {
    if (total <= max * 0.75) break
    await rm(entry.file, { force: true })
    total -= entry.size
  }
}

/** Refuses a directory or entry that someone else could have written. */
function trusted(info: Stats, path: string): void {
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return
  if (info.uid !== process.getuid()) throw new Error(`${path} belongs to another user (uid ${info.uid})`)
  if ((info.mode & 0o022) !== 0) throw new Error(`${path} is writable by group or others (mode ${(info.mode & 0o777).toString(8)})`)
}

let fingerprint: Promise<string> | null = null

/**
 * What entries depend on besides source and meter settings: this library's version, the
 * code that derives them (the meter and the component preparation, hashed as built, so a
 * changed meter never reads entries made by the old one, version bump or not) and jco's version.
 */
function buildFingerprint(): Promise<string> {
  fingerprint ??= (async () => {
    const hash = createHash('sha256')
    const here = new URL('.', import.meta.url)
    hash.update(await readFile(new URL('../../package.json', here)).catch(() => 'no package.json'))
    const jco = (() => { try { return fileURLToPath(import.meta.resolve('@bytecodealliance/jco-transpile')) } catch { return null } })()
    hash.update(jco ? await readFile(join(dirname(jco), '..', 'package.json')).catch(() => 'no jco-transpile') : 'no jco-transpile')
    const folders = ['../core/meter/', '../core/component/', '../core/sandbox/']
    const files = (await Promise.all(folders.map(async (folder) =>
      (await readdir(new URL(folder, here)).catch(() => [] as string[])).filter((n) => n.endsWith('.js')).sort().map((name) => folder + name)))).flat()
    const contents = await Promise.all(files.map((file) => readFile(new URL(file, here))))
    files.forEach((file, i) => hash.update(`\0${file}\0`).update(contents[i]!))
    // Bundled into one file: that file holds the meter.
    if (files.length === 0) hash.update(await readFile(new URL(import.meta.url)))
    return hash.digest('hex')
  })()
  return fingerprint
}
