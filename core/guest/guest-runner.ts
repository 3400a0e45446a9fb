import { SandboxError } from '../errors/index.js'
import { createMeterControl, MAX_FUEL, METER_EXPORTS, readProfile, type MeterControl } from '../meter/meter-control.js'
import { CallChannel } from '../protocol/call-channel.js'
import { Mailbox } from '../protocol/mailbox.js'
import {
  PROTOCOL_VERSION, type CallReport, type CallRequest, type CommandResult, type Endpoint, type GuestSettings, type HostMessage, type WorkerMessage,
} from '../protocol/messages.js'
import { callBytes } from './bytes-abi.js'
import { classifyError } from './classify-error.js'
import { HostImports } from './host-imports.js'
import { WasiHost, type WasiPlatform } from '../wasi/wasi-host.js'
import type { CommandOptions } from '../wasi/wasi-settings.js'
import { WASIProcExit } from '@bjorn3/browser_wasi_shim'
import { HTTP_HANDLER, instantiateComponent, type ComponentEngine } from '../component/component-guest.js'

/** The engine capabilities the guest side needs; each worker passes its own. */
export interface GuestEngine extends WasiPlatform, Partial<Omit<ComponentEngine, 'instantiate'>> {
  instantiate(module: unknown, imports: Record<string, Record<string, unknown>>): Promise<{ exports: object }>
}

/** WASI state a call reads back: preview1 (`WasiHost`) or 0.2 (`ComponentWasi`). */
type GuestWasi = Pick<WasiHost, 'stdout' | 'stderr' | 'exitCode' | 'files' | 'takeEvents'>

/** A live instance and its meter. */
interface Guest {
  settings: GuestSettings
  module: unknown
  exports: Record<string, unknown>
  instance: { exports: object }
  /** Exported functions by fast-channel index. */
  functions: unknown[]
  control: MeterControl
  host: HostImports
  wasi: GuestWasi | null
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
  const report = (g: Guest | null = guest): CallReport => {
    const audit = g?.wasi?.takeEvents()
    return {
      fuelUsed: g?.control.used() ?? 0n, memoryBytes: g?.control.memoryBytes() ?? 0, hostCalls: g?.host.count ?? 0,
      ...(audit?.length ? { audit } : {}),
    }
  }

  /** Runs one call under a fresh budget. */
  const run = (g: Guest, fn: string, invoke: () => unknown, fuel?: bigint): Outcome => {
    g.control.set(fuel ?? g.settings.fuel ?? MAX_FUEL)
    g.host.reset()
    try {
      const value = invoke()
      if (g.host.failure) throw g.host.failure
      if (g.wasi?.exitCode != null) throw new WASIProcExit(g.wasi.exitCode) // the guest swallowed proc_exit
      return { ok: true, value, report: report(g) }
    } catch (error) {
      g.control.noteTrap(error) // fast metering charges a trapped call its whole budget
      if (error instanceof WASIProcExit || g.wasi?.exitCode != null) {
        if (fn === '_start') return { ok: false, error: new SandboxError('TRAP', 'exited', { export: fn }), report: report(g) }
        const code = g.wasi?.exitCode ?? (error as WASIProcExit).code
        return { ok: false, error: new SandboxError('TRAP', `${fn}() ended the program: proc_exit(${code})`, { trap: `proc_exit(${code})`, export: fn }), report: report(g) }
      }
      return { ok: false, error: classifyError(g.host.failure ?? error, g.control, g.settings, fn), report: report(g) }
    }
  }

  const runRequest = async (g: Guest, call: CallRequest): Promise<Outcome> => {
    if (call.command) return runCommand(g, call.command, call.fuel)
    return run(g, call.fn, () => invoke(g, call), call.fuel)
  }

  /** A replacement instance being made; calls wait for it. */
  let renewing: Promise<void> = Promise.resolve()
  /** Messages whose handling has not finished. */
  let handling = 0

  /**
   * After a call has been answered: a component instance that trapped must not be entered
   * again (jco enforces it), and an HTTP handler serves one request per instance (as
   * wasi:http's proxy world has it), so they are replaced before the next call.
   */
  const renewAfter = (g: Guest, call: CallRequest, outcome: Outcome): Promise<void> => {
    if (!g.settings.component || guest !== g || call.command || (outcome.ok && call.fn !== HTTP_HANDLER)) return renewing
    renewing = instantiate(g.module, g.settings, null, g.channel).then((fresh) => { guest = fresh }, () => {
      // the next call reports it
    })
    return renewing
  }

  /** A WASI command: `_start` on a fresh instance of the same module, with its own stdio. */
  const runCommand = async (g: Guest, command: CommandOptions, fuel?: bigint): Promise<Outcome> => {
    let fresh: Guest
    try {
      fresh = await instantiate(g.module, g.settings, command, g.channel)
    } catch (error) {
      return { ok: false, error: classifyError(error, null, g.settings, '_start'), report: report(null) }
    }
    const outcome = run(fresh, '_start', () => {
      const start = fresh.exports._start
      if (typeof start !== 'function') throw new SandboxError('NO_SUCH_EXPORT', 'runCommand needs a WASI command: the module does not export _start', { export: '_start' })
      start()
    }, fuel)
    const exitCode = fresh.wasi!.exitCode
    if (!outcome.ok && exitCode === null) {
      // What the program wrote before it failed (a panic message, an assert) says why.
      const details = { ...outcome.error.toJSON(), stdoutBytes: fresh.wasi!.stdout.bytes(), stderrBytes: fresh.wasi!.stderr.bytes() }
      return { ...outcome, error: new SandboxError(outcome.error.code, outcome.error.message, details) }
    }
    const result: CommandResult = { exitCode: exitCode ?? 0, stdout: fresh.wasi!.stdout.bytes(), stderr: fresh.wasi!.stderr.bytes(), files: fresh.wasi!.files() }
    return { ok: true, value: result, report: outcome.report }
  }

