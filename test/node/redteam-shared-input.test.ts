/**
 * Red team (time of check, time of use): a module handed to meter() in a SharedArrayBuffer
 * that another thread keeps rewriting. The guest's `global.set 0` writes its own i64 global;
 * flipped to `global.set 1` it is invalid (the module has one global), unless the flip lands
 * after validation and before the rewrite reads the byte: then, once metered, index 1 is the
 * fuel counter, and the guest refuels itself. meter() copies shared input before validating,
 * so every outcome is a refusal or the module as validated.
 */
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { meter, SandboxError } from 'wasm-sandbox/core'
import { wat } from '../core/meter/helpers.js'

describe('meter() on bytes another thread rewrites', () => {
  it('meters the bytes it validated: the guest never writes the fuel counter', async () => {
    const bytes = await wat(`(module
      (global $own (mut i64) (i64.const 0))
      (func (export "refuel") (global.set $own (i64.const 1000000000))))`)
    // The global.set's index byte: 0x24 0x00 (global.set 0) after the i64.const.
    let at = -1
    for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0x24 && bytes[i + 1] === 0x00) at = i + 1
    expect(at).toBeGreaterThan(0)
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length))
    shared.set(bytes)
    const stop = new Int32Array(new SharedArrayBuffer(4))
    const flipper = new Worker(`
      const { workerData: { shared, stop, at } } = require('node:worker_threads')
      while (Atomics.load(stop, 0) === 0) shared[at] ^= 1`, { eval: true, workerData: { shared, stop, at } })
    await new Promise((resolve) => flipper.once('online', resolve))
    let metered = 0, refused = 0
    try {
      for (let i = 0; i < 3000; i++) {
        let result
        try {
          result = meter(shared, { fuel: 1000 })
        } catch (error) {
          expect(error).toBeInstanceOf(SandboxError) // global.set 1 of a module with one global
          expect((error as SandboxError).code).toBe('INVALID_MODULE')
          refused++
          continue
        }
        const instance = new WebAssembly.Instance(new WebAssembly.Module(result.bytes))
        const fuel = result.fuel(instance);
        (instance.exports.refuel as () => void)()
        expect(fuel.used()).toBeGreaterThan(0n) // charged, never refilled to a billion (used would be negative, or 0)
        metered++
      }
    } finally {
      Atomics.store(stop, 0, 1)
      await flipper.terminate()
    }
    expect(metered).toBeGreaterThan(0)
    expect(refused).toBeGreaterThan(0) // the flips did land between calls
  }, 60_000)
})
