/**
 * The meter's safety invariants over thousands of seeded mutants of the fixtures and of
 * generated programs:
 *  (a) a mutant the engine does not validate is refused by meter() with INVALID_MODULE;
 *  (b) a mutant that validates is metered into a module that validates and behaves the same;
 *  (c) the fuel a call reports is always within [0, limit].
 * Mutations include the classic bypass: bumping a local/global/call index by a few, so that
 * in the original it is out of range and, were it copied unchecked, it would name the meter's
 * own fuel global or scratch locals.
 */
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { meter, SandboxError } from 'wasm-sandbox/core'
import { generateProgram } from './generate.js'
import { makeImports, type ImportInfo } from './harness.js'
import { FIXTURE_DIR, guestExports, outcome, prng, readFixture, wat, type Outcome } from './helpers.js'

const MUTANTS_PER_MODULE = Number(process.env.METER_MUTANTS ?? 100)
const BUDGET = 200_000n

async function corpus(): Promise<{ name: string; bytes: Uint8Array }[]> {
  const out: { name: string; bytes: Uint8Array }[] = []
  for (const f of readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.wat')).sort()) out.push({ name: f, bytes: await wat(readFixture(f), f) })
  for (let seed = 1; seed <= 50; seed++) out.push({ name: `generated-${seed}`, bytes: await wat(generateProgram(seed).wat) })
  return out
}

/** Opcodes whose first immediate is an index into locals, globals or functions. */
const INDEXED = new Set([0x20, 0x21, 0x22, 0x23, 0x24, 0x10, 0x12])

function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const m = bytes.slice()
  const kind = rand()
  if (kind < 0.4) {
    // An index a little past its range: the meter's state sits just after the module's own.
    const sites: number[] = []
    for (let i = 8; i < m.length - 1; i++) if (INDEXED.has(m[i]!) && m[i + 1]! < 0x7c) sites.push(i + 1)
    if (sites.length > 0) {
      const at = sites[Math.floor(rand() * sites.length)]!
      m[at] = m[at]! + 1 + Math.floor(rand() * 4)
      return m
    }
  }
  const flips = 1 + Math.floor(rand() * 3)
  for (let k = 0; k < flips; k++) {
    const at = 8 + Math.floor(rand() * (m.length - 8))
    m[at] = rand() < 0.5 ? Math.floor(rand() * 256) : m[at]! ^ (1 << Math.floor(rand() * 8))
  }
  return m
}

const ZERO: Record<string, unknown> = { i32: 1, i64: 1n, f32: 1, f64: 1, externref: null, funcref: null }

/** Calls every export once with small arguments; metered runs are bounded by BUDGET. */
function runAll(bytes: Uint8Array, imports: ImportInfo[], signatures: Map<string, string[]>, metered: ReturnType<typeof meter> | null):
  { outcomes: Outcome[]; used: bigint[]; exhausted: boolean } {
  const res = { outcomes: [] as Outcome[], used: [] as bigint[], exhausted: false }
  let object: WebAssembly.Imports
  try {
    object = makeImports(imports, []).object
  } catch { // a mutated import name the harness cannot provide: nothing to run
    res.exhausted = true
    return res
  }
  let instance: WebAssembly.Instance | null = null
  res.outcomes.push(outcome(() => { instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), object) }))
  if (!instance) return res
  const inst: WebAssembly.Instance = instance
  const ctl = metered?.fuel(inst)
  for (const [name, fn] of guestExports(inst)) {
    if (typeof fn !== 'function') continue
    ctl?.set(BUDGET)
    res.outcomes.push(outcome(() => (fn as (...a: unknown[]) => unknown)(...(signatures.get(name) ?? []).map((t) => ZERO[t]))))
    if (ctl) {
      res.used.push(ctl.used())
      if (ctl.exhausted() || ctl.stackExceeded()) res.exhausted = true
    }
  }
  return res
}

describe('meter invariants over mutated modules', () => {
  it('invalid -> INVALID_MODULE; valid -> valid and the same behaviour; fuel used within [0, limit]', async () => {
    const rand = prng(16)
    const stats = { mutants: 0, invalid: 0, valid: 0, compared: 0, indexBumps: 0 }
    for (const { name, bytes } of await corpus()) {
      for (let i = 0; i < MUTANTS_PER_MODULE; i++) {
        const mutant = mutate(bytes, rand)
        stats.mutants++
        const where = `${name} mutant ${i}`
        if (!WebAssembly.validate(mutant)) {
          stats.invalid++
          let thrown: unknown = null
          try { meter(mutant, { fuel: BUDGET, stackDepth: 500 }) } catch (e) { thrown = e }
          expect(thrown, `${where}: meter() accepted a module the engine rejects`).toBeInstanceOf(SandboxError)
          expect((thrown as SandboxError).code, where).toBe('INVALID_MODULE')
          continue
        }
        stats.valid++
        const metered = meter(mutant, { fuel: BUDGET, stackDepth: 500 })
        expect(WebAssembly.validate(metered.bytes), `${where}: metered output does not validate`).toBe(true)
        const signatures = new Map(metered.info.exports.map((e) => [e.name, e.params as string[]]))
        const imports = metered.info.imports as ImportInfo[]
        const after = runAll(metered.bytes, imports, signatures, metered)
        for (const used of after.used) {
          expect(used >= 0n && used <= BUDGET, `${where}: fuel used ${used}`).toBe(true)
        }
        // Behaviour is comparable only when the metered run finished within its budget (the
        // original has none: a mutant may loop for ever).
        if (after.exhausted || after.outcomes.some((o) => 'trap' in o && /unreachable/.test(o.trap.message))) continue
        const before = runAll(mutant, imports, signatures, null)
        expect(after.outcomes, where).toEqual(before.outcomes)
        stats.compared++
      }
    }
    console.log(`meter invariants: ${stats.mutants} mutants, ${stats.invalid} invalid (all refused), ${stats.valid} valid (all metered valid), ${stats.compared} run side by side`)
    expect(stats.mutants).toBeGreaterThanOrEqual(2000)
    expect(stats.invalid).toBeGreaterThan(500)
    expect(stats.valid).toBeGreaterThan(200)
  }, 300_000)
})