  const invoke = (g: Guest, call: CallRequest): unknown => {
    if (call.bytes) return callBytes(g.exports, call.fn, call.args[0] as Uint8Array, g.settings.maxReplyBytes)
    const fn = g.exports[call.fn]
    if (typeof fn !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(call.fn)}`, { export: call.fn })
    return fn(...call.args)
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
    if (!g?.channel) return
    g.channel.serve(handledMessages, (index, args, fuel, input) => {
      currentId = 0
      const name = g.settings.exportNames[index] ?? ''
      const fn = g.functions[index]
      inChannelCall = true
      try {
        return run(g, name, () => {
          if (input) return callBytes(g.exports, name, input, g.settings.maxReplyBytes)
          if (typeof fn !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(name)}`, { export: name })
          return fn(...args)
        }, fuel)
      } finally {
        inChannelCall = false
      }
    }, (callId, output, outputReport) => post({ v: PROTOCOL_VERSION, id: callId, type: 'result', value: output, report: outputReport }, [output.buffer]))
  }

  /**
   * A new instance of `module` with its own host-function stubs and (if granted) WASI state;
   * runs the module's start function under the fuel budget.
   */
  const instantiate = async (module: unknown, settings: GuestSettings, command: CommandOptions | null, channel: CallChannel | null): Promise<Guest> => {
    const g = { settings, module, channel } as Guest
    if (settings.component) {
      if (!engine.importModule || !engine.preview2) throw new SandboxError('CONFIG', 'this worker cannot run components')
      g.host = new HostImports([], mailbox, endpoint, { exports: () => ({}), callId: () => currentId, nestedCall: () => undefined, channel: () => null })
      const component = await instantiateComponent(engine as GuestEngine & ComponentEngine, module as Record<string, unknown>, settings, command, (request) => g.host.fetch(request))
      g.exports = component.exports
      g.instance = component.instances[0] ?? { exports: {} }
      g.functions = []
      g.control = component.control
      g.wasi = component.wasi
      return g
    }
    g.host = new HostImports(settings.hostImports, mailbox, endpoint, {
      exports: () => g.exports ?? {},
      callId: () => currentId,
      nestedCall: (fn, args) => {
        const f = g.exports[fn]
        if (typeof f !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `ctx.call: the module has no exported function ${JSON.stringify(fn)}`, { export: fn })
        return f(...args)
      },
      channel: () => (inChannelCall ? channel : null),
    })
    const wasi = settings.wasi ? new WasiHost(settings.wasi, command, engine, settings.memoryBytes) : null
    g.wasi = wasi
    const imports = g.host.object()
    if (wasi) imports.wasi_snapshot_preview1 = wasi.imports
    const instance = await engine.instantiate(module, imports)
    g.instance = instance
    g.exports = instance.exports as Record<string, unknown>
    g.functions = settings.exportNames.map((n) => g.exports[n])
    g.control = createMeterControl(instance, settings.fuel ?? MAX_FUEL, settings.stackDepth)
    wasi?.bind(instance)
    // The meter turned the start function into an export so its traps can be classified.
    const start = g.exports[METER_EXPORTS.start]
    try {
      if (typeof start === 'function') start()
      if (g.host.failure) throw g.host.failure
    } catch (error) {
      throw classifyError(g.host.failure ?? error, g.control, settings, null)
    }
    return g
  }

  let mailbox: Mailbox | null = null

  const init = async (id: number, module: unknown, settings: GuestSettings, channel: CallChannel | null): Promise<void> => {
    currentId = id
    post({ v: PROTOCOL_VERSION, id, type: 'starting' })
    try {
      const g = await instantiate(module, settings, null, channel)
      // A WASI reactor initializes itself once; a command runs per runCommand.
      if (typeof g.exports._initialize === 'function' && typeof g.exports._start !== 'function') {
        const outcome = run(g, '_initialize', () => (g.exports._initialize as () => void)())
        if (!outcome.ok) throw outcome.error
      }
      guest = g
      post({ v: PROTOCOL_VERSION, id, type: 'ready', report: report() })
    } catch (error) {
      post({ v: PROTOCOL_VERSION, id, type: 'error', error: classifyError(error, null, settings, null).toJSON(), report: report(null) })
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
      mailbox = message.mailbox ? new Mailbox(message.mailbox) : null
      void init(message.id, message.module, message.settings, message.channel ? new CallChannel(message.channel, message.spinSlots ?? null) : null)
      return
    }
    handledMessages++
    const g = guest
    if (!g) return
    if (message.type === 'profile') {
      post({ v: PROTOCOL_VERSION, id: message.id, type: 'result', value: readProfile(g.instance), report: report() })
      serveChannel()
      return
    }
    if (message.type === 'reset') {
      guest = null
      void init(message.id, message.module ?? g.module, message.settings ?? g.settings, g.channel)
      return
    }
    void (async () => {
      handling++
      currentId = message.id
      const calls = message.type === 'call' ? [message.call] : message.type === 'batch' ? message.calls : []
      for (let index = 0; index < calls.length; index++) {
        await renewing
        const current = guest ?? g
        const outcome = await runRequest(current, calls[index]!)
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
