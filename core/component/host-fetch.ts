import { matchesAllowList } from './network-allow.js'
import type { NetworkFetch } from '../policy/options.js'
import type { FetchRequest, FetchResult } from '../protocol/fetch.js'

/**
 * The host side of a component's outgoing HTTP request: the allow-list again (the worker
 * checked it, the host does not trust that), then `fetch` without following redirects (a
 * redirect to another host must not get around the allow-list: the guest sees the 3xx),
 * the body capped at `maxBodyBytes`. Failures are WASI error codes for the guest.
 */
export async function fetchForGuest(request: FetchRequest, allow: string[], fetchImpl: NetworkFetch, maxBodyBytes: number): Promise<FetchResult> {
  const url = /^(https?):\/\/([^/?#]*)/i.exec(request.url)
  if (!url || !matchesAllowList(url[2]!, url[1]!.toLowerCase() as 'http' | 'https', allow)) return { ok: false, error: { tag: 'HTTP-request-denied' } }
  let response: Awaited<ReturnType<NetworkFetch>>
  try {
    response = await fetchImpl(request.url, { method: request.method, headers: request.headers, ...(request.body ? { body: request.body } : {}), redirect: 'manual' })
  } catch (error) {
    return { ok: false, error: { tag: 'internal-error', val: `fetch failed: ${error instanceof Error ? error.message : String(error)}` } }
  }
  const body = new Uint8Array(await response.arrayBuffer())
  if (body.length > maxBodyBytes) return { ok: false, error: { tag: 'HTTP-response-body-size', val: BigInt(maxBodyBytes) } }
  return { ok: true, status: response.status, headers: [...response.headers], body }
}

export type { NetworkFetch } from '../policy/options.js'
