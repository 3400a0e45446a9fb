/**
 * Red team of the call-depth limit at sandbox level: a host function may catch the error of
 * a re-entrant `ctx.call` and return normally. When that call hit `stackDepth`, the frames
 * that trapped never put the depth global back, so the guest frame that called the host
 * function must not inherit their depth: its next calls nest from its own, and a later
 * trap of its own is a TRAP, not STACK_OVERFLOW.
 */
import { describe, expect, it } from 'vitest'
import { Sandbox, SandboxError } from 'wasm-sandbox'

const SOURCE = `(module
  (import "host" "probe" (func $probe (result i32)))
  (func $rec (export "rec") (param i32) (result i32)
    (if (result i32) (local.get 0) (then (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))) (else (i32.const 0))))
  (func (export "deep") (result i32) (call $rec (i32.const 1000000)))
  ;; after the host swallowed an overflow: a recursion n deep (n + 1 frames under this one)
  (func (export "after") (param i32) (result i32) (i32.add (call $probe) (call $rec (local.get 0))))
  ;; after the host swallowed an overflow: a trap of the guest's own
  (func (export "trap") (result i32) (drop (call $probe)) (unreachable)))`

describe.each(['worker', 'inline'] as const)('a depth overflow in ctx.call that the host function swallows (%s)', (isolation) => {
  it('leaves the calling frame its own depth', async () => {
    let swallowed: unknown = null
    const probe = isolation === 'inline'
      ? (ctx: { call(fn: string): unknown }) => { try { ctx.call('deep') } catch (e) { swallowed = e } return 0 }
      : async (ctx: { call(fn: string): Promise<unknown> }) => { try { await ctx.call('deep') } catch (e) { swallowed = e } return 0 }
    const sb = await Sandbox.create(SOURCE, { isolation, stackDepth: 100, imports: { host: { probe } } })
    try {
      // after(98): 100 frames, the limit: it completes
      expect(await sb.call('after', 98)).toBe(98)
      expect(swallowed, 'the host function caught the overflow of its ctx.call').toBeInstanceOf(Error)
      const over = await sb.call('after', 99).then(() => null, (e: unknown) => e)
      expect((over as SandboxError).code).toBe('STACK_OVERFLOW')
      const trap = await sb.call('trap').then(() => null, (e: unknown) => e)
      expect(trap).toBeInstanceOf(SandboxError)
      expect((trap as SandboxError).code).toBe('TRAP')
    } finally {
      await sb.close()
    }
  })
})

// Open finding (core/guest/host-imports.ts, outside the meter): in a worker, a ctx.call that
// passes stackDepth rejects with TRAP and the meter's own 'unreachable' as the message: the
// nested call's error is not classified (inline, the host function gets the RuntimeError).
it('a ctx.call that passes stackDepth rejects with STACK_OVERFLOW (worker)', async () => {
  let swallowed: unknown = null
  const probe = async (ctx: { call(fn: string): Promise<unknown> }) => { try { await ctx.call('deep') } catch (e) { swallowed = e } return 0 }
  const sb = await Sandbox.create(SOURCE, { stackDepth: 100, imports: { host: { probe } } })
  try {
    await sb.call('after', 1)
    expect((swallowed as SandboxError).code).toBe('STACK_OVERFLOW')
  } finally {
    await sb.close()
  }
})
