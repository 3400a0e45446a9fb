import { SandboxError } from '../errors/index.js'
import { createMeterControl, MAX_FUEL, METER_EXPORTS, type MeterControl } from '../meter/meter-control.js'
import { PROTOCOL_VERSION, type CallReport, type Endpoint, type GuestSettings, type HostMessage, type WorkerMessage } from '../protocol/messages.js'
import { classifyError } from './classify-error.js'

/** The engine capabilities the guest side needs; each worker passes its own. */
export interface GuestEngine {
  instantiate(module: unknown, imports: Record<string, Record<string, unknown>>): Promise<{ exports: object }>
}

/**
 * The worker side of a sandbox: instantiates the metered module on `init` and runs calls,
 * one at a time, resetting the fuel budget and call depth before each.
 */
export function serveGuest(endpoint: Endpoint<HostMessage, WorkerMessage>, engine: GuestEngine): void {
  let settings: GuestSettings | null = null
  let exports: Record<string, unknown> = {}
  let control: MeterControl | null = null

  const report = (): CallReport => ({ fuelUsed: control?.used() ?? 0n, memoryBytes: control?.memoryBytes() ?? 0 })
  const fail = (id: number, error: unknown, fn: string | null): void => {
    endpoint.post({ v: PROTOCOL_VERSION, id, type: 'error', error: classifyError(error, control, settings!, fn).toJSON(), report: report() })
  }

  endpoint.onMessage(async (message) => {
    if (message.v !== PROTOCOL_VERSION) {
      const error = new SandboxError('INTERNAL', `protocol version mismatch: host ${message.v}, worker ${PROTOCOL_VERSION}`)
      endpoint.post({ v: PROTOCOL_VERSION, id: message.id, type: 'error', error: error.toJSON(), report: report() })
      return
    }
    switch (message.type) {
      case 'init': {
        settings = message.settings
        try {
          // The budget for the start function is baked into the module by meter().
          const instance = await engine.instantiate(message.module, {})
          exports = instance.exports as Record<string, unknown>
          control = createMeterControl(instance, settings.fuel ?? MAX_FUEL, settings.stackDepth)
          // The meter turned the start function into an export so its traps can be classified.
          const start = exports[METER_EXPORTS.start]
          if (typeof start === 'function') start()
          endpoint.post({ v: PROTOCOL_VERSION, id: message.id, type: 'ready', report: report() })
        } catch (error) {
          fail(message.id, error, null)
        }
        return
      }
      case 'call': {
        const fn = exports[message.fn]
        if (typeof fn !== 'function' || control === null) {
          fail(message.id, new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(message.fn)}`, { export: message.fn }), message.fn)
          return
        }
        control.set(settings!.fuel ?? MAX_FUEL)
        try {
          const value = fn(...message.args)
          endpoint.post({ v: PROTOCOL_VERSION, id: message.id, type: 'result', value, report: report() })
        } catch (error) {
          fail(message.id, error, message.fn)
        }
      }
    }
  })
}
