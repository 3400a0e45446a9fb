import { SandboxError } from '../errors/index.js'
import { createMeterControl, MAX_FUEL, METER_EXPORTS, type MeterControl } from '../meter/meter-control.js'
import { CallChannel } from '../protocol/call-channel.js'
import { Mailbox } from '../protocol/mailbox.js'
import {
  PROTOCOL_VERSION, type CallReport, type CallRequest, type Endpoint, type GuestSettings, type HostMessage, type WorkerMessage,
} from '../protocol/messages.js'
import { callBytes } from './bytes-abi.js'
import { classifyError } from './classify-error.js'
import { HostImports } from './host-imports.js'

/** The engine capabilities the guest side needs; each worker passes its own. */
export interface GuestEngine {
  instantiate(module: unknown, imports: Record<string, Record<string, unknown>>): Promise<{ exports: object }>
}

/** A live instance and its meter. */
interface Guest {
  settings: GuestSettings
  exports: Record<string, unknown>
  /** Exported functions by fast-channel index. */
  functions: unknown[]
  control: MeterControl
  host: HostImports
  channel: CallChannel | null
}

type Outcome = { ok: true; value: unknown; report: CallReport } | { ok: false; error: SandboxError; report: CallReport }

/**
 * The worker side of a sandbox: instantiates the metered module on `init` and runs calls,
 * one at a time, resetting the fuel budget and call depth before each. Calls arrive as
 * messages, or, when the host gave a call channel, through shared memory: between
 * messages the worker serves the channel (see `call-channel.ts`).
 */
export function serveGuest(endpoint: Endpoint<HostMessage, WorkerMessage>, engine: GuestEngine): void {
  let guest: Guest | null = null
  let currentId = 0
  let handledMessages = 0
  /** True while a call that came through the channel runs. */
  let inChannelCall = false

  const post = (message: WorkerMessage, transfer?: unknown[]) => endpoint.post(message, transfer)
  const report = (): CallReport => ({
    fuelUsed: guest?.control.used() ?? 0n, memoryBytes: guest?.control.memoryBytes() ?? 0, hostCalls: guest?.host.count ?? 0,
  })

  /** Runs one call under a fresh budget. */
  const run = (g: Guest, fn: string, invoke: () => unknown): Outcome => {
    g.control.set(g.settings.fuel ?? MAX_FUEL)
    g.host.reset()
    try {
      const value = invoke()
      if (g.host.failure) throw g.host.failure
      return { ok: true, value, report: report() }
    } catch (error) {
      return { ok: false, error: classifyError(g.host.failure ?? error, g.control, g.settings, fn), report: report() }
    }
  }

  const runRequest = (g: Guest, call: CallRequest): Outcome => run(g, call.fn, () => {
    if (call.bytes) return callBytes(g.exports, call.fn, call.args[0] as Uint8Array)
    const fn = g.exports[call.fn]
    if (typeof fn !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(call.fn)}`, { export: call.fn })
    return fn(...call.args)
  })

  const postOutcome = (id: number, outcome: Outcome, index?: number): void => {
    if (outcome.ok) {
      const transfer = outcome.value instanceof Uint8Array ? [outcome.value.buffer] : undefined
      post({ v: PROTOCOL_VERSION, id, type: 'result', value: outcome.value, report: outcome.report, index }, transfer)
    } else {
      post({ v: PROTOCOL_VERSION, id, type: 'error', error: outcome.error.toJSON(), report: outcome.report, index })
    }
  }

  /** Serves the fast channel until a message needs the event loop. */
  const serveChannel = (): void => {
    const g = guest
    if (!g?.channel) return
    g.channel.serve(handledMessages, (index, args) => {
      currentId = 0
      const name = g.settings.exportNames[index] ?? ''
      const fn = g.functions[index]
      inChannelCall = true
      try {
        return run(g, name, () => {
          if (typeof fn !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(name)}`, { export: name })
          return fn(...args)
        })
      } finally {
        inChannelCall = false
      }
    })
  }

  const init = async (id: number, message: Extract<HostMessage, { type: 'init' }>): Promise<void> => {
    const { settings } = message
    let control: MeterControl | null = null
    try {
      const host = new HostImports(settings.hostImports, message.mailbox ? new Mailbox(message.mailbox) : null, endpoint, {
        exports: () => guest?.exports ?? {},
        callId: () => currentId,
        nestedCall: (fn, args) => {
          const f = guest?.exports[fn]
          if (typeof f !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `ctx.call: the module has no exported function ${JSON.stringify(fn)}`, { export: fn })
          return f(...args)
        },
        channel: () => (inChannelCall ? guest?.channel ?? null : null),
      })
      const instance = await engine.instantiate(message.module, host.object())
      const exports = instance.exports as Record<string, unknown>
      control = createMeterControl(instance, settings.fuel ?? MAX_FUEL, settings.stackDepth)
      const channel = message.channel ? new CallChannel(message.channel) : null
      guest = { settings, exports, functions: settings.exportNames.map((n) => exports[n]), control, host, channel }
      currentId = id
      // The meter turned the start function into an export so its traps can be classified.
      const start = exports[METER_EXPORTS.start]
      if (typeof start === 'function') start()
      if (host.failure) throw host.failure
      post({ v: PROTOCOL_VERSION, id, type: 'ready', report: report() })
    } catch (error) {
      const failure = guest?.host.failure ?? error
      guest = null
      post({ v: PROTOCOL_VERSION, id, type: 'error', error: classifyError(failure, control, settings, null).toJSON(), report: report() })
      return
    }
    serveChannel()
  }

  endpoint.onMessage((message) => {
    if (message.v !== PROTOCOL_VERSION) {
      const error = new SandboxError('INTERNAL', `protocol version mismatch: host ${message.v}, worker ${PROTOCOL_VERSION}`)
      post({ v: PROTOCOL_VERSION, id: message.id, type: 'error', error: error.toJSON(), report: report() })
      return
    }
    if (message.type === 'init') {
      void init(message.id, message)
      return
    }
    handledMessages++
    const g = guest
    if (!g) return
    if (message.type === 'call') {
      currentId = message.id
      postOutcome(message.id, runRequest(g, message.call))
    } else if (message.type === 'batch') {
      currentId = message.id
      message.calls.forEach((call, index) => postOutcome(message.id, runRequest(g, call), index))
    }
    serveChannel()
  })
}
