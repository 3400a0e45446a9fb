/**
 * The cost model: what each instruction costs in fuel. Kept apart from the injection
 * mechanism (`function-rewriter.ts`) so the table can change without touching the rewrite.
 *
 * - Every instruction costs 1, except the delimiters `end`, `else`, `catch`, `catch_all` and
 *   `delegate`, which mark structure and cost 0.
 * - Work proportional to an operand is charged on top, at run time, from that operand:
 *   bulk memory (`memory.copy/fill/init`) 1 per 64 bytes, bulk table (`table.copy/fill/init/
 *   grow`) 1 per element, and `memory.grow` 1024 per page (a page is 64 KiB: the same 1 per
 *   64 bytes, for the zeroing the engine does).
 *
 * The count is a property of the module and its inputs only, so it is the same in every
 * engine and on every run.
 */

/** Opcodes of delimiters that cost nothing. */
const DELIMITERS = [0x05 /* else */, 0x07 /* catch */, 0x0b /* end */, 0x18 /* delegate */, 0x19 /* catch_all */]

/** Static cost of each single-byte opcode (prefixed instructions cost 1 plus any dynamic part). */
export const STATIC_COST: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(1)
  for (const op of DELIMITERS) table[op] = 0
  return table
})()

/** How a dynamic charge scales its operand: `fuel = operand << shift` or `operand >> -shift`. */
export const DYNAMIC_SHIFT = {
  /** bulk memory: 1 fuel per 64 bytes */
  memoryBytes: -6,
  /** bulk table: 1 fuel per element */
  tableElements: 0,
  /** memory.grow: 1024 fuel per 64 KiB page */
  memoryPages: 10,
} as const

export type DynamicCharge = keyof typeof DYNAMIC_SHIFT
