import { SandboxError } from '../errors/index.js'
import { createMeterControl, MAX_FUEL, METER_EXPORTS, type MeterControl } from '../meter/meter-control.js'
import type { CallReport, CallRequest, CommandResult, GuestSettings } from '../protocol/messages.js'
import type { CommandOptions } from '../protocol/wasi-settings.js'
import { WasiHost, type WasiPlatform } from '../wasi/wasi-host.js'
import { WASIProcExit } from '@bjorn3/browser_wasi_shim'
import { instantiateComponent, type ComponentEngine } from '../component/component-guest.js'
import type { FetchRequest, FetchResult } from '../protocol/fetch.js'
import { callBytes } from './bytes-abi.js'
import { classifyError } from './classify-error.js'

/** The engine capabilities the guest side needs; each worker (or an inline sandbox) passes its own. */
export interface GuestEngine extends WasiPlatform, Partial<Omit<ComponentEngine, 'instantiate'>> {
  instantiate(module: unknown, imports: Record<string, Record<string, unknown>>): Promise<{ exports: object }>
}

/** How a guest reaches its host functions: through the mailbox (a worker) or directly (inline). */
export interface GuestHost {
  /** Import calls made during the current call. */
  readonly count: number
  /** Set once a host function failed: the call reports HOST_ERROR even if the guest swallowed it. */
  readonly failure: Error | null
  /** Clears the per-call state. */
  reset(): void
  /** The import object: module -> name -> function. */
  object(): Record<string, Record<string, unknown>>
  /** Outgoing HTTP of a component. */
  fetch?(request: FetchRequest): FetchResult
}

/** WASI state a call reads back: preview1 (`WasiHost`) or 0.2 (`ComponentWasi`). */
type GuestWasi = Pick<WasiHost, 'stdout' | 'stderr' | 'exitCode' | 'files' | 'takeEvents'>

export type Outcome = { ok: true; value: unknown; report: CallReport } | { ok: false; error: SandboxError; report: CallReport }

/** Makes the host-function side of one instance, once its exports exist (for `ctx`). */
export type GuestHostFactory = (settings: GuestSettings, exports: () => Record<string, unknown>) => GuestHost

/** An export the guest does not have (or that is not a function). */
export function missingExport(fn: string, what = 'the module'): SandboxError {
  return new SandboxError('NO_SUCH_EXPORT', `${what} has no exported function ${JSON.stringify(fn)}`, { export: fn })
}

/**
 * One live instance of a metered module (or component) and its meter: runs calls one at a
 * time, each under a fresh fuel budget and call depth, and classifies what they throw. Both
 * the worker (`serve-guest.ts`) and an inline sandbox run calls through it.
 */
export class GuestInstance {
  private constructor(
    readonly settings: GuestSettings,
    readonly module: unknown,
    readonly instance: { exports: object },
    readonly exports: Record<string, unknown>,
    /** Exported functions by fast-channel index. */
    readonly functions: unknown[],
    readonly control: MeterControl,
    readonly host: GuestHost,
    readonly wasi: GuestWasi | null,
  ) {}

  /**
   * A new instance of `module` with its own host-function side and (if granted) WASI state;
   * runs the module's start function under the fuel budget. `command` gives a WASI command
   * run its own arguments and stdio.
   */
  static async create(engine: GuestEngine, module: unknown, settings: GuestSettings, makeHost: GuestHostFactory, command: CommandOptions | null = null): Promise<GuestInstance> {
    let exports: Record<string, unknown> = {}
    const host = makeHost(settings, () => exports)
    if (settings.component) {
      if (!engine.importModule || !engine.preview2) throw new SandboxError('CONFIG', 'this runtime cannot run components')
      const component = await instantiateComponent(engine as GuestEngine & ComponentEngine, module as Record<string, unknown>, settings, command, (request) => host.fetch!(request))
      return new GuestInstance(settings, module, component.instances[0] ?? { exports: {} }, component.exports, [], component.control, host, component.wasi)
    }
    const wasi = settings.wasi ? new WasiHost(settings.wasi, command, engine, settings.memoryBytes) : null
    const imports = host.object()
    if (wasi) imports.wasi_snapshot_preview1 = wasi.imports
    const instance = await engine.instantiate(module, imports)
    exports = instance.exports as Record<string, unknown>
    const control = createMeterControl(instance, settings.fuel ?? MAX_FUEL, settings.stackDepth)
    wasi?.bind(instance)
    // The meter turned the start function into an export so its traps can be classified.
    const start = exports[METER_EXPORTS.start]
    try {
      if (typeof start === 'function') start()
      if (host.failure) throw host.failure
    } catch (error) {
      throw classifyError(host.failure ?? error, control, settings, null)
    }
    return new GuestInstance(settings, module, instance, exports, settings.exportNames.map((n) => exports[n]), control, host, wasi)
  }

  /** A WASI reactor initializes itself once (a command runs per `runCommand` instead). */
  initialize(): void {
    if (typeof this.exports._initialize !== 'function' || typeof this.exports._start === 'function') return
    const outcome = this.run('_initialize', () => (this.exports._initialize as () => void)())
    if (!outcome.ok) throw outcome.error
  }

