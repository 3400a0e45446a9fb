/**
 * Runs the vendored WASI testsuite (preview1 programs in AssemblyScript, C and Rust; see
 * README.md in this folder) through the public API, the way `specification.md` describes:
 * each program's JSON spec gives args, env, a `root` directory to preopen at `/`, the exit
 * code and stdout expected. The root is copied to a fresh temp directory per run and
 * mounted as a host directory (`host` mode), or read into an in-memory preopen (`memory`
 * mode, as a browser runs it).
 */
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Sandbox, SandboxError } from 'wasm-sandbox'

export const TESTSUITE_DIR = fileURLToPath(new URL('./tests/', import.meta.url))
export const LANGUAGES = ['assemblyscript', 'c', 'rust'] as const
export type Language = (typeof LANGUAGES)[number]
export type Mode = 'host' | 'memory'

export interface TestCase {
  language: Language
  name: string
  wasm: string
  /** The test's directory (where `root` is relative to). */
  dir: string
  args: string[]
  env: Record<string, string>
  root: string | null
  exitCode: number
  /** Compared only when the spec gives it, as the reference runner does. */
  stdout: string | null
}

export interface TestResult {
  test: TestCase
  passed: boolean
  /** Why it failed: what differed, or the error. */
  reason?: string
}

/** Every program of the suite with its spec (defaults from specification.md). */
export async function listTests(): Promise<TestCase[]> {
  const tests: TestCase[] = []
  for (const language of LANGUAGES) {
    const dir = join(TESTSUITE_DIR, language, 'testsuite', 'wasm32-wasip1')
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.wasm')).sort()) {
      const name = file.slice(0, -'.wasm'.length)
      const spec = await readFile(join(dir, `${name}.json`), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => ({} as Record<string, unknown>))
      tests.push({
        language, name, wasm: join(dir, file), dir,
        args: (spec.args as string[] | undefined) ?? [],
        env: (spec.env as Record<string, string> | undefined) ?? {},
        root: (spec.root as string | undefined) ?? null,
        exitCode: (spec.exit_code as number | undefined) ?? 0,
        stdout: (spec.stdout as string | undefined) ?? null,
      })
    }
  }
  return tests
}

/** Every file under `dir`, by relative path ('a/b.txt'); empty directories are not kept. */
export async function readTree(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {}
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const full = join(entry.parentPath, entry.name)
    files[full.slice(dir.length + 1)] = new Uint8Array(await readFile(full))
  }
  return files
}

/** Runs one program in `mode` and checks its exit code and stdout. */
export async function runTest(test: TestCase, mode: Mode): Promise<TestResult> {
  const temp = test.root && mode === 'host' ? await mkdtemp(join(tmpdir(), `wasi-testsuite-${test.name}-`)) : null
  let sandbox: Sandbox | null = null
  try {
    const preopens: Record<string, { host?: string; files?: Record<string, Uint8Array> }> = {}
    if (test.root && temp) {
      await cp(join(test.dir, test.root), temp, { recursive: true })
      preopens['/'] = { host: temp }
    } else if (test.root) {
      preopens['/'] = { files: await readTree(join(test.dir, test.root)) }
    }
    sandbox = await Sandbox.create(await readFile(test.wasm), { wasi: { args: test.args, env: test.env, preopens, clock: true, random: true } })
    const out = await sandbox.runCommand()
    const problems: string[] = []
    if (out.exitCode !== test.exitCode) problems.push(`exit code ${out.exitCode}, expected ${test.exitCode}`)
    if (test.stdout !== null && out.stdout !== test.stdout) problems.push(`stdout ${JSON.stringify(out.stdout.slice(0, 200))}, expected ${JSON.stringify(test.stdout)}`)
    if (problems.length && out.stderr) problems.push(`stderr: ${oneLine(out.stderr)}`)
    return problems.length ? { test, passed: false, reason: problems.join('; ') } : { test, passed: true }
  } catch (error) {
    const e = error as SandboxError & { stderr?: string }
    const stderr = e.stderr ? ` (stderr: ${oneLine(e.stderr)})` : ''
    return { test, passed: false, reason: `${e instanceof SandboxError ? e.code : 'ERROR'}: ${e.message}${stderr}` }
  } finally {
    await sandbox?.close()
    if (temp) await rm(temp, { recursive: true, force: true })
  }
}

/** Pass counts per language, and `N/72 passed` overall. */
export function summarize(mode: Mode, results: TestResult[]): string {
  const passed = results.filter((r) => r.passed).length
  const perLanguage = LANGUAGES.map((l) => {
    const mine = results.filter((r) => r.test.language === l)
    return `${l} ${mine.filter((r) => r.passed).length}/${mine.length}`
  })
  const failures = results.filter((r) => !r.passed).map((r) => `  ${r.test.language}/${r.test.name}: ${r.reason}`)
  return [`WASI testsuite (${mode}): ${passed}/${results.length} passed (${perLanguage.join(', ')})`, ...failures].join('\n')
}

/** A program's stderr on one line (a Rust panic spans several). */
function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' | ').slice(0, 400)
}
