import { SandboxError, type Usage } from '../errors/index.js'
import type { ExportDescriptor } from '../meter/module-types.js'
import type { NormalizedPolicy, SandboxOptions } from '../policy/options.js'
import { normalizeOptions } from '../policy/normalize.js'
import { RING_INPUT_BYTES } from '../protocol/call-channel.js'
import type { CallRequest, CommandResult } from '../protocol/messages.js'
import type { SecurityEvent } from '../audit/security-event.js'
import type { Metrics } from '../observe/metrics.js'
import type { CommandOptions } from '../protocol/wasi-settings.js'
import { wasiSettings } from '../wasi/wasi-settings-from-options.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { checkWitArgs } from '../component/wit-args.js'
import { splitCallArgs, toWasmArgs, type CallOptions } from './call-args.js'
import { callsAhead } from './calls-ahead.js'
import { CallPipeline } from './call-pipeline.js'
import { callTimeoutMs } from './call-guard.js'
import { checkSandboxable } from './check-sandboxable.js'
import { InlineSession } from './inline-session.js'
import type { Platform } from './platform.js'
import { prepareModule, type PreparedModule } from './prepare-module.js'
import { compareModules, noSuchExport } from './sandbox-helpers.js'
import type { SandboxSession } from './sandbox-session.js'
import type { BatchCall, BatchResult, CommandOutput, ProfileEntry, ReloadReport, SandboxOwner } from './sandbox-types.js'
import type { CallOutcome } from './transport.js'
import { UsageRecorder } from './usage-recorder.js'
import { WorkerSession } from './worker-session.js'

/** Errors after which the instance may be half-way through something (see `replaceAfterFaults`). */
const GUEST_FAULTS: ReadonlySet<string> = new Set(['TRAP', 'FUEL_EXHAUSTED', 'STACK_OVERFLOW', 'MEMORY_LIMIT', 'HOST_ERROR'])

/**
 * The runtime-agnostic sandbox; each adapter binds it to its {@link Platform} with
 * `bindPlatform`. A call goes: queue (`enqueue`) -> check against the exports
 * (`checkRequest`) -> owner's admission (`UsageRecorder.admit`) -> the session's transport
 * (worker: call channel or messages; inline: a direct call) -> `settle`, which records its
 * usage and returns or throws.
 *
 * One instance serves one call at a time, in order. A call that traps leaves the instance
 * as the trap left it (like an engine would); a call that times out or is cancelled kills
 * the worker, and the next call starts a fresh instance of the same compiled module.
 */
export class SandboxBase {
  private readonly recorder: UsageRecorder
  private readonly session: SandboxSession
  /** The session again when it is inline (for the direct path in `call`). */
  private readonly inline: InlineSession | null = null
  private queue: Promise<unknown> = Promise.resolve()
  /** Calls queued or running. */
  private active = 0
  /** Bytes calls the worker runs back to back (see `CallPipeline`); null inline. */
  private readonly pipeline: CallPipeline | null = null
  /** See `replaceAfterFaults`. */
  private faultsReplace = false
  /** A call failed with a guest fault: the instance is replaced before the next. */
  private faulted = false
  /** A manifest's entry points: the only exports callers see. */
  private entryPoints: Set<string> | null = null
  /** Exported functions by name (for checking calls). */
  private functions: Map<string, ExportDescriptor>

  /** @internal Adapters make sandboxes with `create` (see `bindPlatform`). */
  protected constructor(private readonly platform: Platform, prepared: PreparedModule, protected readonly policy: NormalizedPolicy, owner: SandboxOwner | null) {
    this.recorder = new UsageRecorder(policy, owner)
    this.functions = functionsOf(prepared)
    if (policy.isolation === 'inline') {
      this.session = this.inline = new InlineSession(platform.guestEngine!(), platform, policy, prepared, this.recorder)
      return
    }
    const session = new WorkerSession(platform, policy, prepared, this.recorder)
    this.session = session
    this.pipeline = new CallPipeline(session, {
      record: (fn, report, wallMs, error) => this.record(fn, report, wallMs, error),
      afterFailure: () => this.beforeCall(),
    }, platform)
  }

  /**
   * @internal What `Sandbox.create` runs: loads, validates, meters and compiles `source`,
   * checks its imports against the policy and starts its instance (running the start
   * function under the fuel budget). `make` calls the adapter's constructor.
   */
  protected static async start<S extends SandboxBase>(
    platform: Platform,
    source: unknown,
    options: SandboxOptions,
    owner: SandboxOwner | null,
    make: (prepared: PreparedModule, policy: NormalizedPolicy) => S,
  ): Promise<S> {
    try {
      const policy = normalizeOptions(options)
      if (policy.isolation === 'worker') platform.prepareWorker?.()
      const prepared = await prepareModule(platform, source, policy)
      checkSandboxable(prepared, policy, platform)
      const sandbox = make(prepared, policy)
      try {
        await sandbox.session.start()
      } catch (error) {
        sandbox.recorder.owner = null // released below
        await sandbox.close()
        throw error
      }
      return sandbox
    } catch (error) {
      owner?.release()
      throw error
    }
  }

