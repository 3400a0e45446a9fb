import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { rejectsWith } from './helpers.js'

// `metering: 'fast'` through a real sandbox (worker, message path): the same fuel as exact
// metering for a call that returns, the whole budget for one that traps, and exhaustion and
// other traps still told apart.
const WAT = `(module (memory 1)
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.load (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "oob") (param $n i32) (result i32)
    (drop (call 0 (local.get $n)))
    (i32.load (i32.const -4))))`

describe("metering: 'fast'", () => {
  let exact: Sandbox, fast: Sandbox
  beforeAll(async () => {
    exact = await Sandbox.create(WAT, { fuel: 1e6 })
    fast = await Sandbox.create(WAT, { fuel: 1e6, metering: 'fast' })
  })
  afterAll(async () => { await exact.close(); await fast.close() })

  it('charges a call that returns what exact metering does', async () => {
    for (const n of [1, 10, 1000]) {
      await exact.call('sum', n)
      await fast.call('sum', n)
      expect(fast.lastUsage!.fuelUsed).toBe(exact.lastUsage!.fuelUsed)
    }
  })

  it('charges a trapped call its whole budget; exact metering charges what ran', async () => {
    const a = await rejectsWith(exact.call('oob', 100), 'TRAP')
    expect(a.usage!.fuelUsed).toBeLessThan(1_000_000n)
    const b = await rejectsWith(fast.call('oob', 100), 'TRAP')
    expect(b.trap).toMatch(/out of bounds/)
    expect(b.usage!.fuelUsed).toBe(1_000_000n)
    expect(await fast.call('sum', 3)).toBe(0) // and the sandbox serves the next call
  })

  it('runs out of fuel as exact metering does (FUEL_EXHAUSTED)', async () => {
    const error = await rejectsWith(fast.call('sum', 1e6), 'FUEL_EXHAUSTED')
    expect(error).toMatchObject({ limit: 1_000_000n, used: 1_000_000n })
  })

  it("refuses anything but 'exact' or 'fast'", async () => {
    await rejectsWith(Sandbox.create(WAT, { metering: 'quick' as 'fast' }), 'CONFIG')
  })
})
