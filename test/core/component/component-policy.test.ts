import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { Sandbox } from 'wasm-sandbox'
import { ComponentWasi } from '../../../core/component/component-wasi.js'
import { matchesAllowList } from '../../../core/component/network-allow.js'
import type { Preview2Shim } from '../../../core/component/preview2-shim.js'
import type { FetchRequest, FetchResult } from '../../../core/protocol/fetch.js'
import type { WasiSettings } from '../../../core/protocol/wasi-settings.js'
import { componentFromText } from '../../support/components.js'
import { rejectsWith } from '../../node/helpers.js'

/** The shim's browser build, as the sandbox's workers load it. */
async function shim(): Promise<Preview2Shim> {
  const base = new URL('../../../node_modules/@bytecodealliance/preview2-shim/dist/browser/', import.meta.url)
  const load = (name: string) => import(fileURLToPath(new URL(`${name}.js`, base)))
  const [cli, io, clocks, random, filesystem, sockets, http] = await Promise.all(['cli', 'io', 'clocks', 'random', 'filesystem', 'sockets', 'http'].map(load))
  return { cli, io, clocks, random, filesystem, sockets, http } as Preview2Shim
}

const noFetch = (): FetchResult => ({ ok: false, error: { tag: 'internal-error' } })
const SETTINGS: WasiSettings = { args: [], env: {}, stdin: new Uint8Array(), preopens: [], clock: false, random: false }

describe('network.allow patterns', () => {
  it('match host and port, * for any port, the scheme default when the authority has none', () => {
    expect(matchesAllowList('api.example.com:443', 'https', ['api.example.com:443'])).toBe(true)
    expect(matchesAllowList('api.example.com', 'https', ['api.example.com:443'])).toBe(true)
    expect(matchesAllowList('api.example.com', 'http', ['api.example.com:443'])).toBe(false)
    expect(matchesAllowList('API.Example.com:8080', 'http', ['api.example.com:*'])).toBe(true)
    expect(matchesAllowList('api.example.com.evil.net:443', 'https', ['api.example.com:443'])).toBe(false)
    expect(matchesAllowList('evil.net:443', 'https', ['api.example.com:443'])).toBe(false)
    expect(matchesAllowList('[::1]:80', 'http', ['[::1]:80'])).toBe(true)
    expect(matchesAllowList('a:b:c', 'http', ['a:*'])).toBe(false)
  })
})

describe('WASI 0.2 under the policy (the shim objects a guest would get)', () => {
  it('outgoing HTTP: a host outside network.allow is HTTP-request-denied and an audit event; an allowed one is fetched through the host, once', async () => {
    const fetched: FetchRequest[] = []
    const fetchSync = (request: FetchRequest): FetchResult => {
      fetched.push(request)
      return { ok: true, status: 200, headers: [['content-type', 'text/plain'], ['connection', 'close']], body: new TextEncoder().encode('hi') }
    }
    const wasi = new ComponentWasi(SETTINGS, ['api.example.com:443'], null, await shim(), ['wasi:http/outgoing-handler', 'wasi:http/types'], fetchSync)
    const types = wasi.imports['wasi:http/types']!
    const request = (authority: string) => {
      const r = new types.OutgoingRequest(new types.Fields())
      r.setScheme({ tag: 'HTTPS' })
      r.setAuthority(authority)
      r.setPathWithQuery('/v1?q=1')
      return r
    }
    const handler = wasi.imports['wasi:http/outgoing-handler']!
    expect(() => handler.handle(request('evil.example.net'), undefined)).toThrow(expect.objectContaining({ tag: 'HTTP-request-denied' }))
    expect(wasi.takeEvents()).toEqual([expect.objectContaining({ capability: 'network', detail: 'evil.example.net is not in network.allow' })])
    const future = handler.handle(request('api.example.com'), undefined)
    expect(fetched).toEqual([]) // fetched when the guest looks at the response
    const result = future.get()
    expect(fetched.map((r) => [r.method, r.url])).toEqual([['GET', 'https://api.example.com/v1?q=1']])
    const response = result.val.val
    expect(response.status()).toBe(200)
    expect(response.headers().entries().map(([k]: [string]) => k)).toEqual(['content-type']) // connection is not for guests
    expect(future.get()).toEqual({ tag: 'err' }) // a response is taken once
    expect(wasi.takeEvents()).toEqual([])
  })

  it('env and argv are exactly what was given, never the host process', async () => {
    process.env.WASM_SANDBOX_LEAK_PROBE = 'leak'
    try {
      const wasi = new ComponentWasi({ ...SETTINGS, args: ['a'], env: { K: 'V' } }, [], { args: ['b'] }, await shim(), ['wasi:cli/environment'], noFetch)
      const env = wasi.imports['wasi:cli/environment']!
      expect(env.getEnvironment()).toEqual([['K', 'V']])
      expect(env.getArguments()).toEqual(['main.wasm', 'b'])
    } finally {
      delete process.env.WASM_SANDBOX_LEAK_PROBE
    }
  })

  it('only the imported interfaces are provided', async () => {
    const wasi = new ComponentWasi(SETTINGS, [], null, await shim(), ['wasi:cli/stdout@0.2.3'], noFetch)
    expect(Object.keys(wasi.imports)).toEqual(['wasi:cli/stdout'])
  })
})

describe('linking components against the policy', () => {
  const importing = (iface: string) => componentFromText(`(component (import "${iface}" (instance)))`)

  it('sockets need network.allow: LINK_ERROR names them; HTTP links with wasi (each request is checked when made)', async () => {
    const sockets = await rejectsWith(Sandbox.create(await importing('wasi:sockets/tcp@0.2.0'), { wasi: true }), 'LINK_ERROR')
    expect(sockets.imports).toEqual(['wasi:sockets/tcp'])
    expect(sockets.message).toMatch(/network/)
    const http = await rejectsWith(Sandbox.create(await importing('wasi:http/outgoing-handler@0.2.0')), 'LINK_ERROR')
    expect(http.suggestion).toMatch(/wasi: true/)
    const linked = await Sandbox.create(await importing('wasi:http/outgoing-handler@0.2.0'), { wasi: true })
    await linked.close()
  })

  it('WASI interfaces need wasi; non-WASI interfaces cannot be granted', async () => {
    const wasiError = await rejectsWith(Sandbox.create(await importing('wasi:cli/environment@0.2.0')), 'LINK_ERROR')
    expect(wasiError.suggestion).toMatch(/wasi: true/)
    const custom = await rejectsWith(Sandbox.create(await importing('acme:billing/charge'), { policy: 'permissive' }), 'LINK_ERROR')
    expect(custom.imports).toEqual(['acme:billing/charge'])
    expect(custom.message).toMatch(/not WASI/)
  })

  it('with network.allow granted, a component importing sockets is created', async () => {
    const sb = await Sandbox.create(await importing('wasi:sockets/tcp@0.2.0'), { wasi: true, network: { allow: ['api.example.com:443'] } })
    expect(sb.exports()).toEqual([])
    await sb.close()
  })
})