  /** Fuel the instance's start functions used, to bill to its first call (`billStartToFirstCall`). */
  private unbilledStart = 0n

  /**
   * For an instance made to replace one (a component after a trap): what its start functions
   * used goes on its first call's bill, so a guest cannot run a budget of start code unbilled
   * every time it traps.
   */
  billStartToFirstCall(): void {
    this.unbilledStart = this.control.used()
  }

  /** What the last call used. */
  report(): CallReport {
    const report: CallReport = { fuelUsed: this.control.used() + this.unbilledStart, memoryBytes: this.control.memoryBytes() ?? 0, hostCalls: this.host.count }
    const audit = this.wasi?.takeEvents()
    if (audit?.length) report.audit = audit
    return report
  }

  /** Runs `invoke` as call `fn` under a fresh budget (`fuel`, or the sandbox's). */
  run(fn: string, invoke: () => unknown, fuel?: bigint): Outcome {
    this.control.set(fuel ?? this.settings.fuel ?? MAX_FUEL)
    this.host.reset()
    try {
      const value = invoke()
      if (this.host.failure) throw this.host.failure
      if (this.wasi?.exitCode != null) throw new WASIProcExit(this.wasi.exitCode) // the guest swallowed proc_exit
      return { ok: true, value, report: this.report() }
    } catch (error) {
      this.control.noteTrap(error) // fast metering charges a trapped call its whole budget
      if (error instanceof WASIProcExit || this.wasi?.exitCode != null) {
        if (fn === '_start') return { ok: false, error: new SandboxError('TRAP', 'exited', { export: fn }), report: this.report() }
        const code = this.wasi?.exitCode ?? (error as WASIProcExit).code
        return { ok: false, error: new SandboxError('TRAP', `${fn}() ended the program: proc_exit(${code})`, { trap: `proc_exit(${code})`, export: fn }), report: this.report() }
      }
      return { ok: false, error: classifyError(this.host.failure ?? error, this.control, this.settings, fn), report: this.report() }
    } finally {
      this.unbilledStart = 0n // billed once
    }
  }

  /** Calls export `fn` with `args` (or, as a bytes call, with `input`). */
  invoke(fn: string, args: readonly unknown[], input?: Uint8Array): unknown {
    if (input) return callBytes(this.exports, fn, input, this.settings.maxReplyBytes)
    const f = this.exports[fn]
    if (typeof f !== 'function') throw missingExport(fn)
    const value = f(...args)
    if (!this.settings.component && !isPlainResult(value)) {
      // A funcref (a live guest function) or an externref would let the caller run guest code
      // outside any call, or could not cross to the host: only numbers leave the sandbox.
      throw new SandboxError('TRAP', `${fn}() returned a reference (a function or a host object): only numbers and null references cross into JavaScript`, { export: fn, trap: 'reference result' })
    }
    return value
  }

  /** One request: a call, a bytes call or a WASI command. */
  async runRequest(engine: GuestEngine, makeHost: GuestHostFactory, call: CallRequest): Promise<Outcome> {
    if (call.command) return this.runCommand(engine, makeHost, call.command, call.fuel)
    return this.run(call.fn, () => this.invoke(call.fn, call.args, call.bytes ? call.args[0] as Uint8Array : undefined), call.fuel)
  }

  /** A WASI command: `_start` on a fresh instance of the same module, with its own stdio. */
  async runCommand(engine: GuestEngine, makeHost: GuestHostFactory, command: CommandOptions, fuel?: bigint): Promise<Outcome> {
    let fresh: GuestInstance
    try {
      fresh = await GuestInstance.create(engine, this.module, this.settings, makeHost, command)
    } catch (error) {
      return { ok: false, error: classifyError(error, null, this.settings, '_start'), report: { fuelUsed: 0n, memoryBytes: 0, hostCalls: 0 } }
    }
    const outcome = fresh.run('_start', () => {
      if (typeof fresh.exports._start !== 'function') throw new SandboxError('NO_SUCH_EXPORT', 'runCommand needs a WASI command: the module does not export _start', { export: '_start' })
      ;(fresh.exports._start as () => void)()
    }, fuel)
    const wasi = fresh.wasi!
    if (!outcome.ok && wasi.exitCode === null) {
      // What the program wrote before it failed (a panic message, an assert) says why.
      const details = { ...outcome.error.toJSON(), stdoutBytes: wasi.stdout.bytes(), stderrBytes: wasi.stderr.bytes() }
      return { ...outcome, error: new SandboxError(outcome.error.code, outcome.error.message, details) }
    }
    const result: CommandResult = { exitCode: wasi.exitCode ?? 0, stdout: wasi.stdout.bytes(), stderr: wasi.stderr.bytes(), files: wasi.files() }
    return { ok: true, value: result, report: outcome.report }
  }
}

/** What a core export may return to the caller: numbers, bigints, nothing, null references, or a list of those (multi-value). */
function isPlainResult(value: unknown): boolean {
  if (value === undefined || value === null || typeof value === 'number' || typeof value === 'bigint') return true
  return Array.isArray(value) && value.every((v) => v === null || typeof v === 'number' || typeof v === 'bigint')
}
