// The worker side of a call channel, as a sandbox worker uses it, with scripted functions in
// place of a guest (see FN in ../channel-harness.ts). It serves the channel between messages:
// the host announces each message it posts, so `serve` returns and the message is taken.
import { parentPort, workerData } from 'node:worker_threads'
import { CallChannel } from '../../../../dist/core/protocol/call-channel.js'
import { Command, Mailbox } from '../../../../dist/core/protocol/mailbox.js'
import { SandboxError } from '../../../../dist/core/errors/index.js'

const channel = new CallChannel(workerData.channel, workerData.spinSlots ?? null)
const mailbox = workerData.mailbox ? new Mailbox(workerData.mailbox) : null
let handled = 0
/** Calls run so far, in the order the worker ran them (ring calls report it with their output). */
let ran = 0

const report = (hostCalls = 0) => ({ fuelUsed: 1000n + BigInt(ran), memoryBytes: 65536 * (ran + 1), hostCalls })

const FN = { ECHO: 0, FUEL: 1, FAIL: 2, HOST: 3, SIZED: 4, ORDER: 5, FAIL_LARGE: 6 }

/** Asks the host for host function 9 with `args`, and waits for its answer in the mailbox. */
function hostCall(args) {
  channel.requestHostCall(9, args)
  const command = mailbox.waitForCommand()
  const value = mailbox.value()
  const text = new TextDecoder().decode(mailbox.data.slice(0, mailbox.b))
  mailbox.done()
  if (command === Command.THROW) throw new SandboxError('HOST_ERROR', `host function failed: ${text}`)
  return value
}

function run(fn, args, fuel, input) {
  ran++
  try {
    switch (fn) {
      case FN.ECHO: return { ok: true, value: input ? input.slice() : args, report: report() }
      case FN.FUEL: return { ok: true, value: [fuel === undefined ? -1n : fuel], report: report() }
      case FN.FAIL: throw new SandboxError('FUEL_EXHAUSTED', 'fuel exhausted in f', { kind: 'fuel', limit: 2n ** 63n - 1n, used: 2n ** 63n - 1n, export: 'f' })
      case FN.HOST: {
        const value = hostCall(input ? [input.length] : args)
        return { ok: true, value: input ? new TextEncoder().encode(`host said ${value}`) : [value], report: report(1) }
      }
      case FN.SIZED: { // a bytes output of the length the input's first u32 says
        const length = new DataView(input.buffer, input.byteOffset).getUint32(0, true)
        const output = new Uint8Array(length)
        for (let i = 0; i < length; i++) output[i] = i & 0xff
        return { ok: true, value: output, report: report() }
      }
      case FN.ORDER: { // the input, after the worker's count of calls run so far (u32)
        const output = new Uint8Array(4 + input.length)
        new DataView(output.buffer).setUint32(0, ran, true)
        output.set(input, 4)
        return { ok: true, value: output, report: report() }
      }
      case FN.FAIL_LARGE: // an error whose JSON is far larger than a ring slot
        throw new SandboxError('TRAP', 'x'.repeat(2000), { limit: 12345678901234567890n, stdoutBytes: new Uint8Array(20_000).fill(65) })
      default: throw new SandboxError('NO_SUCH_EXPORT', `no function ${fn}`)
    }
  } catch (error) {
    return { ok: false, error, report: report() }
  }
}

const sendOutput = (callId, output, outputReport) => parentPort.postMessage({ type: 'output', callId, output, report: outputReport }, [output.buffer])

const serve = () => channel.serve(handled, run, sendOutput)

parentPort.on('message', (message) => {
  handled++
  if (message.type === 'stop') return parentPort.close()
  if (message.type === 'ping') parentPort.postMessage({ type: 'pong', handled, ran })
  serve()
})
parentPort.postMessage({ type: 'ready' })
serve()
