import { SandboxError } from '../errors/index.js'
import { readProfile } from '../meter/meter-control.js'
import { CallChannel } from '../protocol/call-channel.js'
import { Mailbox } from '../protocol/mailbox.js'
import { PROTOCOL_VERSION, type CallRequest, type CommandResult, type Endpoint, type GuestSettings, type HostMessage, type WorkerMessage } from '../protocol/messages.js'
import { HTTP_HANDLER } from '../component/component-guest.js'
import { HostImports } from './host-imports.js'
import { callExport } from './guest-memory.js'
import { classifyError } from './classify-error.js'
import { GuestInstance, missingExport, type GuestEngine, type GuestHostFactory, type Outcome } from './guest-instance.js'

const EMPTY_REPORT = { fuelUsed: 0n, memoryBytes: 0, hostCalls: 0 }

/**
 * The worker side of a sandbox: instantiates the metered module on `init` and runs calls,
 * one at a time (see `GuestInstance`). Calls arrive as messages, or, when the host gave a
 * call channel, through shared memory: between messages the worker serves the channel
 * (see `call-channel.ts`).
 */
export function serveGuest(endpoint: Endpoint<HostMessage, WorkerMessage>, engine: GuestEngine): void {
  let guest: GuestInstance | null = null
  let channel: CallChannel | null = null
  let mailbox: Mailbox | null = null
  /** The message id of the call in progress, which host calls made by message carry. */
  let currentId = 0
  /** Messages handled so far: the channel's host waits for this count before using the channel. */
  let handledMessages = 0
  /** True while a call that came through the channel runs (its host calls go through the channel too). */
  let inChannelCall = false
  /** A replacement instance being made; calls wait for it. */
  let renewing: Promise<void> = Promise.resolve()
  /** Messages whose handling has not finished. */
  let handling = 0

  const post = (message: WorkerMessage, transfer?: unknown[]) => endpoint.post(message, transfer)

  const makeHost: GuestHostFactory = (settings, exports) => new HostImports(settings.component ? [] : settings.hostImports, mailbox, endpoint, {
    exports,
    callId: () => currentId,
    nestedCall: (fn, args) => callExport(exports(), fn, args, settings),
    channel: () => (inChannelCall ? channel : null),
  })

  /**
   * After a call has been answered: a component instance that trapped must not be entered
   * again (jco enforces it), and an HTTP handler serves one request per instance (as
   * wasi:http's proxy world has it), so they are replaced before the next call.
   */
  const renewAfter = (g: GuestInstance, call: CallRequest, outcome: Outcome): Promise<void> => {
    if (!g.settings.component || guest !== g || call.command || (outcome.ok && call.fn !== HTTP_HANDLER)) return renewing
    renewing = GuestInstance.create(engine, g.module, g.settings, makeHost).then((fresh) => { fresh.billStartToFirstCall(); guest = fresh }, () => {
      // the next call reports it
    })
    return renewing
  }

  const postOutcome = (id: number, outcome: Outcome, index?: number): void => {
    if (outcome.ok) {
      const transfer = outcome.value instanceof Uint8Array ? [outcome.value.buffer] : isCommandResult(outcome.value) ? commandBuffers(outcome.value) : undefined
      post({ v: PROTOCOL_VERSION, id, type: 'result', value: outcome.value, report: outcome.report, index }, transfer)
    } else {
      post({ v: PROTOCOL_VERSION, id, type: 'error', error: outcome.error.toJSON(), report: outcome.report, index })
    }
  }

  /** Serves the fast channel until a message needs the event loop. */
  const serveChannel = (): void => {
    const g = guest
    if (!g || !channel) return
    channel.serve(handledMessages, (index, args, fuel, input) => {
      currentId = 0
      const name = g.settings.exportNames[index] ?? ''
      const fn = g.functions[index]
      inChannelCall = true
      try {
        return g.run(name, () => {
          if (input) return g.invoke(name, [], input)
          if (typeof fn !== 'function') throw missingExport(name)
          return fn(...args)
        }, fuel)
      } finally {
        inChannelCall = false
      }
    }, (callId, output, outputReport) => post({ v: PROTOCOL_VERSION, id: callId, type: 'result', value: output, report: outputReport }, [output.buffer]))
  }

  const init = async (id: number, module: unknown, settings: GuestSettings): Promise<void> => {
    currentId = id
    post({ v: PROTOCOL_VERSION, id, type: 'starting' })
    try {
      const g = await GuestInstance.create(engine, module, settings, makeHost)
      g.initialize()
      guest = g
      post({ v: PROTOCOL_VERSION, id, type: 'ready', report: g.report() })
    } catch (error) {
      post({ v: PROTOCOL_VERSION, id, type: 'error', error: classifyError(error, null, settings, null).toJSON(), report: EMPTY_REPORT })
      return
    }
    serveChannel()
  }

  endpoint.onMessage((message) => {
    if (message.v !== PROTOCOL_VERSION) {
      const error = new SandboxError('INTERNAL', `protocol version mismatch: host ${message.v}, worker ${PROTOCOL_VERSION}`)
      post({ v: PROTOCOL_VERSION, id: message.id, type: 'error', error: error.toJSON(), report: guest?.report() ?? EMPTY_REPORT })
      return
    }
    if (message.type === 'init') {
      mailbox = message.mailbox ? new Mailbox(message.mailbox) : null
      channel = message.channel ? new CallChannel(message.channel, message.spinSlots ?? null) : null
      void init(message.id, message.module, message.settings)
      return
    }
    handledMessages++
    const g = guest
    if (!g) return
    if (message.type === 'profile') {
      post({ v: PROTOCOL_VERSION, id: message.id, type: 'result', value: readProfile(g.instance), report: g.report() })
      serveChannel()
      return
    }
    if (message.type === 'reset') {
      guest = null
      void init(message.id, message.module ?? g.module, message.settings ?? g.settings)
      return
    }
    void (async () => {
      handling++
      currentId = message.id
      const calls = message.type === 'call' ? [message.call] : message.calls
      for (let index = 0; index < calls.length; index++) {
        await renewing
        const current = guest ?? g
        const outcome = await current.runRequest(engine, makeHost, calls[index]!)
        postOutcome(message.id, outcome, message.type === 'batch' ? index : undefined)
        await renewAfter(current, calls[index]!, outcome)
      }
      // Serving the channel blocks this thread: only once no message is still being handled
      // (the next call can arrive while an instance is being replaced).
      if (--handling === 0) serveChannel()
    })()
  })
}

function isCommandResult(value: unknown): value is CommandResult {
  return typeof value === 'object' && value !== null && (value as CommandResult).stdout instanceof Uint8Array && 'files' in value
}

/** The buffers of a command's output, moved rather than copied to the host. */
function commandBuffers(result: CommandResult): ArrayBufferLike[] {
  return [result.stdout.buffer, result.stderr.buffer, ...Object.values(result.files).flatMap((files) => Object.values(files).map((f) => f.buffer))]
}
