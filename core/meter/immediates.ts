import type { Reader } from './reader.js'

/**
 * Skipping the immediates of instructions the rewriter does not need to understand. Control
 * instructions are decoded by the function rewriter itself; everything here only moves the
 * cursor past its operands.
 */

/** A value type: one byte, or a reference type `(ref null? ht)` with a heap type. */
export function skipValueType(r: Reader): void {
  const b = r.byte()
  if (b === 0x63 || b === 0x64) r.s33()
}

/** A block type: empty (0x40), a value type, or a type index (s33). */
export function skipBlockType(r: Reader): void {
  const v = r.s33()
  if (v === -29 || v === -28) r.s33() // 0x63 / 0x64: (ref null? heaptype)
}

/** memarg: alignment (bit 6 flags an explicit memory index) and offset. */
export function skipMemarg(r: Reader): void {
  const align = r.u32()
  if (align & 0x40) r.u32()
  r.skipLeb()
}

/** 0xFC prefix: saturating truncation, bulk memory and table instructions. */
export function skipFcImmediates(r: Reader, sub: number): void {
  if (sub <= 7) return // trunc_sat
  switch (sub) {
    case 8: // memory.init data mem
    case 10: // memory.copy mem mem
    case 12: // table.init elem table
    case 14: // table.copy table table
      r.u32(); r.u32(); return
    case 9: case 11: case 13: case 15: case 16: case 17:
      r.u32(); return
    default:
      r.fail(`unknown instruction 0xfc ${sub}`, r.pos - 1)
  }
}

/** 0xFD prefix: SIMD (and relaxed SIMD, which has no immediates). */
export function skipFdImmediates(r: Reader, sub: number): void {
  if (sub <= 11 || sub === 92 || sub === 93) return skipMemarg(r) // loads, stores, load_zero
  if (sub === 12 || sub === 13) return r.skip(16) // v128.const, i8x16.shuffle
  if (sub >= 21 && sub <= 34) return r.skip(1) // extract/replace lane
  if (sub >= 84 && sub <= 91) { skipMemarg(r); r.skip(1); return } // load/store lane
  if (sub > 0x113) r.fail(`unknown instruction 0xfd ${sub}`, r.pos - 1)
}

/** 0xFE prefix: threads and atomics. */
export function skipFeImmediates(r: Reader, sub: number): void {
  if (sub === 3) { r.skip(1); return } // atomic.fence 0x00
  if (sub > 0x4e) r.fail(`unknown instruction 0xfe ${sub}`, r.pos - 1)
  skipMemarg(r)
}
