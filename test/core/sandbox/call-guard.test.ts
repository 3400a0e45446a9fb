/** CallGuard: the timeout and the AbortSignal of calls sent to a worker, with real timers. */
import { describe, expect, it } from 'vitest'
import type { SandboxError } from 'wasm-sandbox/core'
import { CallGuard, callTimeoutMs, timeoutError } from '../../../core/sandbox/call-guard.js'
import { normalizeOptions } from 'wasm-sandbox/core'

const timers = {
  now: () => performance.now(),
  setTimer: (callback: () => void, ms: number) => setTimeout(callback, ms),
  clearTimer: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
}
const stopped = () => {
  let resolve!: (e: SandboxError) => void
  const promise = new Promise<SandboxError>((r) => { resolve = r })
  return { promise, stop: resolve }
}

describe('CallGuard', () => {
  it('stops the call running past its timeout with TIMEOUT naming it, limit and used', async () => {
    const { promise, stop } = stopped()
    const guard = new CallGuard(timers, 30, undefined, stop)
    guard.arm('first')
    guard.arm('second') // the clock restarts for the call now running
    const error = await promise
    expect(error).toMatchObject({ code: 'TIMEOUT', export: 'second', kind: 'time', limit: 30 })
    expect(error.used).toBeGreaterThanOrEqual(30)
    guard.disarm()
  })

  it('stops the call with CANCELLED when its signal aborts; a disarmed guard does nothing', async () => {
    const controller = new AbortController()
    const { promise, stop } = stopped()
    const guard = new CallGuard(timers, 10_000, controller.signal, stop)
    guard.arm('f')
    controller.abort()
    expect(await promise).toMatchObject({ code: 'CANCELLED', export: 'f' })
    guard.disarm()

    const quiet = new AbortController()
    let calls = 0
    const done = new CallGuard(timers, 20, quiet.signal, () => calls++)
    done.arm('g')
    done.disarm()
    quiet.abort()
    await new Promise((r) => setTimeout(r, 60))
    expect(calls).toBe(0)
  })

  it('takes a call\'s own timeout over the sandbox\'s, in any unit', () => {
    const policy = normalizeOptions({ timeout: '2s' })
    expect(callTimeoutMs({}, policy)).toBe(2000)
    expect(callTimeoutMs({ timeout: '250ms' }, policy)).toBe(250)
    expect(() => callTimeoutMs({ timeout: 'soon' }, policy)).toThrow(/timeout/)
    expect(timeoutError('f', 100, 50).used).toBe(100) // never reported below the limit it hit
  })
})
