import { SandboxError } from '../errors/index.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import type { SyncIo } from './sync-io.js'
import type { FetchRequest, FetchResult } from '../protocol/fetch.js'
import type { Namespace, Preview2Shim } from './preview2-shim.js'

type Method = { tag: string; val?: string }
type Scheme = { tag: 'HTTP' | 'HTTPS' | 'other'; val?: string }

/** A request for a component's `wasi:http/incoming-handler`, and its answer: plain data. */
export interface HttpExchange {
  method: string
  url: string
  headers: [string, string][]
  body: Uint8Array
}

const METHODS = ['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch']

/**
 * `wasi:http/types` and `wasi:http/outgoing-handler` for a synchronously running component:
 * `handle` returns a future that resolves, the first time the guest looks at it, by asking
 * the host to fetch while the worker waits (as for host functions). The shim's own client
 * answers through a Promise, which only a JSPI guest could wait for. Header fields come
 * from the shim (`Fields`); requests, bodies and responses are ours; streams and pollables
 * are the shim's, so the guest's io calls work on them unchanged. `serve` runs an exported
 * `wasi:http/incoming-handler` on a plain request, synchronously, and collects its response.
 */
export function wasiHttp(shim: Preview2Shim, io: SyncIo, fetchSync: (request: FetchRequest) => FetchResult): {
  types: Namespace
  outgoingHandler: Namespace
  serve(handle: (request: unknown, out: unknown) => void, request: HttpExchange): Omit<HttpExchange, 'method' | 'url'> & { status: number }
} {
  const Fields = shim.http.types.Fields as { new(): FieldsLike & { append(name: string, value: Uint8Array): void } }

  class OutgoingBody {
    readonly chunks: Uint8Array[] = []
    finished = false
    private stream: unknown = null
    write(): unknown {
      if (this.stream) throw undefined
      this.stream = shim.io.outputStreamCreate({ write: (bytes: Uint8Array) => void this.chunks.push(bytes.slice()), blockingFlush() {}, flush() {} })
      return this.stream
    }
    static finish(body: OutgoingBody, _trailers?: unknown): void {
      body.finished = true
    }
    bytes(): Uint8Array {
      const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0))
      let at = 0
      for (const c of this.chunks) { out.set(c, at); at += c.length }
      return out
    }
  }

  class OutgoingRequest {
    private m: Method = { tag: 'get' }
    private path: string | undefined = undefined
    private s: Scheme | undefined = undefined
    private auth: string | undefined = undefined
    private bodyValue: OutgoingBody | null = null
    constructor(private readonly fields: FieldsLike) {}
    body(): OutgoingBody {
      if (this.bodyValue) throw undefined
      return (this.bodyValue = new OutgoingBody())
    }
    method(): Method { return this.m }
    setMethod(method: Method): void { this.m = method }
    pathWithQuery(): string | undefined { return this.path }
    setPathWithQuery(path: string | undefined): void { this.path = path }
    scheme(): Scheme | undefined { return this.s }
    setScheme(scheme: Scheme | undefined): void { this.s = scheme }
    authority(): string | undefined { return this.auth }
    setAuthority(authority: string | undefined): void { this.auth = authority }
    headers(): FieldsLike { return this.fields }
    toFetch(): FetchRequest {
      const scheme = this.s?.tag === 'HTTP' ? 'http' : this.s?.tag === 'other' ? String(this.s.val).toLowerCase() : 'https'
      const method = this.m.tag === 'other' ? String(this.m.val) : this.m.tag.toUpperCase()
      return {
        method, url: `${scheme}://${this.auth ?? ''}${this.path ?? '/'}`,
        headers: this.fields.entries().map(([k, v]) => [k, decodeUtf8(v)]),
        body: this.bodyValue ? this.bodyValue.bytes() : null,
      }
    }
  }

  const fieldsOf = (headers: [string, string][]) => {
    const fields = new Fields()
    // Headers a guest may not see or set (connection, keep-alive, host) are dropped, as the shim does.
    for (const [name, value] of headers) {
      try {
        fields.append(name, encodeUtf8(value))
      } catch {
        // forbidden or malformed: left out
      }
    }
    return fields
  }

  class IncomingRequest {
    private readonly url: RegExpExecArray | null
    private consumed = false
    constructor(private readonly request: HttpExchange) {
      this.url = /^(\w+):\/\/([^/?#]*)([^#]*)/.exec(request.url)
    }
    method(): Method {
      const m = this.request.method.toLowerCase()
      return METHODS.includes(m) ? { tag: m } : { tag: 'other', val: this.request.method }
    }
    pathWithQuery(): string | undefined { return this.url?.[3] || '/' }
    scheme(): Scheme | undefined { return this.url?.[1]?.toLowerCase() === 'https' ? { tag: 'HTTPS' } : { tag: 'HTTP' } }
    authority(): string | undefined { return this.url?.[2] }
    headers(): FieldsLike { return fieldsOf(this.request.headers) }
    consume(): IncomingBody {
      if (this.consumed) throw undefined
      this.consumed = true
      return new IncomingBody(this.request.body)
    }
  }

  class OutgoingResponse {
    private code = 200
    private bodyValue: OutgoingBody | null = null
    constructor(readonly fields: FieldsLike) {}
    statusCode(): number { return this.code }
    setStatusCode(code: number): void {
      if (!Number.isInteger(code) || code < 100 || code > 999) throw undefined
      this.code = code
    }
    headers(): FieldsLike { return this.fields }
    body(): OutgoingBody {
      if (this.bodyValue) throw undefined
      return (this.bodyValue = new OutgoingBody())
    }
    bodyBytes(): Uint8Array { return this.bodyValue?.bytes() ?? new Uint8Array() }
  }

  class ResponseOutparam {
    value: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: unknown } | null = null
    static set(param: ResponseOutparam, response: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: unknown }): void {
      param.value = response
    }
  }

  class IncomingBody {
    private streamed = false
    constructor(private readonly data: Uint8Array) {}
    stream(): unknown {
      if (this.streamed) throw undefined
      this.streamed = true
      let at = 0
      const read = (len: bigint) => {
        if (at >= this.data.length) throw { tag: 'closed' }
        const chunk = this.data.slice(at, at + Math.min(Number(len), 1 << 20))
        at += chunk.length
        return chunk
      }
      return shim.io.inputStreamCreate({ read, blockingRead: read, subscribe: () => io.pollable() })
    }
    static finish(_body: IncomingBody): FutureTrailers {
      return new FutureTrailers()
    }
  }

  class FutureTrailers {
    private taken = false
    subscribe(): unknown { return io.pollable() }
    get(): unknown {
      if (this.taken) return { tag: 'err' }
      this.taken = true
      return { tag: 'ok', val: { tag: 'ok', val: undefined } }
    }
  }

  class IncomingResponse {
    private consumed = false
    constructor(private readonly code: number, private readonly fields: FieldsLike, private readonly data: Uint8Array) {}
    status(): number { return this.code }
    headers(): FieldsLike { return this.fields }
    consume(): IncomingBody {
      if (this.consumed) throw undefined
      this.consumed = true
      return new IncomingBody(this.data)
    }
  }

  class FutureIncomingResponse {
    private result: FetchResult | null = null
    private taken = false
    constructor(private readonly request: OutgoingRequest) {}
    /** Fetches once the request's body (if it has one) is finished: the guest writes it first. */
    private settle(): boolean {
      if (this.result) return true
      const body = (this.request as unknown as { bodyValue: OutgoingBody | null }).bodyValue
      if (body && !body.finished) return false
      this.result = fetchSync(this.request.toFetch())
      return true
    }
    subscribe(): unknown { return io.pollable({ ready: () => this.settle() }) }
    get(): unknown {
      if (!this.settle()) return undefined
      if (this.taken) return { tag: 'err' }
      this.taken = true
      const r = this.result!
      if (!r.ok) return { tag: 'ok', val: { tag: 'err', val: r.error } }
      const fields = fieldsOf(r.headers)
      return { tag: 'ok', val: { tag: 'ok', val: new IncomingResponse(r.status, fields, r.body) } }
    }
  }

  return {
    types: { ...shim.http.types, OutgoingRequest, OutgoingBody, IncomingResponse, IncomingBody, FutureIncomingResponse, FutureTrailers, IncomingRequest, OutgoingResponse, ResponseOutparam },
    serve(handle, request) {
      const out = new ResponseOutparam()
      handle(new IncomingRequest(request), out)
      const set = out.value
      if (!set) throw new SandboxError('TRAP', 'the HTTP handler returned without setting a response', { trap: 'no response' })
      if (set.tag === 'err') throw new SandboxError('TRAP', `the HTTP handler answered with an error: ${JSON.stringify(set.val)}`, { trap: 'error response' })
      const response = set.val
      return { status: response.statusCode(), headers: response.fields.entries().map(([k, v]) => [k, decodeUtf8(v)]), body: response.bodyBytes() }
    },
    outgoingHandler: {
      handle: (request: OutgoingRequest, _options: unknown) => {
        if (!(request instanceof OutgoingRequest)) throw { tag: 'internal-error', val: 'not an outgoing-request of this sandbox' }
        return new FutureIncomingResponse(request)
      },
    },
  }
}

interface FieldsLike {
  entries(): [string, Uint8Array][]
}