  /** @internal Restricts the callable exports to a manifest's entry points. */
  protected restrictTo(entryPoints: string[] | undefined): void {
    this.entryPoints = entryPoints ? new Set(entryPoints) : null
  }

  /** Usage of the last finished call (also on the error of a failed one). */
  get lastUsage(): Usage | null { return this.recorder.lastUsage }

  /** Calls an exported function. A trailing `{ signal, timeout }` object is the call's options. */
  call(fn: string, ...args: unknown[]): Promise<any> {
    const last = args[args.length - 1]
    if (this.inline?.ready() && this.active === 0 && !this.faulted && (typeof last !== 'object' || last === null)) {
      // Inline, idle and without options: run it now, without a trip through the queue.
      try {
        const request = this.recorder.admit(this.checkRequest({ fn, args }))
        return Promise.resolve(this.settle(request, this.inline.callNow(request)))
      } catch (error) {
        return Promise.reject(error)
      }
    }
    const split = splitCallArgs(args)
    return this.enqueue(() => this.single({ fn, args: split.args }, split.options))
  }

  /**
   * Calls a bytes function (see README, "Bytes and JSON calls"): bytes in (a string is sent
   * as UTF-8), bytes out. Bytes calls are pipelined: the worker runs those queued back to
   * back without waiting for this thread between them (see `CallPipeline`).
   */
  callBytes(fn: string, input: Uint8Array | string, options: CallOptions = {}): Promise<Uint8Array> {
    const bytes = typeof input === 'string' ? encodeUtf8(input) : input
    if (!(bytes instanceof Uint8Array)) return Promise.reject(new SandboxError('CONFIG', `callBytes(${JSON.stringify(fn)}): expected a Uint8Array or a string (sent as UTF-8)`, { field: 'input', export: fn }))
    return this.enqueue(() => this.single({ fn, args: [bytes], bytes: true }, options) as Promise<Uint8Array>, () => this.pipelined(fn, bytes, options))
  }

  /** Calls a bytes function with `value` as UTF-8 JSON and parses its UTF-8 JSON reply. */
  async callJson(fn: string, value: unknown, options: CallOptions = {}): Promise<any> {
    const text = JSON.stringify(value)
    if (text === undefined) throw new SandboxError('CONFIG', `callJson(${JSON.stringify(fn)}): the value cannot be represented as JSON`, { field: 'value', export: fn })
    const reply = await this.callBytes(fn, encodeUtf8(text), options)
    try {
      return JSON.parse(decodeUtf8(reply, true))
    } catch (error) {
      throw new SandboxError('TRAP', `${fn}() replied with ${reply.length} bytes that are not UTF-8 JSON: ${(error as Error).message}`, { trap: 'invalid JSON reply', export: fn, usage: this.lastUsage ?? undefined })
    }
  }

  /**
   * Runs calls back to back in one worker round trip. Each gets its own result or error,
   * in order; a failing call loses none of the others (after a timeout the remaining calls
   * run on a fresh instance).
   */
  callBatch(calls: BatchCall[], options: CallOptions = {}): Promise<BatchResult[]> {
    return this.enqueue(() => this.batch(calls, options))
  }

  /**
   * Calls `fn` once per argument list from `inputs`, yielding results in input order. Pulls
   * the next input only as results are consumed (a few calls ahead), so a slow consumer
   * slows the producer. The first failing call throws out of the iteration.
   */
  stream(fn: string, inputs: AsyncIterable<unknown[]> | Iterable<unknown[]>, options: CallOptions = {}): AsyncGenerator<any, void, undefined> {
    return callsAhead(inputs, (args) => this.enqueue(() => this.single({ fn, args }, options)))
  }

