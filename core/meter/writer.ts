/**
 * A growable byte buffer. Copies of untouched input ranges go through `copy()`, a single
 * `Uint8Array.set`, so most of a module moves as a few memcpys; LEB128s are written in place.
 */
export class Writer {
  private buf: Uint8Array
  length = 0

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity))
  }

  /** Makes room for `extra` more bytes. */
  reserve(extra: number): void {
    const need = this.length + extra
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }

  byte(b: number): void {
    if (this.length >= this.buf.length) this.reserve(1)
    this.buf[this.length++] = b
  }

  /** Appends a short run of bytes (a template or a number[]). */
  bytes(data: ArrayLike<number>): void {
    const n = data.length
    if (this.length + n > this.buf.length) this.reserve(n)
    const buf = this.buf
    let at = this.length
    if (n > 64 && data instanceof Uint8Array) buf.set(data, at)
    else for (let i = 0; i < n; i++) buf[at++] = data[i]!
    this.length += n
  }

  /** Appends a prepared instruction sequence (see `injection.ts`). */
  template(t: { buf: Uint8Array; length: number }): void {
    const n = t.length
    if (this.length + n > this.buf.length) this.reserve(n)
    const buf = this.buf, src = t.buf
    let at = this.length
    for (let i = 0; i < n; i++) buf[at++] = src[i]!
    this.length = at
  }

  /** Copies `source[start, end)`. */
  copy(source: Uint8Array, start: number, end: number): void {
    const n = end - start
    if (this.length + n > this.buf.length) this.reserve(n)
    const buf = this.buf
    if (n > 96) buf.set(source.subarray(start, end), this.length) // a view costs more than a short loop
    else for (let i = 0, at = this.length; i < n; i++) buf[at + i] = source[start + i]! // no view allocated
    this.length += n
  }

  /** Makes room for `extra` more bytes; @returns the buffer, for writing in place what is already counted in `length`. */
  room(extra: number): Uint8Array {
    this.reserve(extra)
    return this.buf
  }

  /** Unsigned LEB128 (below 2^53). */
  u32(value: number): void {
    if (this.length + 10 > this.buf.length) this.reserve(10)
    const buf = this.buf
    if (value < 0x80) { buf[this.length++] = value; return }
    while (value >= 0x80) {
      buf[this.length++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    buf[this.length++] = value
  }

  /** Signed LEB128 of a safe integer. */
  s64(value: number): void {
    if (this.length + 10 > this.buf.length) this.reserve(10)
    const buf = this.buf
    if (value >= 0 && value < 0x40) { buf[this.length++] = value; return } // most charges
    if (value >= 0 && value < 0x2000) { buf[this.length++] = (value & 0x7f) | 0x80; buf[this.length++] = value >> 7; return }
    for (;;) {
      const byte = ((value % 0x80) + 0x80) % 0x80
      value = Math.floor(value / 0x80)
      const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)
      buf[this.length++] = done ? byte : byte | 0x80
      if (done) return
    }
  }

  /** Leaves room for a u32 written later by `patchU32`; @returns where. */
  reserveU32(): number {
    if (this.length + 5 > this.buf.length) this.reserve(5)
    const at = this.length
    this.length += 5
    return at
  }

  /** Writes `value` as a 5-byte (padded) LEB128 at `at`, which `reserveU32` returned. */
  patchU32(at: number, value: number): void {
    const buf = this.buf
    for (let i = 0; i < 4; i++) { buf[at + i] = (value & 0x7f) | 0x80; value >>>= 7 }
    buf[at + 4] = value & 0x7f
  }

  /** A section or body: its byte length as u32, then its bytes. */
  sized(content: Writer | Uint8Array): void {
    const data = content instanceof Writer ? content.result() : content
    this.u32(data.length)
    this.copy(data, 0, data.length)
  }

  /** A view of what was written (no copy). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.length)
  }

  /** Forgets the contents, keeping the capacity. */
  clear(): void {
    this.length = 0
  }
}
