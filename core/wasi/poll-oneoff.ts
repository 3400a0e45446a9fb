import { Errno } from './errno.js'
import { sleep } from './sleep.js'
import { OUT_OF_FUEL, type WasiFuel } from './wasi-fuel.js'

/** Bytes of one subscription in `poll_oneoff`'s input (what the caller charges for reading them). */
export const SUBSCRIPTION_BYTES = 48

/**
 * poll_oneoff: fd subscriptions are always ready (files and pipes never block here); clock
 * subscriptions sleep until the earliest deadline; without clocks granted, the first one is
 * answered by `denyClock` (its errno). A sleep on the caller's thread (an inline sandbox) is
 * paid for in fuel before it starts (see `WasiFuel`).
 */
export function pollOneoff(view: DataView, inPtr: number, outPtr: number, count: number, neventsPtr: number, fuel: WasiFuel, onCallerThread: boolean, denyClock: (() => number) | null): number {
  if (count === 0) return Errno.INVAL
  let sleepNs: bigint | null = null
  let clockUserdata = 0n
  let written = 0
  const event = (userdata: bigint, type: number) => {
    const at = outPtr + written * 32
    view.setBigUint64(at, userdata, true)
    view.setUint16(at + 8, 0, true)
    view.setUint8(at + 10, type)
    view.setBigUint64(at + 16, 0n, true)
    view.setUint16(at + 24, 0, true)
    written++
  }
  for (let i = 0; i < count; i++) {
    const at = inPtr + i * SUBSCRIPTION_BYTES
    const userdata = view.getBigUint64(at, true)
    const type = view.getUint8(at + 8)
    if (type === 0) { // clock
      if (denyClock) return denyClock()
      const timeout = view.getBigUint64(at + 24, true)
      const absolute = (view.getUint16(at + 40, true) & 1) !== 0
      const clockId = view.getUint32(at + 16, true)
      const now = clockId === 0 ? BigInt(Date.now()) * 1_000_000n : BigInt(Math.round(performance.now() * 1e6))
      const ns = absolute ? (timeout > now ? timeout - now : 0n) : timeout
      if (sleepNs === null || ns < sleepNs) { sleepNs = ns; clockUserdata = userdata }
    } else {
      event(userdata, type)
    }
  }
  if (written === 0 && sleepNs !== null) {
    if (onCallerThread && !fuel.chargeWait(sleepNs)) throw OUT_OF_FUEL()
    sleep(Number(sleepNs / 1_000_000n))
    event(clockUserdata, 0)
  }
  view.setUint32(neventsPtr, written, true)
  return Errno.SUCCESS
}

declare const performance: { now(): number }
