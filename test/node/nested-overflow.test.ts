/**
 * Red team (fuel passing): functions only called directly keep the fuel counter in a
 * parameter and store it only where it can be observed, so when the engine's stack runs out
 * the global is behind by what the unwound frames charged. At the top of a call that is
 * covered (an engine stack overflow charges the whole budget). Here the overflow happens in
 * a re-entrant `ctx.call` whose error the host function swallows: without the same rule there,
 * each such call would hide up to a budget's worth of work, and a loop of them any amount.
 */
import { describe, expect, it } from 'vitest'
import { Sandbox, SandboxError } from 'wasm-sandbox'

const SOURCE = `(module
  (import "host" "probe" (func $probe (result i32)))
  (func $down (param i32) (result i32) ;; internal: takes the counter as a parameter
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (local.get 0)))
  (func (export "deep") (result i32) (call $down (i32.const 0)))
  (func (export "run") (param i32) (result i32) (local i32)
    (loop $l
      (drop (call $probe))
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1)))`

const BUDGET = 50_000_000

describe.each(['worker', 'inline'] as const)('a stack overflow in ctx.call that the host function swallows (%s)', (isolation) => {
  it('still charges the whole budget: the call ends when the guest next charges', async () => {
    let swallowed = 0
    const probe = isolation === 'inline'
      ? (ctx: { call(fn: string): unknown }) => { try { ctx.call('deep') } catch { swallowed++ } return 0 }
      : async (ctx: { call(fn: string): Promise<unknown> }) => { try { await ctx.call('deep') } catch { swallowed++ } return 0 }
    const sb = await Sandbox.create(SOURCE, { isolation, fuel: BUDGET, stackDepth: 10_000_000, imports: { host: { probe } } })
    try {
      // 100 probes, each an overflow after tens of thousands of frames: far more work than the budget
      const error = await sb.call('run', 100).then(() => null, (e: unknown) => e)
      expect(error).toBeInstanceOf(SandboxError)
      expect(sb.lastUsage!.fuelUsed).toBe(BigInt(BUDGET))
      expect(swallowed).toBe(1) // the first one: after it the guest had no fuel left
    } finally {
      await sb.close()
    }
  })
})
