import { afterAll, describe, expect, it } from 'vitest'
import { SandboxError, SandboxPool } from 'wasm-sandbox'

// A soak of the pool: 10,000 calls through 4 sandboxes, 1% of which trap and 1% of which
// run forever (stopped by the timeout). Checks that every call settles exactly once with
// its own outcome, that the counters add up, and that the pool is whole afterwards.
// No timing assertions: the timeouts only have to fire, not fire on time.

const WAT = `(module
  ;; work(i, mode): mode 0 returns 3i + 7; mode 1 traps; mode 2 loops forever.
  (func (export "work") (param $i i32) (param $mode i32) (result i32)
    (if (i32.eq (local.get $mode) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get $mode) (i32.const 2)) (then (loop $forever (br $forever))))
    (i32.add (i32.mul (local.get $i) (i32.const 3)) (i32.const 7))))`

const CALLS = 10_000
const SIZE = 4
const IN_FLIGHT = 64
// Long enough that an ordinary call never hits it even on a loaded CI machine (workers that
// are parked can wait for a core), short enough to keep the run brief.
const TIMEOUT_MS = 300

const TRAP = 1
const SPIN = 2
/** 1% trap, 1% spin, spread evenly over the run. */
const modeOf = (i: number) => (i % 100 === 13 ? TRAP : i % 100 === 57 ? SPIN : 0)
const expectedValue = (i: number) => i * 3 + 7

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; error: unknown }

describe('SandboxPool soak', () => {
  let pool: SandboxPool | null = null
  afterAll(async () => { await pool?.close() })

  it(`${CALLS} calls through a pool of ${SIZE} with 1% traps and 1% timeouts: none lost, none duplicated, counters add up`, async () => {
    pool = await SandboxPool.create(WAT, {
      // Only the runaway calls get the short timeout (per call): an ordinary call on a busy
      // machine may take longer than it, and must not be mistaken for a runaway.
      min: SIZE, max: SIZE, maxQueued: CALLS, fuel: 'unlimited', timeout: '30s',
    })
    const p = pool
    expect(p.stats()).toMatchObject({ size: SIZE, idle: SIZE, busy: 0, queued: 0, calls: 0, failures: 0 })

    const outcomes: (Outcome | undefined)[] = new Array(CALLS)
    const settled = new Uint32Array(CALLS)
    let next = 0
    // IN_FLIGHT runners each pull the next index as soon as their call settles.
    const runner = async () => {
      for (let i = next++; i < CALLS; i = next++) {
        try {
          const value = modeOf(i) === SPIN ? await p.call('work', i, modeOf(i), { timeout: TIMEOUT_MS }) : await p.call('work', i, modeOf(i))
          outcomes[i] = { ok: true, value }
        } catch (error) {
          outcomes[i] = { ok: false, code: error instanceof SandboxError ? error.code : `not a SandboxError: ${String(error)}`, error }
        }
        settled[i]!++
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, runner))

    // Every index settled exactly once, with the outcome of its own call.
    const missing: number[] = [], repeated: number[] = [], wrong: string[] = []
    let traps = 0, timeouts = 0
    for (let i = 0; i < CALLS; i++) {
      if (settled[i] === 0) missing.push(i)
      if (settled[i]! > 1) repeated.push(i)
      const outcome = outcomes[i]
      if (!outcome) continue
      const mode = modeOf(i)
      const want = mode === TRAP ? 'TRAP' : mode === SPIN ? 'TIMEOUT' : expectedValue(i)
      const got = outcome.ok ? outcome.value : outcome.code
      if (got !== want) wrong.push(`#${i}: expected ${want}, got ${String(got)}${outcome.ok ? '' : ` (${(outcome.error as Error).message})`}`)
      if (!outcome.ok && outcome.code === 'TRAP') traps++
      if (!outcome.ok && outcome.code === 'TIMEOUT') timeouts++
    }
    expect(missing, 'calls that never settled').toEqual([])
    expect(repeated, 'calls that settled more than once').toEqual([])
    expect(wrong.slice(0, 20), `${wrong.length} calls with the wrong outcome`).toEqual([])
    expect(traps).toBe(CALLS / 100)
    expect(timeouts).toBe(CALLS / 100)
    // The failing calls carry the failing export's name.
    for (let i = 0; i < CALLS; i++) {
      const outcome = outcomes[i]!
      if (!outcome.ok) expect((outcome.error as SandboxError).export).toBe('work')
    }

    // The counters add up, and nothing is left busy or queued once every call has settled.
    // (A sandbox whose call trapped stays busy until its fresh instance is up, ~1 ms; the
    // last trap, #9913, is long over by now: the run ends with the ~TIMEOUT_MS spin #9957.)
    expect(p.stats()).toEqual({ size: SIZE, idle: SIZE, busy: 0, queued: 0, calls: CALLS, failures: traps + timeouts })

    // The pool still serves: 4 x 50 calls at once, all succeeding, so every sandbox (each
    // of which has trapped and timed out along the way) is borrowed and answers correctly.
    const after = await Promise.all(Array.from({ length: SIZE * 50 }, (_, i) => p.call('work', CALLS + i, 0)))
    expect(after).toEqual(Array.from({ length: SIZE * 50 }, (_, i) => expectedValue(CALLS + i)))
    expect(p.stats()).toEqual({ size: SIZE, idle: SIZE, busy: 0, queued: 0, calls: CALLS + SIZE * 50, failures: traps + timeouts })

    // Once more, each sandbox on its own: SIZE calls at once take one sandbox each.
    for (let round = 0; round < 3; round++) {
      const each = await Promise.all(Array.from({ length: SIZE }, (_, i) => p.call('work', i, 0)))
      expect(each).toEqual(Array.from({ length: SIZE }, (_, i) => expectedValue(i)))
    }

    await p.close()
    pool = null
  })
})
