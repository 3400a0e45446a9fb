// The mailbox: how the host answers a worker blocked inside a host-function call. The
// waiting side runs in a real worker (workers/mailbox-guest.mjs), which reports each
// command it got; what never blocks is checked in this thread alone.
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { Command, Mailbox, MAILBOX_DATA_BYTES } from '../../../dist/core/protocol/mailbox.js'

interface Received { command: number; a: number; b: number; value: number | bigint | undefined; data: Uint8Array }

/** A worker that waits for `commands` commands in a row; `next()` is the next one it got. */
async function startMailboxWorker(commands: number) {
  const mailbox = Mailbox.create()
  const worker = new Worker(new URL('./workers/mailbox-guest.mjs', import.meta.url), { workerData: { mailbox: mailbox.buffer, commands } })
  const messages: { type: string }[] = []
  let wake = () => {}
  worker.on('message', (m) => { messages.push(m); wake() })
  const next = async <T>(type: string): Promise<T> => {
    for (;;) {
      const at = messages.findIndex((m) => m.type === type)
      if (at >= 0) return messages.splice(at, 1)[0] as T
      await new Promise<void>((resolve) => { wake = resolve })
    }
  }
  running.push(worker)
  return { mailbox, worker, waiting: () => next<{ type: 'waiting' }>('waiting'), received: () => next<Received>('command') }
}
const running: Worker[] = []
afterEach(async () => { await Promise.all(running.splice(0).map((w) => w.terminate())) })

describe('mailbox against a blocked worker', () => {
  it('delivers a returned value of each kind: number, bigint, none', async () => {
    const w = await startMailboxWorker(5)
    const values = [42.5, -0, 2n ** 63n - 1n, -(2n ** 63n), undefined]
    for (const value of values) {
      await w.waiting()
      w.mailbox.setValue(value)
      w.mailbox.send(Command.RETURN)
      const got = await w.received()
      expect(got.command).toBe(Command.RETURN)
      expect(Object.is(got.value, value), `${String(got.value)} vs ${String(value)}`).toBe(true)
    }
  })

  it('delivers a failure: THROW with its UTF-8 message in the data area', async () => {
    const w = await startMailboxWorker(1)
    await w.waiting()
    const message = new TextEncoder().encode('denied: ünïcødé ✓')
    w.mailbox.data.set(message)
    w.mailbox.send(Command.THROW, 0, message.length)
    const got = await w.received()
    expect(got.command).toBe(Command.THROW)
    expect(new TextDecoder().decode(got.data)).toBe('denied: ünïcødé ✓')
  })

  it('delivers operands as unsigned 32-bit numbers, and a full data area', async () => {
    const w = await startMailboxWorker(2)
    await w.waiting()
    w.mailbox.send(Command.READ, 0xffff_fff0, 2 ** 31)
    expect(await w.received()).toMatchObject({ command: Command.READ, a: 0xffff_fff0, b: 2 ** 31 })

    await w.waiting()
    const full = new Uint8Array(MAILBOX_DATA_BYTES).map((_, i) => (i * 7) & 0xff)
    w.mailbox.data.set(full)
    w.mailbox.send(Command.DATA, 0, MAILBOX_DATA_BYTES)
    const got = await w.received()
    expect(got.command).toBe(Command.DATA)
    expect(Buffer.compare(got.data, full)).toBe(0)
  })

  it('does not take a wake-up without a command for one', async () => {
    const w = await startMailboxWorker(1)
    await w.waiting()
    await new Promise((resolve) => setTimeout(resolve, 30)) // past its spin: parked in Atomics.wait
    Atomics.notify(w.mailbox.control, 0) // a late notify, command still NONE
    await new Promise((resolve) => setTimeout(resolve, 30))
    w.mailbox.setValue(1)
    w.mailbox.send(Command.RETURN)
    expect(await w.received()).toMatchObject({ command: Command.RETURN, value: 1 })
  })

  it('takes commands one after another, each once', async () => {
    const w = await startMailboxWorker(50)
    for (let i = 0; i < 50; i++) {
      await w.waiting()
      w.mailbox.send(Command.ALLOC, i)
      expect(await w.received()).toMatchObject({ command: Command.ALLOC, a: i })
    }
  })
})

describe('mailbox without blocking (this thread only)', () => {
  it('keeps a value\'s kind, and forgets the previous one', () => {
    const mailbox = Mailbox.create()
    for (const value of [NaN, -0, Infinity, 1e-300, 0n, -1n, 2n ** 63n - 1n, undefined, 3]) {
      mailbox.setValue(value)
      expect(Object.is(mailbox.value(), value), String(value)).toBe(true)
    }
  })

  it('hands a command sent before the wait at once, and is empty again once done', () => {
    const mailbox = Mailbox.create()
    mailbox.send(Command.WRITE, 16, 4)
    expect(mailbox.waitForCommand()).toBe(Command.WRITE) // already there: no wait
    expect([mailbox.a, mailbox.b]).toEqual([16, 4])
    mailbox.done()
    expect(Atomics.load(mailbox.control, 0)).toBe(Command.NONE)
  })
})
