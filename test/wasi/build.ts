/**
 * Compiles the C fixtures in test/fixtures/c/ to WASI command modules, once.
 *
 * Each program is built with `clang --target=wasm32-wasi` (clang, lld and wasi-libc must be
 * installed; on Debian/Ubuntu: `apt-get install clang lld wasi-libc`). Results are cached
 * in os.tmpdir() under a hash of the source, the flags and the compiler's version, so
 * re-runs and parallel test files do not rebuild; a missing toolchain fails loudly.
 *
 * Usage in a test file:
 *   let wasm: Fixtures
 *   beforeAll(async () => { wasm = await buildFixtures() })
 *   Sandbox.create(wasm.hello, ...)
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/c/', import.meta.url))
export const CACHE_DIR = join(tmpdir(), 'wasm-sandbox-wasi-fixtures')
/** The compiler; override with WASI_CC (e.g. a wasi-sdk clang). */
export const CLANG = process.env.WASI_CC ?? 'clang'
const FLAGS = ['--target=wasm32-wasi', '-O2', '-Wall', '-Wextra', '-Werror', '-Wl,--strip-debug']

/** Program name (file name without .c) -> path of the compiled .wasm. */
export type Fixtures = Record<string, string>

let building: Promise<Fixtures> | null = null

/** Compiles every test/fixtures/c/*.c (cached); rejects with a clear message without a toolchain. */
export function buildFixtures(): Promise<Fixtures> {
  building ??= build()
  return building
}

async function compilerVersion(): Promise<string> {
  try {
    const { stdout } = await run(CLANG, ['--version'])
    return stdout
  } catch (error) {
    throw new Error(
      `The WASI tests need a C compiler for wasm32-wasi, but \`${CLANG} --version\` failed (${(error as Error).message}).\n` +
      'Install clang, lld and wasi-libc (Debian/Ubuntu: apt-get install clang lld wasi-libc), or point WASI_CC at a wasi-sdk clang.',
    )
  }
}

async function build(): Promise<Fixtures> {
  const version = await compilerVersion()
  await mkdir(CACHE_DIR, { recursive: true })
  const sources = (await readdir(FIXTURE_DIR)).filter((f) => f.endsWith('.c')).sort()
  if (sources.length === 0) throw new Error(`no C fixtures in ${FIXTURE_DIR}`)
  const entries = await Promise.all(sources.map(async (file) => {
    const name = file.slice(0, -2)
    const source = join(FIXTURE_DIR, file)
    const hash = createHash('sha256').update(await readFile(source)).update('\0' + FLAGS.join(' ') + '\0' + version).digest('hex').slice(0, 24)
    const out = join(CACHE_DIR, `${name}-${hash}.wasm`)
    if (!(await exists(out))) {
      const temp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
      try {
        await run(CLANG, [...FLAGS, source, '-o', temp])
      } catch (error) {
        await unlink(temp).catch(() => undefined)
        const stderr = (error as { stderr?: string }).stderr ?? ''
        throw new Error(
          `compiling ${file} for wasm32-wasi failed:\n${stderr || (error as Error).message}\n` +
          'Is wasi-libc installed (Debian/Ubuntu: apt-get install clang lld wasi-libc)?',
        )
      }
      await rename(temp, out) // atomic: a parallel test file sees the whole module or none
    }
    return [name, out] as const
  }))
  return Object.fromEntries(entries)
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0
  } catch {
    return false
  }
}
