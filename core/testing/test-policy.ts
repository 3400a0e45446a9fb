import type { SecurityEvent } from '../audit/security-event.js'
import type { SandboxOptions, WasiOptions } from '../policy/options.js'
import type { NetworkFetch } from '../component/host-fetch.js'
import { matchesAllowList } from '../component/network-allow.js'
import { encodeUtf8 } from '../text/index.js'

/** What a test gives a guest: files by absolute guest path, plus any WASI settings. */
export interface TestPolicyOptions extends Omit<WasiOptions, 'preopens'> {
  /** `{ '/data/in.txt': 'text', '/data/sub/raw.bin': bytes }`: each top directory becomes a preopen. */
  files?: Record<string, string | Uint8Array>
  /** Top directories to mount read-only, e.g. `['/etc']`. */
  readonly?: string[]
  /**
   * Mock network: `{ 'api.example.com:443': { status: 200, body: '...' } }` (or a function of
   * the request). Each key is allowed (see `network.allow`); requests to it get the mock,
   * never the real network. See {@link mockNetwork} to look at the requests made.
   */
  network?: MockRoutes | MockNetwork
}

/** A request a guest made, as a mock sees it. */
export interface MockRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: Uint8Array | null
}

export interface MockResponse {
  status?: number
  headers?: Record<string, string>
  body?: string | Uint8Array
}

export type MockRoutes = Record<string, MockResponse | ((request: MockRequest) => MockResponse | Promise<MockResponse>)>

/** `network` options answered by mocks, and the requests they answered. */
export interface MockNetwork {
  allow: string[]
  fetch: NetworkFetch
  requests: MockRequest[]
}

/**
 * A mock network for `network` options: every `host:port` key is allowed and answered by its
 * mock (status 200 and an empty body unless given); `requests` records what the guest sent.
 *
 * ```ts
 * const net = mockNetwork({ 'api.example.com:443': { status: 200, body: '{"ok":true}' } })
 * const sb = await Sandbox.create(component, { wasi: true, network: net })
 * // ... net.requests[0].url === 'https://api.example.com/v1/items'
 * ```
 */
export function mockNetwork(routes: MockRoutes): MockNetwork {
  const requests: MockRequest[] = []
  const allow = Object.keys(routes)
  const fetch: NetworkFetch = async (url, init) => {
    const at = /^(https?):\/\/([^/?#]*)/i.exec(url)
    const key = at ? allow.find((k) => matchesAllowList(at[2]!, at[1]!.toLowerCase() as 'http' | 'https', [k])) : undefined
    if (key === undefined) throw new TypeError(`no mock for ${url}`)
    const request: MockRequest = { method: init.method, url, headers: Object.fromEntries(init.headers), body: init.body ?? null }
    requests.push(request)
    const route = routes[key]!
    const response = typeof route === 'function' ? await route(request) : route
    const body = typeof response.body === 'string' ? encodeUtf8(response.body) : response.body ?? new Uint8Array()
    return { status: response.status ?? 200, headers: Object.entries(response.headers ?? {}), arrayBuffer: async () => body.slice().buffer as ArrayBuffer }
  }
  return { allow, fetch, requests }
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
  const { files = {}, readonly = [], network, ...wasi } = options
  const preopens: NonNullable<WasiOptions['preopens']> = {}
  for (const [path, data] of Object.entries(files)) {
    const parts = path.split('/').filter(Boolean)
    if (!path.startsWith('/') || parts.length < 2) throw new TypeError(`testPolicy: ${JSON.stringify(path)} must be an absolute path inside a directory, like '/data/file.txt'`)
    const root = `/${parts[0]}`
    const preopen = (preopens[root] ??= { files: {}, readonly: readonly.includes(root) })
    preopen.files![parts.slice(1).join('/')] = data
  }
  for (const root of readonly) preopens[root] ??= { files: {}, readonly: true }
  const net = network === undefined ? undefined : isMockNetwork(network) ? network : mockNetwork(network)
  return { ...extra, wasi: { ...wasi, preopens }, ...(net ? { network: { allow: net.allow, fetch: net.fetch } } : {}) }
}

function isMockNetwork(value: MockRoutes | MockNetwork): value is MockNetwork {
  return Array.isArray((value as MockNetwork).allow) && typeof (value as MockNetwork).fetch === 'function' && Array.isArray((value as MockNetwork).requests)
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
