import { Fd, wasi } from '@bjorn3/browser_wasi_shim'

/** The most bytes kept per output stream; the rest is counted and dropped. */
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024

/** stdout/stderr: collects what the guest writes (up to {@link MAX_OUTPUT_BYTES}). */
export class OutputCapture extends Fd {
  private chunks: Uint8Array[] = []
  length = 0
  dropped = 0

  override fd_write(data: Uint8Array): { ret: number; nwritten: number } {
    const room = MAX_OUTPUT_BYTES - this.length
    const kept = data.length <= room ? data : data.subarray(0, Math.max(0, room))
    if (kept.length) this.chunks.push(kept.slice())
    this.length += kept.length
    this.dropped += data.length - kept.length
    return { ret: 0, nwritten: data.length }
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: new wasi.Fdstat(wasi.FILETYPE_CHARACTER_DEVICE, 0) }
  }

  /** Everything written so far, in one buffer. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length)
    let at = 0
    for (const chunk of this.chunks) { out.set(chunk, at); at += chunk.length }
    return out
  }
}
