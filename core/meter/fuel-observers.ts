/**
 * Where the fuel global must be up to date. A function charges a local copy of the counter
 * and stores it to the global only before an instruction after which something else may
 * read the global (see `injection.ts`):
 *
 * - in both modes, whatever leaves the frame with the count still needed: calls (the callee
 *   charges the global; a host function may end the call), `return`, tail calls, branches to
 *   the function's own label, the end of the body, and throws;
 * - in exact mode also every instruction that can trap, so that the fuel a trapped call
 *   reports is exactly what it was charged: memory and table accesses, integer division,
 *   float-to-int truncation, `unreachable`, `ref.as_non_null`, bulk and atomic operations.
 *
 * Fast mode leaves traps out: a trapped call is charged its whole budget instead (see
 * `MeterControl.noteTrap`), so no trap can hide work, and loops that touch memory do not
 * store the counter on every iteration.
 */

/** Single-byte opcodes before which the global is stored in both modes. */
const LEAVES_FRAME = [
  0x08, 0x09, 0x0a, // throw, rethrow, throw_ref
  0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, // return, call, call_indirect, return_call, return_call_indirect, call_ref, return_call_ref
]

/** Single-byte opcodes that can trap (prefixed ones: see `prefixedCanTrap`). */
const CAN_TRAP = [
  0x00, // unreachable
  0x25, 0x26, // table.get, table.set
  0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82, // i32/i64 div_s, div_u, rem_s, rem_u
  0xa8, 0xa9, 0xaa, 0xab, 0xae, 0xaf, 0xb0, 0xb1, // i32/i64.trunc_f32/f64_s/u
  0xd4, // ref.as_non_null
]

function table(ops: number[], ranges: [number, number][] = []): Uint8Array {
  const t = new Uint8Array(256)
  for (const op of ops) t[op] = 1
  for (const [from, to] of ranges) t.fill(1, from, to + 1)
  return t
}

/** 1 where the global is stored before the opcode, in exact mode (loads and stores 0x28-0x3e can trap). */
export const STORE_BEFORE_EXACT = table([...LEAVES_FRAME, ...CAN_TRAP], [[0x28, 0x3e]])
/** The same in fast mode: only what leaves the frame. */
export const STORE_BEFORE_FAST = table(LEAVES_FRAME)

/**
 * Whether a prefixed instruction can trap: bulk memory and table operations (0xfc 8-17:
 * conservatively all of them), SIMD loads and stores (0xfd with a memory operand), and every
 * atomic (0xfe). Saturating truncations (0xfc 0-7) and other SIMD cannot.
 */
export function prefixedCanTrap(prefix: number, sub: number): boolean {
  if (prefix === 0xfc) return sub >= 8
  if (prefix === 0xfd) return sub <= 11 || (sub >= 84 && sub <= 93)
  return prefix === 0xfe
}
