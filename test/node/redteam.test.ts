/**
 * Findings of a red-team pass against the hardened host (issue 18), each fixed and kept here:
 * a host function awaiting `ctx` when its call is stopped, a link error built from 50,000
 * guest-chosen import names, and a shared memory read through `ctx` (a SharedArrayBuffer copy
 * cannot be transferred).
 */
import { describe, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { rejectsWith } from './helpers.js'
import { wat } from '../core/meter/helpers.js'

describe('red-team findings', () => {
  it('a host function awaiting ctx when its call times out gets a rejection, so its cleanup runs', async () => {
    let held = 0
    const sb = await Sandbox.create(`(module (import "env" "work" (func $w (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "go") (result i32) (call $w (i32.const 0) (i32.const 16)))
      (func (export "ok") (result i32) (i32.const 7)))`, {
      timeout: '100ms',
      imports: { env: { work: async (ptr: number, len: number, ctx: { read(p: number, l: number): Promise<Uint8Array> }) => {
        held++
        try {
          await new Promise((resolve) => setTimeout(resolve, 300)) // the call's timeout fires meanwhile
          return (await ctx.read(ptr, len)).length
        } finally { held-- }
      } } },
    })
    for (let i = 0; i < 3; i++) await rejectsWith(sb.call('go'), 'TIMEOUT')
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(held).toBe(0)
    expect(await sb.call('ok')).toBe(7)
    await sb.close()
  })

  it('a LINK_ERROR over 50,000 long import names stays small', async () => {
    const imports = Array.from({ length: 50_000 }, (_, i) => `(import "env" "${'x'.repeat(200)}${i}" (func))`).join('\n')
    const events: unknown[] = []
    const error = await rejectsWith(Sandbox.create(`(module ${imports})`, { onEvent: (e) => events.push(e) }), 'LINK_ERROR')
    expect(error.message.length).toBeLessThan(4096)
    expect(error.message).toContain('and 49968 more')
    expect(error.imports!.length).toBe(32)
    expect(events.length).toBeLessThanOrEqual(32)
  })

  it('ctx.read of a shared memory works', async () => {
    // wabt's own validator refuses shared memories; wat() checks with the engine instead.
    const sb = await Sandbox.create(await wat(`(module (import "env" "sum" (func $s (param i32 i32) (result i32)))
      (memory (export "memory") 1 1 shared)
      (data (i32.const 0) "\\01\\02\\03")
      (func (export "go") (result i32) (call $s (i32.const 0) (i32.const 3))))`), {
      imports: { env: { sum: async (ptr: number, len: number, ctx: { read(p: number, l: number): Promise<Uint8Array> }) =>
        (await ctx.read(ptr, len)).reduce((a, b) => a + b, 0) } },
    })
    expect(await sb.call('go')).toBe(6)
    expect(await sb.call('go')).toBe(6)
    await sb.close()
  })
})
