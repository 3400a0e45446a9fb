// The call channel's ring: pipelined bytes calls the worker runs in order while the host
// goes on. Host in this thread, guest side in a real worker (see channel-harness.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CallChannel, Done, RING_INPUT_BYTES, RING_SLOTS, type RingOutcome } from '../../../dist/core/protocol/call-channel.js'
import { Command } from '../../../dist/core/protocol/mailbox.js'
import { FN, isSizedOutput, sizedRequest, startChannelWorker, waitDone, type ChannelWorker } from './channel-harness.js'

/** The outcome of the call in `slot`, once the worker has finished it. */
async function takeWhenDone(channel: CallChannel, slot: number): Promise<RingOutcome> {
  for (;;) {
    const seen = channel.completions() // before looking: a completion in between is not lost
    const outcome = channel.take(slot)
    if (outcome) return outcome
    await channel.waitCompletion(seen)
  }
}

const u32 = (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b }
const readU32 = (b: Uint8Array, at = 0) => new DataView(b.buffer, b.byteOffset).getUint32(at, true)

describe('ring calls against a worker', () => {
  let w: ChannelWorker
  /** The host's next slot to fill and next slot to take; the worker runs slots in the same order. */
  let head = 0
  let tail = 0
  const advance = (slot: number) => (slot + 1) % RING_SLOTS

  beforeAll(async () => { w = await startChannelWorker() })
  afterAll(async () => { await w?.stop() })

  /** Runs `inputs` through the ring as the call pipeline does: submit while slots are free, take in order. */
  async function pipeline(fn: number, inputs: Uint8Array[]): Promise<RingOutcome[]> {
    const outcomes: RingOutcome[] = []
    let submitted = 0
    while (outcomes.length < inputs.length) {
      while (submitted - outcomes.length < RING_SLOTS && submitted < inputs.length) {
        w.channel.submit(head, fn, inputs[submitted]!, submitted)
        head = advance(head)
        submitted++
      }
      const seen = w.channel.completions()
      let took = false
      for (let outcome; submitted > outcomes.length && (outcome = w.channel.take(tail)); took = true) {
        outcomes.push(outcome)
        tail = advance(tail)
      }
      if (!took) await w.channel.waitCompletion(seen)
    }
    return outcomes
  }

  it(`runs ${3 * RING_SLOTS + 5} calls in submission order, wrapping around the ${RING_SLOTS} slots`, async () => {
    const count = 3 * RING_SLOTS + 5
    const outcomes = await pipeline(FN.ORDER, Array.from({ length: count }, (_, i) => u32(i)))
    const firstRun = outcomes[0]!.ok ? readU32(outcomes[0]!.output!) : -1
    outcomes.forEach((outcome, i) => {
      expect(outcome.ok).toBe(true)
      if (!outcome.ok) return
      expect(outcome.output).toHaveLength(8)
      expect(readU32(outcome.output!, 4)).toBe(i) // its own input
      expect(readU32(outcome.output!)).toBe(firstRun + i) // run right after the call before it
      expect(outcome.report.fuelUsed).toBe(1000n + BigInt(firstRun + i))
      expect(outcome.report.memoryBytes).toBe(65536 * (firstRun + i + 1))
      expect(outcome.wallMs).toBeGreaterThanOrEqual(0)
    })
    expect(w.channel.running()).toBe(null)
    for (let slot = 0; slot < RING_SLOTS; slot++) expect(w.channel.take(slot), `slot ${slot} taken twice`).toBe(null)
  })

  it('carries inputs of 0 and exactly RING_INPUT_BYTES bytes', async () => {
    const full = new Uint8Array(RING_INPUT_BYTES).map((_, i) => (i * 13) & 0xff)
    const [empty, largest] = await pipeline(FN.ECHO, [new Uint8Array(0), full])
    expect(empty).toMatchObject({ ok: true, output: new Uint8Array(0) })
    expect(largest!.ok && Buffer.compare(largest!.output!, full)).toBe(0)
  })

  it('keeps an output of exactly RING_INPUT_BYTES in its slot, and sends one byte more as a message for its call id', async () => {
    const callIdOfLarge = 1 // pipeline() numbers calls by their index
    const [fits, large] = await pipeline(FN.SIZED, [sizedRequest(RING_INPUT_BYTES), sizedRequest(RING_INPUT_BYTES + 1)])
    expect(fits!.ok && isSizedOutput(fits!.output!, RING_INPUT_BYTES)).toBe(true)
    expect(large).toMatchObject({ ok: true, output: null })
    const message = await w.next('output')
    expect(message.callId).toBe(callIdOfLarge)
    expect(isSizedOutput(message.output, RING_INPUT_BYTES + 1)).toBe(true)
  })

  it('halts after a failed call until the host resumes it, so nothing runs past a failure unseen', async () => {
    const failing = head
    w.channel.submit(failing, FN.FAIL, new Uint8Array(0), 100)
    head = advance(head)
    const queued = head
    w.channel.submit(queued, FN.ORDER, u32(7), 101)
    head = advance(head)

    const failure = await takeWhenDone(w.channel, failing)
    tail = advance(tail)
    expect(failure.ok).toBe(false)
    expect(!failure.ok && failure.error).toMatchObject({ code: 'FUEL_EXHAUSTED', limit: 2n ** 63n - 1n })

    const completions = w.channel.completions()
    await new Promise((resolve) => setTimeout(resolve, 50)) // the worker would have run it by now
    expect(w.channel.take(queued)).toBe(null)
    expect(w.channel.completions()).toBe(completions)

    w.channel.resume()
    const after = await takeWhenDone(w.channel, queued)
    tail = advance(tail)
    expect(after.ok && readU32(after.output!, 4)).toBe(7)
  })

  it('shrinks an error too large for its slot to its code and limits', async () => {
    const slot = head
    w.channel.submit(slot, FN.FAIL_LARGE, new Uint8Array(0), 200)
    head = advance(head)
    const outcome = await takeWhenDone(w.channel, slot)
    tail = advance(tail)
    w.channel.resume()
    expect(outcome.ok).toBe(false)
    if (outcome.ok) return
    expect(outcome.error.code).toBe('TRAP')
    expect(outcome.error.limit).toBe(12345678901234567890n)
    expect(outcome.error.message).toBe('x'.repeat(256))
    expect(outcome.error.stdoutBytes).toBeUndefined()
  })

  it('serves a host-function call from a ring call, and says which call is running meanwhile', async () => {
    const slot = head
    const before = Date.now()
    w.channel.submit(slot, FN.HOST, new Uint8Array(5), 300)
    head = advance(head)
    while (!w.channel.hostCallPending()) {
      const seen = w.channel.completions()
      if (!w.channel.hostCallPending()) await w.channel.waitCompletion(seen)
    }
    const running = w.channel.running()
    expect(running?.slot).toBe(slot)
    expect(running!.since).toBeGreaterThanOrEqual(before)
    expect(running!.since).toBeLessThanOrEqual(Date.now())
    expect(w.channel.takeHostCall()).toEqual({ index: 9, args: [5] })
    w.mailbox.setValue(77)
    w.mailbox.send(Command.RETURN)
    const outcome = await takeWhenDone(w.channel, slot)
    tail = advance(tail)
    expect(outcome.ok && new TextDecoder().decode(outcome.output!)).toBe('host said 77')
    expect(outcome.report.hostCalls).toBe(1)
    expect(w.channel.running()).toBe(null)
  })

  it('serves a single-slot call while ring calls are queued', async () => {
    const inputs = Array.from({ length: RING_SLOTS }, (_, i) => u32(i))
    const drained = pipeline(FN.ORDER, inputs) // submits all RING_SLOTS at once, synchronously
    w.channel.sendCall(FN.ECHO, [123n])
    expect(await waitDone(w.channel)).toBe(Done.OK)
    const answer = w.channel.readAnswer()
    expect(answer.ok && answer.values).toEqual([123n])
    const outcomes = await drained
    expect(outcomes.map((o) => o.ok && readU32(o.output!, 4))).toEqual(inputs.map((_, i) => i))
  })
})

describe('ring paths that never block (this thread only)', () => {
  it('has no outcome for a slot the worker has not finished, and nothing running', () => {
    const channel = CallChannel.create(2)
    expect(channel.take(0)).toBe(null)
    channel.submit(0, FN.ECHO, new Uint8Array(3), 1)
    expect(channel.take(0)).toBe(null)
    expect(channel.running()).toBe(null)
  })

  it('wakes a host waiting for completions when the worker is abandoned', async () => {
    const channel = CallChannel.create(2)
    const seen = channel.completions()
    const waited = channel.waitCompletion(seen)
    setTimeout(() => channel.abandon(), 5)
    await waited
    expect(channel.completions()).toBe(seen + 1)
    expect(channel.hostCallPending()).toBe(false)
  })
})