  /**
   * Runs a WASI command: `_start` on a fresh instance of the compiled module, with this
   * run's `args` (after the program name), `stdin` and extra `env`. Resolves with the exit
   * code (from `proc_exit`, or 0 when `_start` returns) and the captured output; a trap,
   * fuel exhaustion or timeout rejects as for any call.
   */
  async runCommand(command: CommandOptions & CallOptions = {}): Promise<CommandOutput> {
    if (!this.policy.wasi) throw new SandboxError('CONFIG', 'runCommand needs WASI: create the sandbox with `wasi: true` or `wasi: { ... }`', { field: 'wasi' })
    const { signal, timeout, ...run } = command
    const checked = wasiSettings({ ...this.policy.wasi, ...(run.args ? { args: run.args } : {}), ...(run.stdin !== undefined ? { stdin: run.stdin } : {}) }, true)!
    if (run.argv0 !== undefined && (typeof run.argv0 !== 'string' || run.argv0.includes('\0'))) throw new SandboxError('CONFIG', 'argv0: expected a string without NUL', { field: 'argv0' })
    const request = this.recorder.admit({ fn: '_start', args: [], command: { args: checked.args, stdin: checked.stdin, env: run.env ?? {}, ...(run.argv0 !== undefined ? { argv0: run.argv0 } : {}) } })
    const result = await this.enqueue(async () => this.settle(request, await this.session.transport.send(request, { signal, timeout }))) as CommandResult
    return {
      exitCode: result.exitCode, stdout: decodeUtf8(result.stdout), stderr: decodeUtf8(result.stderr),
      stdoutBytes: result.stdout, stderrBytes: result.stderr, files: result.files, usage: this.lastUsage!,
    }
  }

  /** Denied capability uses so far, oldest first (the last {@link MAX_AUDIT_EVENTS}). */
  audit(): SecurityEvent[] {
    return this.recorder.audit()
  }

  /** Calls, failures by code, fuel and wall-time percentiles of this sandbox. */
  metrics(): Metrics {
    return this.recorder.metrics()
  }

  /**
   * With `profile: true`: calls and fuel per function since the instance started, hottest
   * first, named from the module's name section where it has one (`func[12]` otherwise).
   * Fuel is each function's own segments, not its callees'.
   */
  profile(): Promise<ProfileEntry[]> {
    if (!this.policy.profile) return Promise.reject(new SandboxError('CONFIG', 'profile() needs the sandbox created with `profile: true`', { field: 'profile' }))
    return this.enqueue(async () => {
      const names = this.session.prepared.info.functionNames
      return (await this.session.profile()).map((p) => ({ name: names.get(p.index) ?? `func[${p.index}]`, index: p.index, calls: Number(p.calls), fuel: p.fuel }))
    })
  }

  /** The module's exports: `[{ name, kind, params, results }]`. */
  exports(): ExportDescriptor[] {
    return this.session.prepared.info.exports.filter((e) => (this.entryPoints?.has(e.name) ?? true)).map((e) => ({
      ...e, params: [...e.params], results: [...e.results], ...(e.paramNames ? { paramNames: [...e.paramNames] } : {}),
    }))
  }

