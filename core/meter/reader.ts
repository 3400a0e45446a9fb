import { SandboxError } from '../errors/index.js'
import { decodeUtf8 } from '../text/index.js'

/**
 * A cursor over a wasm binary: `pos` moves forward as values are read. No DataView and no
 * allocation per value; every read is bounds-checked and fails with `INVALID_MODULE`
 * carrying the byte offset.
 */
export class Reader {
  pos: number

  constructor(readonly bytes: Uint8Array, start = 0, public end = bytes.length) {
    this.pos = start
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  fail(message: string, offset = this.pos): never {
    throw new SandboxError('INVALID_MODULE', `invalid module: ${message} at byte offset ${offset}`, {
      offset,
    })
  }

  byte(): number {
    if (this.pos >= this.end) this.fail('unexpected end')
    return this.bytes[this.pos++]!
  }

  /** Unsigned LEB128 up to 32 bits. */
  u32(): number {
    const pos = this.pos
    const first = this.bytes[pos]!
    if (first < 0x80 && pos < this.end) { // one byte: most indices and counts
      this.pos = pos + 1
      return first
    }
    return this.u32Long()
  }

  private u32Long(): number {
    // Shifts and adds, no `**`: this runs for every multi-byte index, offset and constant.
    const { bytes, end } = this
    let pos = this.pos
    let result = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) { this.pos = pos; this.fail('unexpected end') }
      const b = bytes[pos++]!
      result += shift < 28 ? (b & 0x7f) << shift : (b & 0x7f) * 0x10000000
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) this.fail('LEB128 integer too large')
        this.pos = pos
        return result
      }
    }
    this.pos = pos
    return this.fail('LEB128 integer too long')
  }

  /** An unsigned LEB128 of up to 64 bits as a number (exact below 2^53): memory and table limits. */
  u64Number(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.byte()
      result += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return result
      scale *= 128
    }
    return this.fail('LEB128 integer too long')
  }

  /** Skips a LEB128 of any width (signed or unsigned) without decoding it. */
  skipLeb(maxBytes = 10): void {
    const { bytes, end } = this
    for (let i = 0, p = this.pos; i < maxBytes && p < end; i++, p++) {
      if ((bytes[p]! & 0x80) === 0) {
        this.pos = p + 1
        return
      }
    }
    this.fail(this.pos + maxBytes <= end ? 'LEB128 integer too long' : 'unexpected end')
  }

  /** Signed LEB128 up to 33 bits (block types, heap types), as a number. */
  s33(): number {
    const pos = this.pos
    const first = this.bytes[pos]!
    if (first < 0x80 && pos < this.end) { // one byte: block types and heap types
      this.pos = pos + 1
      return first & 0x40 ? first - 0x80 : first
    }
    let result = 0
    let shift = 0
    let b: number
    do {
      b = this.byte()
      result += (b & 0x7f) * 2 ** shift
      shift += 7
      if (shift > 35 && (b & 0x80) !== 0) this.fail('LEB128 integer too long')
    } while (b & 0x80)
    if (b & 0x40) result -= 2 ** shift
    return result
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) this.fail('unexpected end')
    this.pos += n
  }

  /** A UTF-8 name (length-prefixed). */
  name(): string {
    const len = this.u32()
    const start = this.pos
    this.skip(len)
    // Short ASCII names (most of a name section's) are built here: a TextDecoder call costs
    // more than the name, and debug builds name tens of thousands of functions.
    if (len <= 32) {
      let name = ''
      for (let i = start; i < start + len; i++) {
        const b = this.bytes[i]!
        if (b >= 0x80) return decodeUtf8(this.bytes.subarray(start, start + len))
        name += String.fromCharCode(b)
      }
      return name
    }
    return decodeUtf8(this.bytes.subarray(start, start + len))
  }
}
