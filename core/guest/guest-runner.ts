import { SandboxError } from '../errors/index.js'
import { createMeterControl, MAX_FUEL, METER_EXPORTS, type MeterControl } from '../meter/meter-control.js'
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
  control: MeterControl
  host: HostImports
}

/**
 * The worker side of a sandbox: instantiates the metered module on `init` and runs calls,
 * one at a time, resetting the fuel budget and call depth before each.
 */
export function serveGuest(endpoint: Endpoint<HostMessage, WorkerMessage>, engine: GuestEngine): void {
  let guest: Guest | null = null
  let currentId = 0

  const post = (message: WorkerMessage, transfer?: unknown[]) => endpoint.post(message, transfer)
  const report = (): CallReport => ({
    fuelUsed: guest?.control.used() ?? 0n, memoryBytes: guest?.control.memoryBytes() ?? 0, hostCalls: guest?.host.count ?? 0,
  })

  /** Runs one call and posts its result or error (tagged with `index` inside a batch). */
  const runCall = (id: number, call: CallRequest, index?: number): void => {
    const g = guest!
    currentId = id
    g.control.set(g.settings.fuel ?? MAX_FUEL)
    g.host.reset()
    try {
      const fn = g.exports[call.fn]
      let value: unknown
      if (call.bytes) value = callBytes(g.exports, call.fn, call.args[0] as Uint8Array)
      else if (typeof fn === 'function') value = fn(...call.args)
      else throw new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(call.fn)}`, { export: call.fn })
      if (g.host.failure) throw g.host.failure
      const transfer = value instanceof Uint8Array ? [value.buffer] : undefined
      post({ v: PROTOCOL_VERSION, id, type: 'result', value, report: report(), index }, transfer)
    } catch (error) {
      const failure = g.host.failure ?? error
      post({ v: PROTOCOL_VERSION, id, type: 'error', error: classifyError(failure, g.control, g.settings, call.fn).toJSON(), report: report(), index })
    }
  }

  const init = async (id: number, module: unknown, settings: GuestSettings, mailbox: SharedArrayBuffer | null): Promise<void> => {
    let control: MeterControl | null = null
    try {
      const host = new HostImports(settings.hostImports, mailbox ? new Mailbox(mailbox) : null, endpoint, {
        exports: () => guest?.exports ?? {},
        callId: () => currentId,
        nestedCall: (fn, args) => {
          const f = guest?.exports[fn]
          if (typeof f !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `ctx.call: the module has no exported function ${JSON.stringify(fn)}`, { export: fn })
          return f(...args)
        },
      })
      const instance = await engine.instantiate(module, host.object())
      const exports = instance.exports as Record<string, unknown>
      control = createMeterControl(instance, settings.fuel ?? MAX_FUEL, settings.stackDepth)
      guest = { settings, exports, control, host }
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
    }
  }

  endpoint.onMessage((message) => {
    if (message.v !== PROTOCOL_VERSION) {
      const error = new SandboxError('INTERNAL', `protocol version mismatch: host ${message.v}, worker ${PROTOCOL_VERSION}`)
      post({ v: PROTOCOL_VERSION, id: message.id, type: 'error', error: error.toJSON(), report: report() })
      return
    }
    switch (message.type) {
      case 'init':
        void init(message.id, message.module, message.settings, message.mailbox)
        return
      case 'call':
        runCall(message.id, message.call)
        return
      case 'batch':
        message.calls.forEach((call, index) => runCall(message.id, call, index))
    }
  })
}
