// The call channel's single slot: one call at a time, host in this thread, guest side in a
// real worker (see channel-harness.ts). Paths that never block run in this thread alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CallChannel, CHANNEL_DATA_BYTES, Done, MAX_CHANNEL_VALUES } from '../../../dist/core/protocol/call-channel.js'
import { Word } from '../../../dist/core/protocol/channel-layout.js'
import { Command } from '../../../dist/core/protocol/mailbox.js'
import { callValues, FN, isSizedOutput, sizedRequest, startChannelWorker, waitDone, type ChannelWorker } from './channel-harness.js'

describe('single-slot calls against a worker', () => {
  let w: ChannelWorker
  beforeAll(async () => { w = await startChannelWorker() })
  afterAll(async () => { await w?.stop() })

  it('round-trips values of every Wasm type, an i64 as a bigint and the rest as numbers', async () => {
    const i32 = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)]
    const i64 = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 1n << 53n | 1n]
    const f32 = [Math.fround(1.1), Math.fround(-3.4e38), Math.fround(1e-45)]
    const f64 = [NaN, -0, 0, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 0.1 + 0.2]
    const args = [...i32, ...i64, ...f32, ...f64]
    const answer = await callValues(w.channel, FN.ECHO, args)
    expect(answer.ok).toBe(true)
    if (!answer.ok) return
    expect(answer.values).toHaveLength(args.length)
    answer.values.forEach((value, i) => {
      expect(typeof value).toBe(typeof args[i])
      expect(Object.is(value, args[i]), `value ${i}: ${String(value)} vs ${String(args[i])}`).toBe(true)
    })
  })

  it('carries exactly MAX_CHANNEL_VALUES values, and none', async () => {
    const args = Array.from({ length: MAX_CHANNEL_VALUES }, (_, i) => (i % 2 ? BigInt(-i) : i / 7))
    const full = await callValues(w.channel, FN.ECHO, args)
    expect(full.ok && full.values).toEqual(args)
    const none = await callValues(w.channel, FN.ECHO, [])
    expect(none.ok && none.values).toEqual([])
  })

  it('carries a call\'s own fuel budget, and does not keep it for the next call', async () => {
    const withFuel = await callValues(w.channel, FN.FUEL, [], 12_345_678_901_234n)
    expect(withFuel.ok && withFuel.values).toEqual([12_345_678_901_234n])
    const zero = await callValues(w.channel, FN.FUEL, [], 0n) // a budget of 0 is a budget, not none
    expect(zero.ok && zero.values).toEqual([0n])
    const without = await callValues(w.channel, FN.FUEL, [])
    expect(without.ok && without.values).toEqual([-1n])
  })

  it('reports each call\'s fuel used (bigint), memory size and host calls', async () => {
    const first = await callValues(w.channel, FN.ECHO, [1])
    const second = await callValues(w.channel, FN.ECHO, [2])
    expect(typeof first.report.fuelUsed).toBe('bigint')
    expect(second.report.fuelUsed).toBe(first.report.fuelUsed + 1n) // the worker reports 1000 + calls run
    expect(second.report.memoryBytes).toBe(first.report.memoryBytes + 65536)
    expect(second.report.hostCalls).toBe(0)
  })

  it('passes an error as data: code, message, and bigint limits intact', async () => {
    const answer = await callValues(w.channel, FN.FAIL, [])
    expect(answer.ok).toBe(false)
    if (answer.ok) return
    expect(answer.error).toMatchObject({ code: 'FUEL_EXHAUSTED', message: 'fuel exhausted in f', kind: 'fuel', export: 'f' })
    expect(answer.error.limit).toBe(2n ** 63n - 1n)
    expect(answer.error.used).toBe(2n ** 63n - 1n)
    // and the slot works on after a failure
    const after = await callValues(w.channel, FN.ECHO, [7])
    expect(after.ok && after.values).toEqual([7])
  })

  it.each([0, 1, 255, CHANNEL_DATA_BYTES])('echoes a bytes input of %i bytes through the data area', async (size) => {
    const input = new Uint8Array(size)
    for (let i = 0; i < size; i++) input[i] = (i * 31 + 7) & 0xff
    w.channel.sendBytes(FN.ECHO, input, 1)
    expect(await waitDone(w.channel)).toBe(Done.OK)
    const answer = w.channel.readAnswer()
    expect(answer.ok && !answer.outputByMessage).toBe(true)
    if (!answer.ok) return
    expect(answer.output!.length).toBe(size)
    expect(Buffer.compare(answer.output!, input)).toBe(0) // (toEqual walks 255 KiB for seconds)
  })

  it('keeps an output of exactly the data area in the slot, and sends one byte more as a message for its call id', async () => {
    w.channel.sendBytes(FN.SIZED, sizedRequest(CHANNEL_DATA_BYTES), 41)
    expect(await waitDone(w.channel)).toBe(Done.OK)
    const fits = w.channel.readAnswer()
    expect(fits.ok && fits.outputByMessage).toBeFalsy()
    expect(fits.ok && isSizedOutput(fits.output!, CHANNEL_DATA_BYTES)).toBe(true)

    w.channel.sendBytes(FN.SIZED, sizedRequest(CHANNEL_DATA_BYTES + 1), 42)
    expect(await waitDone(w.channel)).toBe(Done.OK)
    const large = w.channel.readAnswer()
    expect(large).toMatchObject({ ok: true, outputByMessage: true })
    expect(large.ok && large.output).toBeFalsy()
    const message = await w.next('output') // posted before DONE: it is already on its way
    expect(message.callId).toBe(42)
    expect(isSizedOutput(message.output, CHANNEL_DATA_BYTES + 1)).toBe(true)
    expect(message.report.fuelUsed).toBe(large.report.fuelUsed)
  })

  it('lets the guest call a host function mid-call: HOST_CALL, then the answer through the mailbox', async () => {
    w.channel.sendCall(FN.HOST, [41, -5n])
    expect(await waitDone(w.channel)).toBe(Done.HOST_CALL)
    expect(w.channel.hostCallPending()).toBe(true)
    expect(w.channel.takeHostCall()).toEqual({ index: 9, args: [41, -5n] })
    expect(w.channel.hostCallPending()).toBe(false) // taken: DONE is pending again before the answer goes out
    w.mailbox.setValue(42n)
    w.mailbox.send(Command.RETURN)
    expect(await waitDone(w.channel)).toBe(Done.OK)
    const answer = w.channel.readAnswer()
    expect(answer.ok && answer.values).toEqual([42n])
    expect(answer.report.hostCalls).toBe(1)
  })

  it('passes a host function\'s failure back to the guest, whose call then fails', async () => {
    w.channel.sendCall(FN.HOST, [1])
    expect(await waitDone(w.channel)).toBe(Done.HOST_CALL)
    w.channel.takeHostCall()
    const message = new TextEncoder().encode('quota gone ✗')
    w.mailbox.data.set(message)
    w.mailbox.send(Command.THROW, 0, message.length)
    expect(await waitDone(w.channel)).toBe(Done.ERROR)
    const answer = w.channel.readAnswer()
    expect(answer.ok).toBe(false)
    expect(!answer.ok && answer.error).toMatchObject({ code: 'HOST_ERROR', message: 'host function failed: quota gone ✗' })
  })

  it('gives every call of a long run its own answer, with messages posted in between', async () => {
    let pongs = 0
    for (let i = 0; i < 3000; i++) {
      const answer = await callValues(w.channel, FN.ECHO, [i, BigInt(i)])
      expect(answer.ok && answer.values).toEqual([i, BigInt(i)])
      if (i % 500 === 0) { // the worker leaves the channel for its event loop, then serves again
        w.post({ type: 'ping' })
        await w.next('pong')
        pongs++
      }
    }
    expect(pongs).toBe(6)
  })
})

