import type { Reader } from './reader.js'
import { skipValueType } from './immediates.js'

/**
 * Constant expressions (global initialisers, element and data segment offsets, element
 * items), read for what they refer to: the functions their `ref.func`s name and the globals
 * their `global.get`s read. Unknown instructions throw (GC constants are not metered anyway).
 */
export interface ConstRefs {
  func?(index: number): void
  global?(index: number, at: number): void
}

/** One constant expression, up to and including its `end`. */
export function readConstExpr(s: Reader, refs: ConstRefs): void {
  for (;;) {
    const at = s.pos
    const op = s.byte()
    switch (op) {
      case 0x0b: return
      case 0x41: case 0x42: s.skipLeb(); break // i32/i64.const
      case 0x43: s.skip(4); break
      case 0x44: s.skip(8); break
      case 0xd0: s.s33(); break // ref.null heaptype
      case 0xd2: { const index = s.u32(); refs.func?.(index); break } // ref.func (read first: `?.()` skips its arguments)
      case 0x23: { const index = s.u32(); refs.global?.(index, at); break } // global.get
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break // extended constants
      case 0xfd: if (s.u32() !== 12) s.fail('unsupported constant instruction', at); s.skip(16); break // v128.const
      default: s.fail(`unsupported constant instruction 0x${op.toString(16)}`, at)
    }
  }
}

/** One element segment: its offset (active ones) and the functions it names. */
export function readElementSegment(s: Reader, refs: ConstRefs): void {
  const flags = s.u32()
  if (flags > 7) s.fail(`unknown element segment flags ${flags}`)
  if (flags === 2 || flags === 6) s.u32() // table index
  if ((flags & 1) === 0) readConstExpr(s, refs) // active: the offset
  const expressions = (flags & 4) !== 0
  if (flags & 3) { // an element kind (0x00) or a reference type
    if (expressions) skipValueType(s)
    else s.byte()
  }
  for (let n = s.u32(); n > 0; n--) {
    if (expressions) readConstExpr(s, refs)
    else { const index = s.u32(); refs.func?.(index) }
  }
}

/** One data segment's offset (active ones), skipping its bytes. */
export function readDataSegment(s: Reader, refs: ConstRefs): void {
  const flags = s.u32()
  if (flags > 2) s.fail(`unknown data segment flags ${flags}`)
  if (flags === 2) s.u32() // memory index
  if (flags !== 1) readConstExpr(s, refs)
  s.skip(s.u32())
}
