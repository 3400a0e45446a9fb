import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { fromWireJson, toWireJson } from './wire-json.js'

// A component's outgoing HTTP as it crosses from the worker to the host and back (see
// component/wasi-http.ts for the guest's side, component/host-fetch.ts for the host's).

/** A request as the host fetches it. */
export interface FetchRequest {
  method: string
  url: string
  headers: [string, string][]
  body: Uint8Array | null
}

/** The host's answer, or a WASI `error-code` (e.g. `{ tag: 'HTTP-request-denied' }`). */
export type FetchResult = { ok: true; status: number; headers: [string, string][]; body: Uint8Array } | { ok: false; error: { tag: string; val?: unknown } }

/** A fetch result as bytes for the mailbox: u32 length, the JSON head, then the body. */
export function encodeFetchResult(result: FetchResult): Uint8Array {
  const { body, ...head } = result.ok ? result : { ...result, body: new Uint8Array() }
  const json = encodeUtf8(toWireJson(head))
  const out = new Uint8Array(4 + json.length + body.length)
  new DataView(out.buffer).setUint32(0, json.length, true)
  out.set(json, 4)
  out.set(body, 4 + json.length)
  return out
}

export function decodeFetchResult(pieces: Uint8Array[]): FetchResult {
  const all = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of pieces) { all.set(p, at); at += p.length }
  const length = new DataView(all.buffer).getUint32(0, true)
  const head = fromWireJson(decodeUtf8(all.slice(4, 4 + length))) as FetchResult
  return head.ok ? { ...head, body: all.slice(4 + length) } : head
}
