// Drives a call channel from this thread (the host side) against a real worker thread that
// serves it (workers/channel-guest.mjs): the worker blocks in Atomics.wait, which is the
// point of the channel, so it cannot be the test's own thread.
import { Worker } from 'node:worker_threads'
import { CallChannel, Done } from '../../../dist/core/protocol/call-channel.js'
import { Mailbox } from '../../../dist/core/protocol/mailbox.js'
import type { CallReport } from '../../../dist/core/protocol/messages.js'

/** The scripted functions of workers/channel-guest.mjs, by channel index. */
export const FN = {
  /** Values: returns its arguments. Bytes: returns its input. */
  ECHO: 0,
  /** Returns [the call's own fuel budget], or [-1n] without one. */
  FUEL: 1,
  /** Fails with FUEL_EXHAUSTED, limit and used 2^63-1 (bigints). */
  FAIL: 2,
  /** Calls host function 9 with its arguments (bytes: [input length]) and returns its answer. */
  HOST: 3,
  /** Bytes: returns an output of the length in the input's first u32 (byte i is i & 255). */
  SIZED: 4,
  /** Bytes: returns [how many calls the worker ran, as u32] + the input. */
  ORDER: 5,
  /** Fails with an error whose JSON is far larger than a ring slot. */
  FAIL_LARGE: 6,
} as const

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'pong'; handled: number; ran: number }
  | { type: 'output'; callId: number; output: Uint8Array; report: CallReport }

export interface ChannelWorker {
  channel: CallChannel
  mailbox: Mailbox
  /** The next message of `type` the worker posts (queued if it came already). */
  next<T extends WorkerMessage['type']>(type: T): Promise<Extract<WorkerMessage, { type: T }>>
  /** Posts a message and announces it, as the host does (else the worker would stay in the channel). */
  post(message: { type: 'ping' | 'stop' }): void
  stop(): Promise<void>
}

export async function startChannelWorker(): Promise<ChannelWorker> {
  const channel = CallChannel.create(2)
  const mailbox = Mailbox.create()
  const worker = new Worker(new URL('./workers/channel-guest.mjs', import.meta.url), {
    workerData: { channel: channel.buffer, mailbox: mailbox.buffer, spinSlots: channel.spinSlots?.buffer ?? null },
  })
  const queued: WorkerMessage[] = []
  const waiting: { type: string; resolve: (m: WorkerMessage) => void }[] = []
  let failure: Error | null = null
  const deliver = (message: WorkerMessage) => {
    const at = waiting.findIndex((w) => w.type === message.type)
    if (at >= 0) waiting.splice(at, 1)[0]!.resolve(message)
    else queued.push(message)
  }
  worker.on('message', deliver)
  worker.on('error', (error) => { failure = error })
  const next = <T extends WorkerMessage['type']>(type: T) => {
    if (failure) return Promise.reject(failure)
    const at = queued.findIndex((m) => m.type === type)
    if (at >= 0) return Promise.resolve(queued.splice(at, 1)[0] as Extract<WorkerMessage, { type: T }>)
    return new Promise<Extract<WorkerMessage, { type: T }>>((resolve) => waiting.push({ type, resolve: resolve as (m: WorkerMessage) => void }))
  }
  const post = (message: { type: 'ping' | 'stop' }) => {
    worker.postMessage(message)
    channel.announceMessage()
  }
  await next('ready')
  return {
    channel, mailbox, next, post,
    stop: async () => {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
      post({ type: 'stop' })
      await exited
      if (failure) throw failure
    },
  }
}

/** Waits for the worker's answer to the single-slot call (`waitDone` answers at once when the worker was quick). */
export async function waitDone(channel: CallChannel): Promise<number> {
  const done = channel.waitDone()
  return typeof done === 'number' ? done : await done
}

/** One values call through the single slot, to its answer. */
export async function callValues(channel: CallChannel, fn: number, args: readonly unknown[], fuel?: bigint) {
  channel.sendCall(fn, args, fuel)
  const done = await waitDone(channel)
  if (done !== Done.OK && done !== Done.ERROR) throw new Error(`unexpected DONE state ${done}`)
  return channel.readAnswer()
}

/** A bytes-call input for FN.SIZED: asks for an output of `length` bytes. */
export function sizedRequest(length: number): Uint8Array {
  const input = new Uint8Array(4)
  new DataView(input.buffer).setUint32(0, length, true)
  return input
}

/** Whether `bytes` is what FN.SIZED returns for `length`. */
export function isSizedOutput(bytes: Uint8Array, length: number): boolean {
  if (bytes.length !== length) return false
  for (let i = 0; i < length; i++) if (bytes[i] !== (i & 0xff)) return false
  return true
}
