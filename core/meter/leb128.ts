/**
 * LEB128 encoders. Decoding lives in the {@link Reader} cursor, where it reads straight from
 * the input without allocating.
 */

/** Appends unsigned LEB128 of a non-negative integer below 2^53 to `out`. */
export function writeUnsigned(out: number[], value: number): void {
  do {
    let byte = value % 128
    value = Math.floor(value / 128)
    if (value !== 0) byte |= 0x80
    out.push(byte)
  } while (value !== 0)
}

/** Appends signed LEB128 of an integer to `out` (bigint for i64 immediates). */
export function writeSigned(out: number[], value: number | bigint): void {
  let v = BigInt(value)
  for (;;) {
    const byte = Number(v & 0x7fn)
    v >>= 7n
    const signBitSet = (byte & 0x40) !== 0
    if ((v === 0n && !signBitSet) || (v === -1n && signBitSet)) {
      out.push(byte)
      return
    }
    out.push(byte | 0x80)
  }
}
