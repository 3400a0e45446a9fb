import { writeSigned, writeUnsigned } from './leb128.js'
import { DYNAMIC_SHIFT, type DynamicCharge } from './cost-rules.js'

/**
 * The injection mechanism: the instruction sequences the rewriter inserts. Fuel lives in a
 * mutable i64 global counting down; a charge subtracts and traps (`unreachable`) once the
 * count goes negative, so the host tells fuel exhaustion from a guest `unreachable` by
 * reading the counter. Every sequence is stack-neutral, so it is valid anywhere, including
 * unreachable code.
 */
export interface InjectionGlobals {
  /** i64: fuel remaining (negative once exhausted) */
  fuel: number
  /** i32: current wasm call depth, or -1 when depth is not limited */
  depth: number
  /** i64: total pages asked for by the last memory.grow that failed */
  growDenied: number
  /** i64: total elements asked for by the last table.grow that failed */
  tableGrowDenied: number
}

/** Per-function scratch locals (i32), allocated past the function's own locals. */
export interface ScratchLocals {
  operand: number
  result: number
  savedDepth: number
}

const TRAP_IF_NEGATIVE = [0x42, 0x00, 0x53 /* i64.lt_s */, 0x04, 0x40, 0x00 /* unreachable */, 0x0b]

/** `fuel -= cost; if (fuel < 0) unreachable` */
export function staticCharge(out: number[], g: InjectionGlobals, cost: number): void {
  out.push(0x23); writeUnsigned(out, g.fuel)
  out.push(0x42); writeSigned(out, cost)
  out.push(0x7d) // i64.sub
  out.push(0x24); writeUnsigned(out, g.fuel)
  out.push(0x23); writeUnsigned(out, g.fuel)
  out.push(...TRAP_IF_NEGATIVE)
}

/** Charges from the i32 operand on top of the stack, leaving it there. */
export function dynamicCharge(out: number[], g: InjectionGlobals, l: ScratchLocals, kind: DynamicCharge): void {
  const shift = DYNAMIC_SHIFT[kind]
  out.push(0x22); writeUnsigned(out, l.operand) // local.tee
  out.push(0x23); writeUnsigned(out, g.fuel)
  out.push(0x20); writeUnsigned(out, l.operand)
  out.push(0xad) // i64.extend_i32_u
  if (shift > 0) { out.push(0x42); writeSigned(out, shift); out.push(0x86) } // i64.shl
  if (shift < 0) { out.push(0x42); writeSigned(out, -shift); out.push(0x88) } // i64.shr_u
  out.push(0x7d)
  out.push(0x24); writeUnsigned(out, g.fuel)
  out.push(0x23); writeUnsigned(out, g.fuel)
  out.push(...TRAP_IF_NEGATIVE)
}

/**
 * After `memory.grow m` / `table.grow t` (operand saved by `dynamicCharge`): when the grow
 * returned -1, records the total size asked for, so a later trap can be reported as the
 * limit it really was.
 */
export function recordDeniedGrow(out: number[], g: InjectionGlobals, l: ScratchLocals, target: 'memory' | 'table', index: number): void {
  out.push(0x22); writeUnsigned(out, l.result) // local.tee result
  out.push(0x41, 0x7f, 0x46) // i32.const -1; i32.eq
  out.push(0x04, 0x40)
  if (target === 'memory') out.push(0x3f) // memory.size m
  else out.push(0xfc, 16) // table.size t
  writeUnsigned(out, index)
  out.push(0xad)
  out.push(0x20); writeUnsigned(out, l.operand)
  out.push(0xad, 0x7c) // i64.extend_i32_u; i64.add
  out.push(0x24); writeUnsigned(out, target === 'memory' ? g.growDenied : g.tableGrowDenied)
  out.push(0x0b)
  out.push(0x20); writeUnsigned(out, l.result)
}

/** Function entry: `depth += 1; if (depth > limit) unreachable`, remembering the new depth. */
export function enterFrame(out: number[], g: InjectionGlobals, l: ScratchLocals, limit: number): void {
  out.push(0x23); writeUnsigned(out, g.depth)
  out.push(0x41, 0x01, 0x6a) // i32.const 1; i32.add
  out.push(0x22); writeUnsigned(out, l.savedDepth)
  out.push(0x24); writeUnsigned(out, g.depth)
  out.push(0x20); writeUnsigned(out, l.savedDepth)
  out.push(0x41); writeSigned(out, limit)
  out.push(0x4b, 0x04, 0x40, 0x00, 0x0b) // i32.gt_u; if unreachable end
}

/** Function exit (fallthrough, `return`, before a tail call): `depth = saved - 1`. */
export function leaveFrame(out: number[], g: InjectionGlobals, l: ScratchLocals): void {
  out.push(0x20); writeUnsigned(out, l.savedDepth)
  out.push(0x41, 0x01, 0x6b) // i32.const 1; i32.sub
  out.push(0x24); writeUnsigned(out, g.depth)
}

/** Entering an exception handler: the frames the exception unwound are gone. */
export function restoreFrame(out: number[], g: InjectionGlobals, l: ScratchLocals): void {
  out.push(0x20); writeUnsigned(out, l.savedDepth)
  out.push(0x24); writeUnsigned(out, g.depth)
}
