import type { IncomingMessage } from 'node:http'

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024

/** A request body past its limit: a 413 wherever a body is read (see `failureReply`). */
export class PayloadTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`)
  }
}

/**
 * A body's chunks so far, refused past `limit`: a declared length above it before any byte
 * is read, else the chunk that crosses it. The one place a body becomes too large.
 */
class BoundedBody {
  private readonly chunks: Uint8Array[] = []
  private size = 0

  constructor(private readonly limit: number, declaredLength: number) {
    if (declaredLength > limit) throw new PayloadTooLarge(limit)
  }

  add(chunk: Uint8Array): void {
    this.size += chunk.length
    if (this.size > this.limit) throw new PayloadTooLarge(this.limit)
    this.chunks.push(chunk)
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks)
  }
}

/** A fetch `Request`'s body, refusing more than `limit` bytes (PayloadTooLarge). */
export async function readRequestBody(request: Request, limit: number): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  const body = new BoundedBody(limit, declared)
  if (!request.body) return Buffer.alloc(0)
  if (Number.isInteger(declared)) { // the length is known and allowed: one read (streams are slow)
    const whole = Buffer.from(await request.arrayBuffer())
    body.add(whole)
    return whole
  }
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) body.add(chunk)
  return body.bytes()
}

/**
 * A node:http request's body, refusing more than `limit` bytes (PayloadTooLarge). Past the
 * limit the rest is read and dropped, so the 413 can go out on a connection that stays usable.
 */
export function readIncomingBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = new BoundedBody(limit, Number(req.headers['content-length'] ?? 0)) // throws: the promise rejects
    req.on('data', (chunk: Buffer) => {
      try {
        body.add(chunk)
      } catch (error) {
        req.removeAllListeners('data')
        req.resume()
        reject(error)
      }
    })
    req.on('end', () => resolve(body.bytes()))
    req.on('error', reject)
  })
}
