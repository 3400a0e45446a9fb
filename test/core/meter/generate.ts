/**
 * A seeded generator of random, valid, terminating wat programs for differential testing of
 * the meter. Programs mix nested block/loop/if/else, br/br_if/br_table (also carrying
 * values), return, direct calls and call_indirect between functions, locals and globals,
 * memory loads/stores of every width, memory.fill/copy/grow, i32 and i64 arithmetic
 * including div/rem (which can trap), and `unreachable` in some branches.
 *
 * Some functions (never the first) are internal: not exported and not in the table, so the
 * meter passes the fuel counter to them as a parameter (core/meter/fuel-passing.ts); a
 * call_indirect to their empty table slot traps.
 *
 * Termination: calls only go to functions with a higher index (a DAG), and every loop is
 * guarded by its own counter local plus a global step budget (`steps`, set by the host
 * before each call) that every iteration decrements; a branch to a loop header passes the
 * guard, so no path loops forever.
 */
import { prng } from './helpers.js'

type T = 'i32' | 'i64'

export interface GeneratedFunction { name: string; params: T[]; result: T; internal: boolean }
export interface GeneratedProgram { seed: number; wat: string; functions: GeneratedFunction[] }

interface Label { name: string; result: T | null }
interface Local { name: string; type: T }

const BIN = ['add', 'sub', 'mul', 'and', 'or', 'xor', 'shl', 'shr_s', 'shr_u', 'rotl', 'rotr']
const DIV = ['div_s', 'div_u', 'rem_s', 'rem_u']
const CMP = ['eq', 'ne', 'lt_s', 'lt_u', 'gt_s', 'gt_u', 'le_s', 'le_u', 'ge_s', 'ge_u']
const LOADS: Record<T, string[]> = {
  i32: ['i32.load', 'i32.load8_s', 'i32.load8_u', 'i32.load16_s', 'i32.load16_u'],
  i64: ['i64.load', 'i64.load8_s', 'i64.load8_u', 'i64.load16_s', 'i64.load16_u', 'i64.load32_s', 'i64.load32_u'],
}
const STORES: Record<T, string[]> = {
  i32: ['i32.store', 'i32.store8', 'i32.store16'],
  i64: ['i64.store', 'i64.store8', 'i64.store16', 'i64.store32'],
}
const CONSTS: Record<T, string[]> = {
  i32: ['0', '1', '-1', '2', '3', '7', '31', '32', '255', '4096', '65535', '0x7fffffff', '-0x80000000', '0x12345678'],
  i64: ['0', '1', '-1', '2', '5', '63', '64', '0xffffffff', '0x100000000', '0x7fffffffffffffff', '-0x8000000000000000', '0x0123456789abcdef'],
}

