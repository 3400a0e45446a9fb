import type { SecurityEvent } from '../audit/security-event.js'
import type { SandboxOptions, WasiOptions } from '../policy/options.js'

/** What a test gives a guest: files by absolute guest path, plus any WASI settings. */
export interface TestPolicyOptions extends Omit<WasiOptions, 'preopens'> {
  /** `{ '/data/in.txt': 'text', '/data/sub/raw.bin': bytes }`: each top directory becomes a preopen. */
  files?: Record<string, string | Uint8Array>
  /** Top directories to mount read-only, e.g. `['/etc']`. */
  readonly?: string[]
}

/**
 * Sandbox options for a test: WASI with an in-memory file system built from `files` (one
 * preopen per top directory), under the strict policy otherwise.
 *
 * ```ts
 * const sb = await Sandbox.create(wasm, testPolicy({ files: { '/data/in.txt': 'hello' }, readonly: ['/data'] }))
 * ```
 */
export function testPolicy(options: TestPolicyOptions = {}, extra: SandboxOptions = {}): SandboxOptions {
  const { files = {}, readonly = [], ...wasi } = options
  const preopens: NonNullable<WasiOptions['preopens']> = {}
  for (const [path, data] of Object.entries(files)) {
    const parts = path.split('/').filter(Boolean)
    if (!path.startsWith('/') || parts.length < 2) throw new TypeError(`testPolicy: ${JSON.stringify(path)} must be an absolute path inside a directory, like '/data/file.txt'`)
    const root = `/${parts[0]}`
    const preopen = (preopens[root] ??= { files: {}, readonly: readonly.includes(root) })
    preopen.files![parts.slice(1).join('/')] = data
  }
  for (const root of readonly) preopens[root] ??= { files: {}, readonly: true }
  return { ...extra, wasi: { ...wasi, preopens } }
}

/** What a denial should look like; every given field must match. */
export interface ExpectedDenial {
  capability: string
  operation?: string
  path?: string
  /** A substring of the event's detail. */
  detail?: string
}

/**
 * Asserts that a sandbox's audit log has a denial matching `expected` (throws an Error
 * listing what it has otherwise); returns the matching event.
 */
export function expectDenied(sandbox: { audit(): SecurityEvent[] }, expected: ExpectedDenial): SecurityEvent {
  const events = sandbox.audit()
  const match = events.find((e) => e.capability === expected.capability &&
    (expected.operation === undefined || e.operation === expected.operation) &&
    (expected.path === undefined || e.path === expected.path) &&
    (expected.detail === undefined || e.detail.includes(expected.detail)))
  if (match) return match
  const seen = events.length ? events.map((e) => `  ${e.capability} ${e.operation}${e.path === undefined ? '' : ` ${e.path}`}: ${e.detail}`).join('\n') : '  (none)'
  throw new Error(`expected a denial ${JSON.stringify(expected)}; the audit log has:\n${seen}`)
}

/** Asserts that nothing was denied. */
export function expectNoDenials(sandbox: { audit(): SecurityEvent[] }): void {
  const events = sandbox.audit()
  if (events.length) throw new Error(`expected no denials, got:\n${events.map((e) => `  ${e.capability} ${e.operation}: ${e.detail}`).join('\n')}`)
}