  /**
   * Cumulative usage of every call so far. `fuelLimit` is null here: the budget applies to
   * each call (`lastUsage.fuelLimit`), not to the sum.
   */
  usage(): Usage {
    return { ...this.recorder.total }
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean { return this.session.closed }

  /** Stops the worker. Queued and running calls reject with CLOSED. */
  async close(): Promise<void> {
    if (this.session.closed) return
    this.session.closed = true
    this.recorder.owner?.release()
    await this.session.stop(new SandboxError('CLOSED', 'the sandbox was closed'))
  }

  /** `await using sb = await Sandbox.create(...)` closes the sandbox at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** A fresh instance of the module, after the calls queued before this one. */
  reset(): Promise<void> {
    return this.enqueue(() => this.session.renew())
  }

  /**
   * Hot reload: compiles `source` under the same policy and compares it with the module in
   * force. A compatible module (no export removed or changed) — or any, with `force` —
   * replaces it once the calls already queued have finished: they run on the old module,
   * later calls on the new one, and none is dropped. Resolves with the comparison and
   * whether it was applied.
   */
  reload(source: unknown, options: { force?: boolean } = {}): Promise<ReloadReport> {
    return this.enqueue(async () => {
      if (this.session.closed) throw new SandboxError('CLOSED', 'cannot reload: the sandbox is closed')
      const next = await prepareModule(this.platform, source, this.policy)
      checkSandboxable(next, this.policy, this.platform)
      const report = compareModules(this.session.prepared.info.exports, next.info.exports)
      if (!report.compatible && !options.force) return { ...report, applied: false }
      await this.session.renew(next)
      this.functions = functionsOf(next)
      return { ...report, applied: true }
    })
  }

  /**
   * @internal For pools: after a call fails with a guest fault (a trap, fuel or memory
   * exhausted...), the next call gets a fresh instance — even one queued already.
   */
  replaceAfterFaults(): void {
    this.faultsReplace = true
  }

  /** A bytes call into the pipeline, or null if it cannot go there (it then runs on its own). */
  private pipelined(fn: string, input: Uint8Array, options: CallOptions): Promise<Uint8Array> | null {
    const session = this.session
    if (!(session instanceof WorkerSession) || !this.pipeline) return null
    const live = session.current()
    // An owner (a tenant) admits and charges call by call; a signal may cancel one call.
    if (!live?.channel || live.dead || this.recorder.owner || options.signal || input.length > RING_INPUT_BYTES) return null
    if (this.faulted && this.pipeline.idle()) return null // `single` replaces the instance first
    let index: number | null
    try {
      index = session.transport.indexOf(this.checkRequest({ fn, args: [input], bytes: true }))
    } catch {
      return null // it fails on its own
    }
    if (index === null) return null
    return this.pipeline.add(live, fn, index, input, callTimeoutMs(options, this.policy))
  }

  /**
   * Runs `task` once the calls queued before it have finished. A call that can be
   * `pipelined` goes into the pipeline instead, and the queue moves on at once.
   */
  private enqueue<R>(task: () => Promise<R>, pipelined?: () => Promise<R> | null): Promise<R> {
    if (this.active++ === 0) this.session.busy(true)
    const idle = () => { if (--this.active === 0) this.session.busy(false) }
    const step = this.queue.then(async (): Promise<{ submitted: Promise<R> } | { value: R }> => {
      const submitted = pipelined?.()
      if (submitted) return { submitted }
      await this.pipeline?.drained()
      return { value: await task() }
    })
    this.queue = step.catch(() => undefined)
    const done = step.then((s) => ('submitted' in s ? s.submitted : s.value))
    done.then(idle, idle)
    return done
  }

  /** Replaces a faulted instance (see `replaceAfterFaults`) before a call. */
  private async beforeCall(): Promise<void> {
    if (!this.faulted) return
    this.faulted = false
    await this.session.renew()
  }

  private async single(request: CallRequest, options: CallOptions): Promise<unknown> {
    await this.beforeCall()
    const checked = this.recorder.admit(this.checkRequest(request))
    return this.settle(checked, await this.session.transport.send(checked, options))
  }

  private async batch(calls: BatchCall[], options: CallOptions): Promise<BatchResult[]> {
    await this.beforeCall()
    if (!Array.isArray(calls)) throw new SandboxError('CONFIG', 'callBatch: expected an array of { fn, args }', { field: 'calls' })
    const results: (BatchResult | null)[] = []
    const valid: CallRequest[] = []
    for (const call of calls) {
      try {
        valid.push(this.recorder.admit(this.checkRequest({ fn: call?.fn, args: call?.args ?? [] })))
        results.push(null)
      } catch (error) {
        results.push({ ok: false, error: error as SandboxError })
      }
    }
    const outcomes = valid.length ? await this.session.transport.sendAll(valid, options) : []
    const settled = outcomes.map((outcome, i): BatchResult => {
      try {
        return { ok: true, value: this.settle(valid[i]!, outcome) }
      } catch (error) {
        return { ok: false, error: error as SandboxError }
      }
    })
    return results.map((r) => r ?? settled.shift()!)
  }

  /** Records a finished call's usage; returns its value or throws its error (carrying the usage). */
  private settle(request: CallRequest, outcome: CallOutcome): unknown {
    if (outcome.ok) {
      this.record(request.fn, outcome.report, outcome.wallMs)
      return outcome.value
    }
    if (outcome.skipped) throw outcome.error
    // Fuel running out under a budget a tenant lowered is the tenant's quota.
    const error = outcome.report ? this.recorder.quotaError(request, outcome.error) : outcome.error
    error.usage = this.record(request.fn, outcome.report, outcome.wallMs, error)
    throw error
  }

  private record(fn: string, report: CallOutcome['report'], wallMs: number, error?: SandboxError): Usage {
    if (error && this.faultsReplace && GUEST_FAULTS.has(error.code)) this.faulted = true
    return this.recorder.record(fn, report, wallMs, error)
  }

  /** Validates a request against the exports (throws CONFIG/NO_SUCH_EXPORT/CLOSED). */
  private checkRequest(request: CallRequest): CallRequest {
    if (this.session.closed) throw new SandboxError('CLOSED', `cannot call ${request.fn}(): the sandbox is closed`)
    const exp = this.functions.get(request.fn)
    if (!exp || !(this.entryPoints?.has(request.fn) ?? true)) throw noSuchExport(request.fn, this.exports())
    const settings = this.session.prepared.settings
    if (request.bytes && settings.component) {
      throw new SandboxError('CONFIG', `${request.fn}: callBytes and callJson use the bytes ABI of core modules; a component takes WIT values`, {
        field: 'fn', suggestion: `call it with sb.call(${JSON.stringify(request.fn)}, ...args): a list<u8> parameter takes a Uint8Array`,
      })
    }
    if (!request.bytes && settings.component) checkWitArgs(exp, request.args)
    if (request.bytes || !this.session.prepared.signaturesKnown) return request
    return { fn: request.fn, args: toWasmArgs(exp, request.args) }
  }
}

function functionsOf(prepared: PreparedModule): Map<string, ExportDescriptor> {
  return new Map(prepared.info.exports.filter((e) => e.kind === 'function').map((e) => [e.name, e]))
}