export function generateProgram(seed: number): GeneratedProgram {
  const rand = prng(seed * 7919 + 17)
  const int = (n: number) => Math.floor(rand() * n)
  const chance = (p: number) => rand() < p
  const pick = <X>(xs: readonly X[]): X => xs[int(xs.length)]!
  const type = (): T => (chance(0.5) ? 'i32' : 'i64')

  const nfuncs = 2 + int(5)
  const functions: GeneratedFunction[] = []
  const internalRand = prng(seed * 31 + 5) // its own stream: the programs' code is what it was before internal functions
  for (let i = 0; i < nfuncs; i++) {
    const params: T[] = []
    for (let k = int(4); k > 0; k--) params.push(type())
    functions.push({ name: `f${i}`, params, result: type(), internal: i > 0 && internalRand() < 0.5 })
  }
  const globals: Local[] = [
    { name: '$g0', type: 'i32' }, { name: '$g1', type: 'i64' }, { name: '$g2', type: 'i32' }, { name: '$g3', type: 'i64' },
  ]

  let labelCounter = 0
  const fresh = (p: string) => `$${p}${labelCounter++}`

  function genFunction(index: number): string {
    const f = functions[index]!
    const locals: Local[] = f.params.map((t, i) => ({ name: `$p${i}`, type: t }))
    const extra: Local[] = []
    for (let k = int(4); k >= 0; k--) extra.push({ name: `$l${k}`, type: type() })
    locals.push(...extra)
    const counters: string[] = []
    const labels: Label[] = []
    let budget = 40 + int(80) // rough cap on generated nodes per function

    const localOf = (t: T): Local | undefined => {
      const c = locals.filter((l) => l.type === t)
      return c.length ? pick(c) : undefined
    }
    const callees = (t: T | null) => functions.map((g, j) => ({ g, j })).filter(({ g, j }) => j > index && (t === null || g.result === t))
    const addr = (): string => chance(0.93)
      ? `(i32.and ${expr('i32', 1)} (i32.const 0xfff0))`
      : expr('i32', 1) // may be out of bounds

    function expr(t: T, depth: number): string {
      budget--
      if (depth <= 0 || budget <= 0) return leaf(t)
      const d = depth - 1
      switch (int(17)) {
        case 0: case 1: return leaf(t)
        case 2: case 3: return `(${t}.${pick(BIN)} ${expr(t, d)} ${expr(t, d)})`
        case 4: {
          const op = pick(DIV)
          const den = chance(0.2) ? expr(t, d) : `(${t}.or ${expr(t, d)} (${t}.const 1))`
          return `(${t}.${op} ${expr(t, d)} ${den})`
        }
        case 5: {
          if (t === 'i64') {
            return chance(0.5)
              ? `(i64.extend_i32_${pick(['s', 'u'])} ${expr('i32', d)})`
              : `(i64.${pick(['clz', 'ctz', 'popcnt', 'extend8_s', 'extend16_s', 'extend32_s'])} ${expr('i64', d)})`
          }
          if (chance(0.3)) return `(i32.wrap_i64 ${expr('i64', d)})`
          if (chance(0.5)) { const u = type(); return `(${u}.eqz ${expr(u, d)})` }
          return `(i32.${pick(['clz', 'ctz', 'popcnt', 'extend8_s', 'extend16_s'])} ${expr('i32', d)})`
        }
        case 6: {
          if (t !== 'i32') return `(${t}.${pick(BIN)} ${expr(t, d)} ${leaf(t)})`
          const u = type()
          return `(${u}.${pick(CMP)} ${expr(u, d)} ${expr(u, d)})`
        }
        case 7: return `(${pick(LOADS[t])} offset=${pick([0, 1, 4, 8])} ${addr()})`
        case 8: case 9: {
          const c = callees(t)
          if (!c.length) return leaf(t)
          const { g, j } = pick(c)
          if (chance(0.3)) {
            // call_indirect: the index ranges over every later function (a different signature
            // traps), or sometimes past the end of the table (out of bounds); never backwards,
            // which could recurse without bound
            const lo = index + 1
            const idx = chance(0.1)
              ? `(i32.add (i32.const ${lo}) (i32.and ${expr('i32', 0)} (i32.const 0xff)))`
              : `(i32.add (i32.const ${lo}) (i32.rem_u ${expr('i32', 0)} (i32.const ${nfuncs - lo})))`
            const sig = `${g.params.map((p) => `(param ${p})`).join(' ')} (result ${g.result})`
            return `(call_indirect ${sig} ${g.params.map((p) => expr(p, d)).join(' ')} ${idx})`
          }
          return `(call $f${j} ${g.params.map((p) => expr(p, d)).join(' ')})`
        }
        case 10: return `(select ${expr(t, d)} ${expr(t, d)} ${expr('i32', d)})`
        case 11: {
          const l = localOf(t)
          return l ? `(local.tee ${l.name} ${expr(t, d)})` : leaf(t)
        }
        case 12: {
          // a block with a result, left early by a value-carrying br_if
          const lbl: Label = { name: fresh('v'), result: t }
          labels.push(lbl)
          const s1 = stmts(d, 2)
          const early = `(drop (br_if ${lbl.name} ${expr(t, d)} ${expr('i32', d)}))`
          const s2 = stmts(d, 2)
          const last = expr(t, d)
          labels.pop()
          return `(block ${lbl.name} (result ${t}) ${s1} ${early} ${s2} ${last})`
        }
        case 13: {
          const cond = expr('i32', d)
          const a = `${stmts(d, 2)} ${expr(t, d)}`
          const b = `${stmts(d, 2)} ${expr(t, d)}`
          return `(if (result ${t}) ${cond} (then ${a}) (else ${b}))`
        }
        case 14: {
          if (t !== 'i32') return leaf(t)
          return chance(0.5) ? '(memory.size)' : `(memory.grow (i32.and ${expr('i32', d)} (i32.const 1)))`
        }
        case 15: {
          // a value-carrying br_table out of two nested blocks of the same result type
          const a: Label = { name: fresh('t'), result: t }, b: Label = { name: fresh('t'), result: t }
          labels.push(a, b)
          const inner = `(br_table ${b.name} ${a.name} ${b.name} ${a.name} ${expr(t, d)} ${expr('i32', d)})`
          labels.pop(); labels.pop()
          return `(${t}.add (block ${a.name} (result ${t}) (${t}.mul (block ${b.name} (result ${t}) ${inner}) (${t}.const 3))) (${t}.const 1))`
        }
        default: return `(${t}.${pick(BIN)} ${leaf(t)} ${expr(t, d)})`
      }
    }

    function leaf(t: T): string {
      const r = int(6)
      if (r <= 1) return `(${t}.const ${pick(CONSTS[t])})`
      if (r <= 3) { const l = localOf(t); if (l) return `(local.get ${l.name})` }
      if (r === 4) return `(global.get ${pick(globals.filter((g) => g.type === t)).name})`
      return `(${t}.const ${int(100) - 20})`
    }

    function stmts(depth: number, max: number): string {
      const n = int(max + 1)
      const out: string[] = []
      for (let i = 0; i < n; i++) out.push(stmt(depth))
      return out.join(' ')
    }

    function stmt(depth: number): string {
      budget--
      const d = Math.max(0, depth - 1)
      if (budget <= 0 || depth <= 0) {
        const l = pick(locals)
        return `(local.set ${l.name} ${leaf(l.type)})`
      }
      const stmtLabels = labels.filter((l) => l.result === null)
      switch (int(16)) {
        case 0: case 1: { const l = pick(locals); return `(local.set ${l.name} ${expr(l.type, d + 1)})` }
        case 2: { const g = pick(globals); return `(global.set ${g.name} ${expr(g.type, d + 1)})` }
        case 3: { const t = type(); return `(${pick(STORES[t])} offset=${pick([0, 2, 8])} ${addr()} ${expr(t, d)})` }
        case 4: { const t = type(); return `(drop ${expr(t, d + 1)})` }
        case 5: {
          const cond = expr('i32', d)
          const a = stmts(d, 3)
          return `(if ${cond} (then ${a})${chance(0.5) ? ` (else ${stmts(d, 3)})` : ''})`
        }
        case 6: case 7: {
          const lbl: Label = { name: fresh('b'), result: null }
          labels.push(lbl)
          const s1 = stmts(d, 2)
          const exit = `(br_if ${lbl.name} ${expr('i32', d)})`
          const s2 = stmts(d, 3)
          labels.pop()
          return `(block ${lbl.name} ${s1} ${exit} ${s2})`
        }
        case 8: case 9: {
          if (counters.length >= 6) return stmt(0)
          const c = `$c${counters.length}`
          counters.push(c)
          const b: Label = { name: fresh('B'), result: null }
          const l: Label = { name: fresh('L'), result: null }
          labels.push(b, l)
          const body = stmts(d, 4)
          labels.pop(); labels.pop()
          return `(local.set ${c} (i32.const ${int(7)})) (block ${b.name} (loop ${l.name} ` +
            `(br_if ${b.name} (i32.or (i32.eqz (local.get ${c})) (i32.le_s (global.get $steps) (i32.const 0)))) ` +
            `(local.set ${c} (i32.sub (local.get ${c}) (i32.const 1))) ` +
            `(global.set $steps (i32.sub (global.get $steps) (i32.const 1))) ${body} (br ${l.name})))`
        }
        case 10: {
          if (!stmtLabels.length) return stmt(d)
          const target = pick(stmtLabels)
          return chance(0.6) ? `(br_if ${target.name} ${expr('i32', d)})` : `(if ${expr('i32', d)} (then (br ${target.name})))`
        }
        case 11: {
          // br_table over several enclosing statement labels (loops included: they pass their guard)
          const a: Label = { name: fresh('s'), result: null }
          const b: Label = { name: fresh('s'), result: null }
          const targets = [a, b, ...stmtLabels]
          const list = Array.from({ length: 1 + int(6) }, () => pick(targets).name)
          labels.push(a, b)
          const inner = `(block ${b.name} ${stmts(d, 2)} (br_table ${list.join(' ')} ${pick(targets).name} ${expr('i32', d)}))`
          labels.pop()
          const middle = stmts(d, 2)
          labels.pop()
          return `(block ${a.name} ${inner} ${middle}) ${stmts(d, 1)}`
        }
        case 12: {
          const cond = expr('i32', d)
          return chance(0.5)
            ? `(if ${cond} (then (return ${expr(f.result, d)})))`
            : `(if (i32.eq ${cond} (i32.const ${int(4)})) (then (unreachable)))`
        }
        case 13: {
          const c = callees(null)
          if (!c.length) return stmt(d)
          const { g, j } = pick(c)
          return `(drop (call $f${j} ${g.params.map((p) => expr(p, d)).join(' ')}))`
        }
        case 14: {
          const n = chance(0.9) ? `(i32.and ${expr('i32', d)} (i32.const 0x3ff))` : expr('i32', d)
          return chance(0.5)
            ? `(memory.fill ${addr()} ${expr('i32', d)} ${n})`
            : `(memory.copy ${addr()} ${addr()} ${n})`
        }
        default: { const l = pick(locals); return `(local.set ${l.name} ${expr(l.type, d)})` }
      }
    }

    const body = `${stmts(3, 4)} ${expr(f.result, 3)}`
    const params = f.params.map((t, i) => `(param $p${i} ${t})`).join(' ')
    const decl = [...extra.map((l) => `(local ${l.name} ${l.type})`), ...counters.map((c) => `(local ${c} i32)`)].join(' ')
    return `  (func $${f.name} ${f.internal ? '' : `(export "${f.name}")`} ${params} (result ${f.result}) ${decl}\n    ${body})\n`
  }

  let text = `(module\n  (memory (export "mem") 1 2)\n  (global $steps (export "steps") (mut i32) (i32.const 0))\n`
  for (const g of globals) text += `  (global ${g.name} (mut ${g.type}) (${g.type}.const ${int(1000) - 500}))\n`
  text += `  (table ${nfuncs} funcref)\n`
  functions.forEach((f, i) => { if (!f.internal) text += `  (elem (i32.const ${i}) $${f.name})\n` })
  text += `  (data (i32.const 0) "${Array.from({ length: 64 }, () => `\\${int(256).toString(16).padStart(2, '0')}`).join('')}")\n`
  for (let i = 0; i < nfuncs; i++) text += genFunction(i)
  text += ')\n'
  return { seed, wat: text, functions }
}
