/**
 * Random programs (test/core/meter/generate.ts, seeded) run unmetered and metered. For every
 * call: same result or same trap; the same fuel on a second fresh instance and with call
 * depth counting on; a budget of exactly the fuel used completes with the same outcome, and
 * one unit less runs out (exhausted() true, trap 'unreachable'). With `metering: 'fast'`: the
 * same outcomes, the same fuel for every call that returns, the whole budget for one that traps.
 */
import { describe, expect, it } from 'vitest'
import { meter, type MeterResult } from 'wasm-sandbox/core'
import { generateProgram, type GeneratedProgram } from './generate.js'
import { ARGS, hashBytes, MAX_FUEL, outcome, prng, wat, type Outcome } from './helpers.js'

// METER_GEN_PROGRAMS raises the count for a longer exploratory run; the default is what CI runs.
const PROGRAMS = Number(process.env.METER_GEN_PROGRAMS ?? 320)
const STEPS = 300 // loop iterations a call may run (the generated programs' own guard)
const CALLS_PER_FUNCTION = 3

interface Call { fn: string; args: (number | bigint)[] }
interface Run { outcomes: Outcome[]; used: bigint[]; exhausted: boolean[]; memory: string }

function plan(p: GeneratedProgram): Call[] {
  const rand = prng(p.seed ^ 0x5eed)
  const calls: Call[] = []
  for (let k = 0; k < CALLS_PER_FUNCTION; k++) {
    for (const f of p.functions.filter((f) => !f.internal)) {
      calls.push({ fn: f.name, args: f.params.map((t) => ARGS[t]![Math.floor(rand() * ARGS[t]!.length)]!) })
    }
  }
  return calls
}

type Budget = (index: number) => bigint

/** Runs `calls` on a fresh instance; `budget(i)` is the fuel for call i (metered only). */
function run(module: WebAssembly.Module, m: MeterResult | null, calls: Call[], budget: Budget = () => MAX_FUEL, upTo = calls.length): Run {
  const instance = new WebAssembly.Instance(module, (m ? m.imports : {}) as WebAssembly.Imports)
  const ex = instance.exports as Record<string, unknown>
  const ctl = m ? m.fuel(instance) : null
  const res: Run = { outcomes: [], used: [], exhausted: [], memory: '' }
  for (let i = 0; i < upTo; i++) {
    const c = calls[i]!
    ;(ex.steps as WebAssembly.Global).value = STEPS
    ctl?.set(budget(i))
    res.outcomes.push(outcome(() => {
      try {
        return (ex[c.fn] as (...a: unknown[]) => unknown)(...c.args)
      } catch (error) {
        ctl?.noteTrap(error) // as the sandbox does
        throw error
      }
    }))
    if (ctl) { res.used.push(ctl.used()); res.exhausted.push(ctl.exhausted()) }
  }
  res.memory = hashBytes(new Uint8Array((ex.mem as WebAssembly.Memory).buffer))
  return res
}

const stats = { calls: 0, traps: 0, exhaustChecks: 0, fuel: 0n }

describe('generated programs: metered == unmetered, fuel exact and deterministic', () => {
  const seeds = Array.from({ length: PROGRAMS }, (_, i) => i + 1)
  // Programs are grouped so each test stays short; every seed is its own assertion context.
  const groups: number[][] = []
  for (let i = 0; i < seeds.length; i += 20) groups.push(seeds.slice(i, i + 20))

  it.each(groups.map((g) => [`${g[0]}..${g[g.length - 1]}`, g] as const))('seeds %s', async (_name, group) => {
    for (const seed of group) {
      const p = generateProgram(seed)
      const bytes = await wat(p.wat, `gen-${seed}.wat`)
      const ctx = `seed ${seed}`
      expect(WebAssembly.validate(bytes), ctx).toBe(true)
      const m = meter(bytes, { fuel: 'unlimited' })
      const md = meter(bytes, { fuel: 'unlimited', stackDepth: 64 })
      expect(WebAssembly.validate(m.bytes), ctx).toBe(true)
      expect(WebAssembly.validate(md.bytes), ctx).toBe(true)
      const original = new WebAssembly.Module(bytes as BufferSource)
      const metered = new WebAssembly.Module(m.bytes as BufferSource)
      const depthMetered = new WebAssembly.Module(md.bytes as BufferSource)
      const calls = plan(p)

      const ref = run(original, null, calls)
      const a = run(metered, m, calls)
      expect(a.outcomes, ctx).toEqual(ref.outcomes)
      expect(a.memory, ctx).toEqual(ref.memory)
      expect(a.exhausted.every((x) => !x), ctx).toBe(true)

      // the same fuel on a second fresh instance, and with depth counting switched on
      const b = run(metered, m, calls)
      expect(b.used, ctx).toEqual(a.used)
      const dd = run(depthMetered, md, calls)
      expect(dd.outcomes, ctx).toEqual(ref.outcomes)
      expect(dd.used, ctx).toEqual(a.used)

      // fast metering: exact when the call returns, the whole budget when it traps
      const mf = meter(bytes, { fuel: 'unlimited', metering: 'fast' })
      const fast = run(new WebAssembly.Module(mf.bytes as BufferSource), mf, calls)
      expect(fast.outcomes, ctx).toEqual(ref.outcomes)
      const wasmTrap = (o: Outcome) => 'trap' in o && o.trap.cls === 'RuntimeError'
      expect(fast.used, ctx).toEqual(a.used.map((u, i) => (wasmTrap(ref.outcomes[i]!) ? MAX_FUEL : u)))
      expect(fast.exhausted.every((x) => !x), ctx).toBe(true)

      // a budget of exactly what was used completes with the same outcome
      const exact = run(metered, m, calls, (i) => a.used[i]!)
      expect(exact.outcomes, ctx).toEqual(ref.outcomes)
      expect(exact.exhausted.every((x) => !x), ctx).toBe(true)
      expect(exact.used, ctx).toEqual(a.used)

      // one unit less runs out, whatever the call would have done
      for (let k = 0; k < calls.length; k++) {
        if (a.used[k]! === 0n) continue
        const short = run(metered, m, calls, (i) => (i === k ? a.used[i]! - 1n : a.used[i]!), k + 1)
        const last = short.outcomes[k]!
        expect(last, `${ctx} call ${k} (${calls[k]!.fn})`).toEqual({ trap: { cls: 'RuntimeError', message: 'unreachable' } })
        expect(short.exhausted[k], `${ctx} call ${k}`).toBe(true)
        expect(short.used[k], `${ctx} call ${k}`).toBe(a.used[k]! - 1n)
        stats.exhaustChecks++
      }
      stats.calls += calls.length
      stats.traps += ref.outcomes.filter((o) => 'trap' in o).length
      for (const u of a.used) stats.fuel += u
    }
  }, 60_000)

  it('covered a useful mix of outcomes', () => {
    // guard against a generator that degenerates into programs that all trap (or never do)
    expect(stats.calls).toBeGreaterThan(PROGRAMS * 3)
    expect(stats.traps).toBeGreaterThan(stats.calls * 0.03)
    expect(stats.traps).toBeLessThan(stats.calls * 0.7)
    expect(stats.exhaustChecks).toBe(stats.calls)
    console.log(`generated: ${PROGRAMS} programs, ${stats.calls} calls, ${stats.traps} traps, ${stats.exhaustChecks} exhaustion checks, ${stats.fuel} fuel`)
  })
})