describe('single-slot paths that never block (this thread only)', () => {
  it('tells which values fit the slots: numbers and bigints, at most MAX_CHANNEL_VALUES', () => {
    expect(CallChannel.fits([])).toBe(true)
    expect(CallChannel.fits([1, 2n, NaN])).toBe(true)
    expect(CallChannel.fits(new Array(MAX_CHANNEL_VALUES).fill(0))).toBe(true)
    expect(CallChannel.fits(new Array(MAX_CHANNEL_VALUES + 1).fill(0))).toBe(false)
    expect(CallChannel.fits([1, '2'])).toBe(false)
    expect(CallChannel.fits([undefined])).toBe(false)
  })

  it('wakes a host waiting for an answer with KILLED when the worker is abandoned', async () => {
    const channel = CallChannel.create(2)
    channel.sendCall(FN.ECHO, [1]) // no worker: no answer will come
    const waited = channel.waitDone()
    expect(typeof waited).not.toBe('number') // it parked
    setTimeout(() => channel.abandon(), 5)
    expect(await waited).toBe(Done.KILLED)
  })

  it('does not take a wake-up without an answer for one (a late notify from the previous call)', async () => {
    const channel = CallChannel.create(2)
    channel.sendCall(FN.ECHO, [1])
    let settled: number | null = null
    const waited = Promise.resolve(channel.waitDone()).then((done) => { settled = done })
    await new Promise((resolve) => setTimeout(resolve, 5))
    Atomics.notify(channel.control, Word.DONE) // a stale notify: DONE is still PENDING
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(settled).toBe(null)
    channel.abandon()
    await waited
    expect(settled).toBe(Done.KILLED)
  })
})
