import { writeUnsigned } from './leb128.js'

/**
 * A growable byte buffer. Copies of untouched input ranges go through `copy()`, a single
 * `Uint8Array.set`, so most of a module moves as a few memcpys.
 */
export class Writer {
  private buf: Uint8Array
  length = 0

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity))
  }

  private reserve(extra: number): void {
    const need = this.length + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }

  byte(b: number): void {
    this.reserve(1)
    this.buf[this.length++] = b
  }

  bytes(data: ArrayLike<number>): void {
    this.reserve(data.length)
    this.buf.set(data, this.length)
    this.length += data.length
  }

  /** Copies `source[start, end)`. */
  copy(source: Uint8Array, start: number, end: number): void {
    this.bytes(source.subarray(start, end))
  }

  u32(value: number): void {
    const tmp: number[] = []
    writeUnsigned(tmp, value)
    this.bytes(tmp)
  }

  /** A section or body: its byte length as u32, then its bytes. */
  sized(content: Writer | Uint8Array): void {
    const data = content instanceof Writer ? content.result() : content
    this.u32(data.length)
    this.bytes(data)
  }

  /** A view of what was written (no copy). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}
