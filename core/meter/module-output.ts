import { Writer } from './writer.js'

/** Runs at least this long are kept as views rather than copied into a writer. */
const VIEW_FROM = 4096

/**
 * The metered module, as pieces concatenated once at the end: what the meter writes goes
 * through small writers, and long runs (sections copied as they are, the rewritten code
 * section) are kept as views. So each byte of the result is copied once, into a buffer of
 * the exact size, and nothing is allocated for a worst case.
 */
export class ModuleOutput {
  private readonly pieces: Uint8Array[] = []
  private placed = 0
  private writer = new Writer(4096)

  /** Bytes so far. */
  get length(): number {
    return this.placed + this.writer.length
  }

  byte(b: number): void {
    this.writer.byte(b)
  }

  u32(value: number): void {
    this.writer.u32(value)
  }

  /** Appends `source[start, end)`, which must not change before `finish`. */
  copy(source: Uint8Array, start: number, end: number): void {
    if (end - start < VIEW_FROM) this.writer.copy(source, start, end)
    else this.append(source.subarray(start, end))
  }

  /** Appends a piece as it is (no copy): it must not change before `finish`. */
  append(piece: Uint8Array): void {
    this.endWriter()
    this.pieces.push(piece)
    this.placed += piece.length
  }

  /** A section or body: its byte length as u32, then its bytes. */
  sized(content: Writer): void {
    this.u32(content.length)
    this.copy(content.result(), 0, content.length)
  }

  /** @returns the module, in a buffer of its own of the exact size */
  finish(): Uint8Array {
    this.endWriter()
    const result = new Uint8Array(this.placed)
    let at = 0
    for (const piece of this.pieces) {
      result.set(piece, at)
      at += piece.length
    }
    return result
  }

  private endWriter(): void {
    if (this.writer.length === 0) return
    this.pieces.push(this.writer.result())
    this.placed += this.writer.length
    this.writer = new Writer(4096)
  }
}
