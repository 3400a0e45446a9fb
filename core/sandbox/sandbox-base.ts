import { SandboxError, type SerializedError, type Usage } from '../errors/index.js'
import { encodeFetchResult, type FetchRequest } from '../component/wasi-http.js'
import { fetchForGuest, type NetworkFetch } from '../component/host-fetch.js'
import { MAX_FUEL, type FunctionProfile } from '../meter/meter-control.js'
import type { ExportDescriptor } from '../meter/module-types.js'
import { normalizeOptions } from '../policy/normalize.js'
import type { NormalizedPolicy, SandboxOptions } from '../policy/options.js'
import { parseDuration } from '../policy/units.js'
import { CallChannel, CHANNEL_DATA_BYTES, channelSupported, Done, RING_INPUT_BYTES } from '../protocol/call-channel.js'
import { CallPipeline } from './call-pipeline.js'
import { Mailbox } from '../protocol/mailbox.js'
import { PROTOCOL_VERSION, type CallReport, type CallRequest, type CommandResult, type HostMessage, type WorkerMessage } from '../protocol/messages.js'
import { MAX_AUDIT_EVENTS, type SecurityEvent } from '../audit/security-event.js'
import { AuditRing } from '../audit/audit-ring.js'
import { MetricsRecorder, type Metrics } from '../observe/metrics.js'
import { parseManifest, type PluginManifest } from '../manifest/plugin-manifest.js'
import { sourceHash } from './module-cache.js'
import type { CommandOptions } from '../wasi/wasi-settings.js'
import { wasiSettings } from '../wasi/wasi-settings-from-options.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { splitCallArgs, toWasmArgs, type CallOptions } from './call-args.js'
import { checkImports } from './check-imports.js'
import { checkWitArgs } from '../component/wit-args.js'
import { HostCallSession } from './host-context.js'
import type { Platform, WorkerHandle } from './platform.js'
import { prepareModule, type PreparedModule } from './prepare-module.js'
import { addUsage, emptyUsage } from './usage.js'
import { cancelled, compareModules, forTransfer, noSuchExport } from './sandbox-helpers.js'
import type { BatchCall, BatchResult, CommandOutput, ProfileEntry, ReloadReport, SandboxOwner } from './sandbox-types.js'

/** Errors of a call whose worker was stopped from outside, so it could not report its usage. */
const STOPPED_FROM_OUTSIDE: ReadonlySet<string> = new Set(['TIMEOUT', 'CANCELLED'])

type Reply = Extract<WorkerMessage, { type: 'ready' | 'result' | 'error' }>

/** Errors after which the instance may be half-way through something (see `replaceAfterFaults`). */
const GUEST_FAULTS: ReadonlySet<string> = new Set(['TRAP', 'FUEL_EXHAUSTED', 'STACK_OVERFLOW', 'MEMORY_LIMIT', 'HOST_ERROR'])

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** A live worker and the requests waiting on it. */
interface Live {
  worker: WorkerHandle
  mailbox: Mailbox | null
  /** The shared-memory call path, where SharedArrayBuffer is available. */
  channel: CallChannel | null
  pending: Map<number, (reply: Reply | SandboxError) => void>
  /**
   * Host-function calls in progress, innermost last: a host function's `ctx.alloc` or
   * `ctx.call` runs guest code, which may call another import; the worker's answers are
   * for the innermost one until it has returned.
   */
  sessions: HostCallSession[]
  /** Set once the worker is stopped or has died: nothing more is sent to it. */
  dead: boolean
  /** Called when the worker reports it begins instantiating. */
  onStarting?: () => void
}

/**
 * The runtime-agnostic sandbox. Each adapter subclasses it as `Sandbox`, supplying its
 * {@link Platform} as the static `platform`.
 *
 * One worker runs one instance; calls are queued and run one at a time. A call that traps
 * leaves the instance as the trap left it (like an engine would); a call that times out or
 * is cancelled kills the worker, and the next call starts a fresh instance of the same
 * compiled module.
 */
export class SandboxBase {
  protected static platform: Platform

  /** Usage of the last finished call (also on the error of a failed one). */
  lastUsage: Usage | null = null
  private readonly total: Usage
  private live: Live | null = null
  private starting: Promise<Live> | null = null
  private queue: Promise<unknown> = Promise.resolve()
  /** Bytes calls the worker runs back to back (see `CallPipeline`). */
  private readonly pipeline: CallPipeline<Live> = new CallPipeline<Live>({
    worker: () => this.worker(),
    nextId: () => this.nextId++,
    record: (fn, report, wallMs, error) => this.record(fn, report, wallMs, error),
    serveHostCall: (live, index, args) => this.serveHostCall(live, index, args),
    afterFailure: () => this.beforeCall(),
    kill: (reason, live) => void this.kill(reason, live),
    setTimer: (callback, ms) => this.platform.setTimer(callback, ms),
    clearTimer: (handle) => { if (handle !== null) this.platform.clearTimer(handle) },
  })
  /** See `replaceAfterFaults`. */
  private faultsReplace = false
  /** A call failed with a guest fault: the instance is replaced before the next. */
  private faulted = false
  private nextId = 1
  private closed = false
  private readonly auditLog = new AuditRing<SecurityEvent>(MAX_AUDIT_EVENTS)
  /** Calls queued or running: while there are none, the worker does not keep the process alive. */
  private active = 0
  private readonly metricsRecorder = new MetricsRecorder()
  private owner: SandboxOwner | null = null
  /** A manifest's entry points: the only exports callers see. */
  private entryPoints: Set<string> | null = null

  protected constructor(
    private readonly platform: Platform,
    private prepared: PreparedModule,
    protected readonly policy: NormalizedPolicy,
  ) {
    this.total = emptyUsage(null) // fuel budgets are per call: the total has none (see usage())
  }

  /**
   * Loads, validates, meters and compiles `source`, checks its imports against the policy
   * and starts its worker (running the start function, if any, under the fuel budget).
   */
  static async create<T extends SandboxBase>(
    this: { prototype: T },
    source: unknown,
    options: SandboxOptions = {},
    /** @internal An owner that accounts for the sandbox (a tenant); released on close, or on failure here. */
    owner: SandboxOwner | null = null,
  ): Promise<T> {
    try {
      return await (this as unknown as typeof SandboxBase).start(source, options, owner) as T
    } catch (error) {
      owner?.release()
      throw error
    }
  }

  private static async start(source: unknown, options: SandboxOptions, owner: SandboxOwner | null): Promise<SandboxBase> {
    const Self = this as unknown as { platform: Platform; new (platform: Platform, prepared: PreparedModule, policy: NormalizedPolicy): SandboxBase }
    const policy = normalizeOptions(options)
    const prepared = await prepareModule(Self.platform, source, policy)
    try {
      checkImports(prepared.info, policy)
    } catch (error) {
      for (const name of (error as SandboxError).imports ?? []) {
        policy.onEvent?.({ type: 'audit', time: Date.now(), capability: 'import', operation: 'link', detail: `${name} is not granted by the policy` })
      }
      throw error
    }
    if (prepared.settings.hostImports.length > 0 && !(Self.platform.sharedMemory && typeof SharedArrayBuffer !== 'undefined')) {
      const suggestion = 'serve the page cross-origin isolated, with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp'
      throw new SandboxError('CONFIG', `imports: host functions need SharedArrayBuffer, which this page does not have; ${suggestion}`, { field: 'imports', suggestion })
    }
    const sandbox = new Self(Self.platform, prepared, policy)
    sandbox.owner = owner // charged for the start function; from here on, close() releases it
    try {
      await sandbox.worker()
    } catch (error) {
      sandbox.owner = null // the caller releases it
      await sandbox.close()
      throw error
    }
    return sandbox
  }

  /**
   * A sandbox from a plugin manifest (an object or JSON text; see `PluginManifest`): checks
   * the manifest, loads the module from its `path` or `url`, verifies its SHA-256 before
   * anything runs (a mismatch is SECURITY_VIOLATION), applies its `permissions`, and
   * exposes only its `entryPoints`. `options` adds what JSON cannot carry: host functions
   * and `onEvent`.
   */
  /**
   * A plugin manifest checked, and its module loaded and verified against its SHA-256 (a
   * mismatch is SECURITY_VIOLATION): what `fromManifest` runs, for whoever builds something
   * else from a manifest (a pool, the MCP server).
   */
  static async loadManifest(manifest: PluginManifest | string): Promise<{ manifest: PluginManifest; source: Uint8Array | string }> {
    const m = parseManifest(manifest)
    const loaded = await this.platform.loadSource(m.module.path ?? m.module.url!) // a URL string is fetched
    if (loaded.kind === 'module') throw new SandboxError('CONFIG', 'manifest.module must name a file or URL', { field: 'manifest.module' })
    const bytes = loaded.kind === 'text' ? encodeUtf8(loaded.text) : loaded.bytes
    const actual = await sourceHash(bytes)
    if (actual === null) throw new SandboxError('CONFIG', 'cannot verify manifest.module.sha256: this runtime has no Web Crypto (an insecure page?)', { field: 'manifest.module.sha256' })
    if (actual !== m.module.sha256) {
      throw new SandboxError('SECURITY_VIOLATION', `plugin ${m.id}: the module's SHA-256 is ${actual}, the manifest says ${m.module.sha256}`, {
        capability: 'integrity', suggestion: 'the module changed since the manifest was written: check where it came from, then update the digest',
      })
    }
    return { manifest: m, source: loaded.kind === 'text' ? loaded.text : bytes }
  }

  static async fromManifest<T extends SandboxBase>(this: { prototype: T }, manifest: PluginManifest | string, options: Pick<SandboxOptions, 'imports' | 'onEvent'> = {}): Promise<T> {
    const Self = this as unknown as typeof SandboxBase
    const { manifest: m, source } = await Self.loadManifest(manifest)
    const sandbox = await Self.create(source, { ...m.permissions, ...options })
    sandbox.entryPoints = m.entryPoints ? new Set(m.entryPoints) : null
    const missing = m.entryPoints?.find((name) => !sandbox.prepared.info.exports.some((e) => e.name === name && e.kind === 'function'))
    if (missing) {
      await sandbox.close()
      throw new SandboxError('LINK_ERROR', `plugin ${m.id}: entry point ${JSON.stringify(missing)} is not an exported function of the module`, { export: missing })
    }
    return sandbox as T
  }

  /** Calls an exported function. A trailing `{ signal, timeout }` object is the call's options. */
  call(fn: string, ...args: unknown[]): Promise<any> {
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

  /** A bytes call into the pipeline, or null if it cannot go there (it then runs on its own). */
  private pipelined(fn: string, input: Uint8Array, options: CallOptions): Promise<Uint8Array> | null {
    const live = this.live
    // An owner (a tenant) admits and charges call by call; a signal may cancel one call.
    if (!live?.channel || live.dead || this.owner || options.signal || input.length > RING_INPUT_BYTES) return null
    if (this.faulted && this.pipeline.idle()) return null // `single` replaces the instance first
    let index: number | null
    try {
      index = this.fastIndex(this.checkRequest({ fn, args: [input], bytes: true }))
    } catch {
      return null // it fails on its own
    }
    if (index === null) return null
    const timeoutMs = options.timeout === undefined ? this.policy.timeoutMs : parseDuration(options.timeout, 'timeout')
    return this.pipeline.add(live, fn, index, input, timeoutMs)
  }

  /**
   * @internal For pools: after a call fails with a guest fault (a trap, fuel or memory
   * exhausted...), the next call gets a fresh instance — even one queued already.
   */
  replaceAfterFaults(): void {
    this.faultsReplace = true
  }

  /** Calls a bytes function with `value` as UTF-8 JSON and parses its UTF-8 JSON reply. */
  async callJson(fn: string, value: unknown, options: CallOptions = {}): Promise<any> {
    const text = JSON.stringify(value)
    if (text === undefined) throw new SandboxError('CONFIG', `callJson(${JSON.stringify(fn)}): the value cannot be represented as JSON`, { field: 'value', export: fn })
    const reply = await this.callBytes(fn, encodeUtf8(text), options)
    let decoded: string
    try {
      decoded = decodeUtf8(reply, true)
      return JSON.parse(decoded)
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
  async *stream(fn: string, inputs: AsyncIterable<unknown[]> | Iterable<unknown[]>, options: CallOptions = {}): AsyncGenerator<any, void, undefined> {
    const AHEAD = 8
    const inFlight: Promise<unknown>[] = []
    const iterator = (Symbol.asyncIterator in inputs ? inputs[Symbol.asyncIterator]() : (inputs as Iterable<unknown[]>)[Symbol.iterator]()) as AsyncIterator<unknown[]> | Iterator<unknown[]>
    let done = false
    try {
      for (;;) {
        while (!done && inFlight.length < AHEAD) {
          const next = await iterator.next()
          if (next.done) { done = true; break }
          const args = Array.isArray(next.value) ? next.value : [next.value]
          const pending = this.enqueue(() => this.single({ fn, args }, options))
          pending.catch(() => undefined) // surfaced when its turn comes
          inFlight.push(pending)
        }
        const head = inFlight.shift()
        if (!head) return
        yield await head
      }
    } finally {
      if (!done) await iterator.return?.()
    }
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
    const request = this.admit({ fn: '_start', args: [], command: { args: checked.args, stdin: checked.stdin, env: run.env ?? {}, ...(run.argv0 !== undefined ? { argv0: run.argv0 } : {}) } })
    const [outcome] = await this.enqueue(() => this.dispatch([request], { signal, timeout }))
    if (!outcome!.ok) throw outcome!.error
    const result = outcome!.value as CommandResult
    return {
      exitCode: result.exitCode, stdout: decodeUtf8(result.stdout), stderr: decodeUtf8(result.stderr),
      stdoutBytes: result.stdout, stderrBytes: result.stderr, files: result.files, usage: this.lastUsage!,
    }
  }

  /** Denied capability uses so far, oldest first (the last {@link MAX_AUDIT_EVENTS}). */
  audit(): SecurityEvent[] {
    return this.auditLog.toArray().map((e) => ({ ...e }))
  }

  /**
   * With `profile: true`: calls and fuel per function since the instance started, hottest
   * first, named from the module's name section where it has one (`func[12]` otherwise).
   * Fuel is each function's own segments, not its callees'.
   */
  profile(): Promise<ProfileEntry[]> {
    if (!this.policy.profile) return Promise.reject(new SandboxError('CONFIG', 'profile() needs the sandbox created with `profile: true`', { field: 'profile' }))
    return this.enqueue(async () => {
      const live = await this.worker()
      const reply = await this.request(live, { type: 'profile' })
      if (reply instanceof SandboxError) throw reply
      if (reply.type !== 'result') throw SandboxError.from((reply as { error: SerializedError }).error)
      const names = this.prepared.info.functionNames
      return (reply.value as FunctionProfile[]).map((p) => ({ name: names.get(p.index) ?? `func[${p.index}]`, index: p.index, calls: Number(p.calls), fuel: p.fuel }))
    })
  }

  /** The module's exports: `[{ name, kind, params, results }]`. */
  exports(): ExportDescriptor[] {
    return this.prepared.info.exports.filter((e) => this.visible(e.name)).map((e) => ({
      ...e, params: [...e.params], results: [...e.results], ...(e.paramNames ? { paramNames: [...e.paramNames] } : {}),
    }))
  }

  /**
   * Cumulative usage of every call so far. `fuelLimit` is null here: the budget applies to
   * each call (`lastUsage.fuelLimit`), not to the sum.
   */
  usage(): Usage {
    return { ...this.total }
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed
  }

  /** Stops the worker. Queued and running calls reject with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.owner?.release()
    await this.kill(new SandboxError('CLOSED', 'the sandbox was closed'))
  }

  /** `await using sb = await Sandbox.create(...)` closes the sandbox at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /**
   * Runs `task` once the calls queued before it have finished. A call that can be
   * `pipelined` goes into the pipeline instead, and the queue moves on at once.
   */
  private enqueue<R>(task: () => Promise<R>, pipelined?: () => Promise<R> | null): Promise<R> {
    if (this.active++ === 0) this.live?.worker.keepAlive?.(true)
    const idle = () => { if (--this.active === 0) this.live?.worker.keepAlive?.(false) }
    const step = this.queue.then(async (): Promise<{ submitted: Promise<R> } | { value: R }> => {
      const submitted = pipelined?.()
      if (submitted) return { submitted }
      await this.pipeline.drained()
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
    await this.renew()
  }

  private async single(request: CallRequest, options: CallOptions): Promise<unknown> {
    await this.beforeCall()
    const checked = this.admit(this.checkRequest(request))
    const fast = this.live?.channel ? this.fastIndex(checked) : null
    if (fast !== null) return this.fastCall(this.live!, checked, fast, options)
    const [outcome] = await this.dispatch([checked], options)
    if (!outcome!.ok) throw outcome!.error
    return outcome!.value
  }

  private async batch(calls: BatchCall[], options: CallOptions): Promise<BatchResult[]> {
    await this.beforeCall()
    if (!Array.isArray(calls)) throw new SandboxError('CONFIG', 'callBatch: expected an array of { fn, args }', { field: 'calls' })
    const results: (BatchResult | null)[] = []
    const valid: CallRequest[] = []
    for (const call of calls) {
      try {
        valid.push(this.admit(this.checkRequest({ fn: call?.fn, args: call?.args ?? [] })))
        results.push(null)
      } catch (error) {
        results.push({ ok: false, error: error as SandboxError })
      }
    }
    const outcomes = valid.length ? await this.dispatch(valid, options) : []
    return results.map((r) => r ?? outcomes.shift()!)
  }

  private visible(name: string): boolean {
    return this.entryPoints === null || this.entryPoints.has(name)
  }

  /** Asks the owner (a tenant) to admit a call: it may refuse, or lower its fuel budget. */
  private admit(request: CallRequest): CallRequest {
    let budget: bigint | undefined
    try {
      budget = this.owner?.admit()
    } catch (error) {
      this.recordAudit({ time: Date.now(), capability: 'quota', operation: request.fn, detail: (error as Error).message })
      throw error
    }
    if (budget === undefined || (this.policy.fuel !== null && budget >= this.policy.fuel)) return request
    return { ...request, fuel: budget }
  }

  /**
   * What an owner is charged for a call stopped from outside (timeout, abort): its worker was
   * stopped mid-call and cannot say what it used, so the whole budget the call had, the only
   * figure that is never less than the work done.
   */
  private wholeBudget(): bigint {
    let left: bigint | undefined
    try { left = this.owner?.admit() } catch { left = 0n }
    const budget = this.policy.fuel ?? MAX_FUEL
    return left !== undefined && left < budget ? left : budget
  }

  /** Charges the owner for what a fresh instance's start function used. */
  private chargeStart(report: CallReport): void {
    if (report.fuelUsed > 0n) this.owner?.charge({ ...emptyUsage(this.policy.fuel), fuelUsed: report.fuelUsed, calls: 0 })
  }

  /** Fuel running out under a budget the owner lowered is the owner's quota, not the call's. */
  private quotaError(request: CallRequest, error: SandboxError): SandboxError {
    if (request.fuel === undefined || error.code !== 'FUEL_EXHAUSTED' || !this.owner) return error
    const quota = this.owner.exhausted()
    this.recordAudit({ time: Date.now(), capability: 'quota', operation: request.fn, detail: quota.message })
    return quota
  }

  /** The call-channel index of a call that can take the fast path, or null. */
  private fastIndex(request: CallRequest): number | null {
    // WASI calls report audit events, which travel in messages: they take the message path.
    if (this.prepared.settings.wasi || !this.prepared.signaturesKnown) return null
    const index = this.prepared.settings.exportNames.indexOf(request.fn)
    if (index < 0) return null
    if (request.bytes) return (request.args[0] as Uint8Array).length <= CHANNEL_DATA_BYTES ? index : null
    const exp = this.prepared.info.exports.find((e) => e.name === request.fn)
    if (!CallChannel.fits(request.args) || !exp || !exp.results.every((t) => t === 'i32' || t === 'i64' || t === 'f32' || t === 'f64')) return null
    return index
  }

  /** One call through shared memory: no message, no structured clone. */
  private async fastCall(live: Live, request: CallRequest, index: number, options: CallOptions): Promise<unknown> {
    if (options.signal?.aborted) throw cancelled(request.fn)
    const id = this.nextId++
    let killed: SandboxError | null = null
    let onKilled = () => {}
    const killedSignal = new Promise<void>((resolve) => { onKilled = resolve })
    let onOutput = (_output: unknown) => {}
    const outputMessage = new Promise<unknown>((resolve) => { onOutput = resolve })
    live.pending.set(id, (reply) => {
      if (reply instanceof SandboxError) {
        killed = reply
        onKilled()
      } else if (reply.type === 'result') onOutput(reply.value) // a bytes output too large for the channel
    })
    const guard = this.guard(live, options)
    guard.arm(request.fn)
    const channel = live.channel!
    if (request.bytes) channel.sendBytes(index, request.args[0] as Uint8Array, id, request.fuel)
    else channel.sendCall(index, request.args, request.fuel)
    let done: number
    for (;;) {
      const waited = channel.waitDone()
      done = typeof waited === 'number' ? waited : await waited
      if (done !== Done.HOST_CALL) break
      const hostCall = channel.takeHostCall()
      // A host function that never settles must not outlive a timeout or cancellation.
      await Promise.race([this.serveHostCall(live, hostCall.index, hostCall.args), killedSignal])
    }
    guard.stop()
    const wallMs = this.platform.now() - guard.started()
    if (done === Done.KILLED || killed) {
      live.pending.delete(id)
      const error: SandboxError = killed ?? new SandboxError('INTERNAL', 'the sandbox worker stopped')
      error.usage = this.record(request.fn, undefined, wallMs, error)
      throw error
    }
    const answer = channel.readAnswer()
    if (!answer.ok) {
      live.pending.delete(id)
      const error = this.quotaError(request, SandboxError.from(answer.error))
      error.usage = this.record(request.fn, answer.report, wallMs, error)
      throw error
    }
    if (answer.outputByMessage) await Promise.race([outputMessage, killedSignal]) // posted before DONE: it is on its way
    live.pending.delete(id)
    if (answer.outputByMessage) {
      if (killed) {
        (killed as SandboxError).usage = this.record(request.fn, undefined, wallMs, killed)
        throw killed
      }
    }
    this.record(request.fn, answer.report, wallMs)
    if (request.bytes) return answer.outputByMessage ? await outputMessage : answer.output
    const results = this.prepared.info.exports.find((e) => e.name === request.fn)!.results.length
    return results === 1 ? answer.values[0] : results === 0 ? undefined : answer.values
  }

  /** Validates a request against the exports (throws CONFIG/NO_SUCH_EXPORT/CLOSED). */
  private checkRequest(request: CallRequest): CallRequest {
    if (this.closed) throw new SandboxError('CLOSED', `cannot call ${request.fn}(): the sandbox is closed`)
    const exp = this.prepared.info.exports.find((e) => e.name === request.fn && e.kind === 'function' && this.visible(e.name))
    if (!exp) throw noSuchExport(request.fn, this.exports())
    if (request.bytes && this.prepared.settings.component) {
      throw new SandboxError('CONFIG', `${request.fn}: callBytes and callJson use the bytes ABI of core modules; a component takes WIT values`, {
        field: 'fn', suggestion: `call it with sb.call(${JSON.stringify(request.fn)}, ...args): a list<u8> parameter takes a Uint8Array`,
      })
    }
    if (!request.bytes && this.prepared.settings.component) checkWitArgs(exp, request.args)
    if (request.bytes || !this.prepared.signaturesKnown) return request
    return { fn: request.fn, args: toWasmArgs(exp, request.args) }
  }

  /**
   * Sends calls to the worker (one `call`, or one `batch`) and collects an outcome per call.
   * The timeout applies to each call; a timeout or a crash fails the call in progress and
   * the rest go on in a fresh worker; cancelling fails all that have not finished.
   */
  private async dispatch(calls: CallRequest[], options: CallOptions): Promise<BatchResult[]> {
    const signal = options.signal
    const outcomes: BatchResult[] = []
    while (outcomes.length < calls.length) {
      const rest = calls.slice(outcomes.length)
      if (signal?.aborted) {
        for (const call of rest) outcomes.push({ ok: false, error: cancelled(call.fn) })
        break
      }
      const live = await this.worker()
      await new Promise<void>((resolve) => {
        const id = this.nextId++
        const guard = this.guard(live, options)
        const finish = () => {
          guard.stop()
          live.pending.delete(id)
          resolve()
        }
        live.pending.set(id, (reply) => {
          const wallMs = this.platform.now() - guard.started()
          if (reply instanceof SandboxError || reply.type === 'error') {
            const error = reply instanceof SandboxError ? reply : this.quotaError(calls[outcomes.length]!, SandboxError.from(reply.error))
            const report = reply instanceof SandboxError ? undefined : reply.report
            error.usage = this.record(calls[outcomes.length]!.fn, report, wallMs, error)
            outcomes.push({ ok: false, error })
            if (reply instanceof SandboxError) { // the worker is gone
              if (error.code === 'CANCELLED') while (outcomes.length < calls.length) outcomes.push({ ok: false, error: cancelled(calls[outcomes.length]!.fn) })
              return finish()
            }
          } else if (reply.type === 'result') {
            this.record(calls[outcomes.length]!.fn, reply.report, wallMs)
            outcomes.push({ ok: true, value: reply.value })
          }
          if (outcomes.length === calls.length) finish()
          else guard.arm(calls[outcomes.length]!.fn)
        })
        guard.arm(rest[0]!.fn)
        const { calls: sent, transfer } = forTransfer(rest)
        const message: HostMessage = sent.length === 1
          ? { v: PROTOCOL_VERSION, id, type: 'call', call: sent[0]! }
          : { v: PROTOCOL_VERSION, id, type: 'batch', calls: sent }
        live.worker.post(message, transfer)
        live.channel?.announceMessage()
      })
    }
    return outcomes
  }

  /**
   * The per-call timeout and the caller's AbortSignal, for one request to `live`: either
   * kills the worker, which settles what waits on it with TIMEOUT or CANCELLED. `arm(fn)`
   * (re)starts the clock for the call now running.
   */
  private guard(live: Live, options: CallOptions): { arm(fn: string): void; started(): number; stop(): void } {
    const timeoutMs = options.timeout === undefined ? this.policy.timeoutMs : parseDuration(options.timeout, 'timeout')
    let fn = ''
    let started = this.platform.now()
    let timer: unknown = null
    const onTimeout = () => void this.kill(new SandboxError('TIMEOUT', `${fn}() ran longer than the timeout of ${timeoutMs}ms; its worker was stopped`, {
      kind: 'time', limit: timeoutMs, used: Math.max(Math.round(this.platform.now() - started), timeoutMs), export: fn,
      suggestion: 'raise the `timeout` option, or set a `fuel` budget to stop runaway loops deterministically',
    }), live)
    const onAbort = () => void this.kill(cancelled(fn), live)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    return {
      arm: (name) => {
        if (timer !== null) this.platform.clearTimer(timer)
        fn = name
        started = this.platform.now()
        timer = this.platform.setTimer(onTimeout, timeoutMs)
      },
      started: () => started,
      stop: () => {
        if (timer !== null) this.platform.clearTimer(timer)
        options.signal?.removeEventListener('abort', onAbort)
      },
    }
  }

  /** Records one call's usage (as `lastUsage` and in the total) and returns it. */
  private record(fn: string, report: CallReport | undefined, wallMs: number, error?: SandboxError): Usage {
    const memoryBytes = report?.memoryBytes ?? this.total.memoryBytes
    const usage: Usage = {
      fuelUsed: report?.fuelUsed ?? 0n, fuelLimit: this.policy.fuel, memoryBytes,
      memoryPeakBytes: Math.max(this.total.memoryPeakBytes, memoryBytes), wallMs, calls: 1, traps: error ? 1 : 0,
      hostCalls: report?.hostCalls ?? 0,
    }
    this.lastUsage = usage
    if (error && this.faultsReplace && GUEST_FAULTS.has(error.code)) this.faulted = true
    addUsage(this.total, usage)
    this.metricsRecorder.record(wallMs, usage.fuelUsed, error?.code)
    this.owner?.charge(report === undefined && error && STOPPED_FROM_OUTSIDE.has(error.code) ? { ...usage, fuelUsed: this.wholeBudget() } : usage)
    for (const event of report?.audit ?? []) this.recordAudit(event)
    this.policy.onEvent?.({ type: 'call', time: Date.now(), export: fn, ok: !error, ...(error ? { code: error.code } : {}), usage: { ...usage } })
    return usage
  }

  /** Keeps an audit event (the last {@link MAX_AUDIT_EVENTS}) and tells `onEvent`. */
  protected recordAudit(event: SecurityEvent): void {
    this.auditLog.push(event)
    this.policy.onEvent?.({ type: 'audit', ...event })
  }

  /** Calls, failures by code, fuel and wall-time percentiles of this sandbox. */
  metrics(): Metrics {
    return this.metricsRecorder.snapshot()
  }

  /** The live worker, spawning and initializing one if there is none. */
  private worker(): Promise<Live> {
    if (this.closed) return Promise.reject(new SandboxError('CLOSED', 'the sandbox is closed'))
    if (this.live) return Promise.resolve(this.live)
    this.starting ??= this.spawn().finally(() => { this.starting = null })
    return this.starting
  }

  private async spawn(): Promise<Live> {
    const worker = this.platform.spawnWorker()
    const shared = typeof SharedArrayBuffer !== 'undefined' && this.platform.sharedMemory
    const mailbox = shared && needsMailboxFor(this.prepared) ? Mailbox.create() : null
    const channel = shared && channelSupported ? CallChannel.create(this.platform.parallelism) : null
    const live: Live = { worker, mailbox, channel, pending: new Map(), sessions: [], dead: false }
    worker.onMessage((message) => this.onMessage(live, message))
    worker.onExit((error) => {
      this.release(live, /out of memory|ERR_WORKER_OUT_OF_MEMORY/i.test(`${error.message} ${(error as { code?: string }).code}`)
        ? new SandboxError('MEMORY_LIMIT', `the sandbox worker ran out of JavaScript heap: ${error.message}`, { kind: 'heap', suggestion: 'pass smaller values across the boundary' })
        : new SandboxError('INTERNAL', `the sandbox worker died: ${error.message}`, { cause: error }))
    })
    // Instantiation runs the start function (and _initialize): the call timeout bounds it,
    // counted from when the worker has booted and begins.
    const limit = this.policy.timeoutMs
    let timer: unknown = null
    const info = this.prepared.info
    const what = info.hasStart ? 'instantiating the module (running its start function)'
      : info.exports.some((e) => e.name === '_initialize') ? 'instantiating the module (running its _initialize)'
      : 'instantiating the module (compiling and linking it in its worker; it has no start function)'
    live.onStarting = () => {
      timer = this.platform.setTimer(() => void this.kill(new SandboxError('TIMEOUT', `${what} took longer than the timeout of ${limit}ms`, {
        kind: 'time', limit, used: limit, suggestion: 'raise the `timeout` option, or set a `fuel` budget',
      }), live), limit)
    }
    const ready = await this.request(live, { type: 'init', module: this.prepared.module, settings: this.prepared.settings, mailbox: mailbox?.buffer ?? null, channel: channel?.buffer ?? null, spinSlots: channel?.spinSlots?.buffer as SharedArrayBuffer | undefined ?? null })
    if (timer !== null) this.platform.clearTimer(timer)
    live.onStarting = undefined // later resets are bounded by the calls that follow them
    if (ready instanceof SandboxError || ready.type === 'error') {
      await worker.terminate()
      throw ready instanceof SandboxError ? ready : SandboxError.from(ready.error)
    }
    if (this.closed) {
      await worker.terminate()
      throw new SandboxError('CLOSED', 'the sandbox was closed')
    }
    this.chargeStart(ready.report)
    this.total.memoryBytes = ready.report.memoryBytes
    this.total.memoryPeakBytes = Math.max(this.total.memoryPeakBytes, ready.report.memoryBytes)
    if (this.active === 0) worker.keepAlive?.(false) // started by create(): idle until a call
    this.live = live
    return live
  }

  /** One request answered by one reply (init, reset). */
  private request(live: Live, payload: DistributiveOmit<HostMessage, 'v' | 'id'>): Promise<Reply | SandboxError> {
    return new Promise((resolve) => {
      const id = this.nextId++
      live.pending.set(id, (reply) => { live.pending.delete(id); resolve(reply) })
      live.worker.post({ ...payload, v: PROTOCOL_VERSION, id } as HostMessage)
      if (payload.type !== 'init') live.channel?.announceMessage()
    })
  }

  /**
   * Swaps in a fresh instance — of the same module, or of `next` — once the calls before
   * it have finished. A dead worker needs nothing: the next call starts a fresh one. If the
   * new instance fails to start (its start function traps), the worker is stopped and the
   * error thrown; the next call starts afresh from the module in force.
   */
  private async renew(next?: PreparedModule): Promise<void> {
    const live = this.live
    const needsMailbox = needsMailboxFor(next ?? this.prepared)
    if (live && (live.mailbox !== null) !== needsMailbox) await this.kill(new SandboxError('CLOSED', 'replaced'), live)
    if (this.live) {
      const reply = await this.request(this.live, { type: 'reset', ...(next ? { module: next.module, settings: next.settings } : {}) })
      if (reply instanceof SandboxError || reply.type === 'error') {
        await this.kill(new SandboxError('CLOSED', 'replaced'), this.live ?? undefined)
        throw reply instanceof SandboxError ? reply : SandboxError.from(reply.error)
      }
      if (reply.type === 'ready') this.chargeStart(reply.report)
    }
    if (next) this.prepared = next
  }

  /** A fresh instance of the module, after the calls queued before this one. */
  reset(): Promise<void> {
    return this.enqueue(() => this.renew())
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
      if (this.closed) throw new SandboxError('CLOSED', 'cannot reload: the sandbox is closed')
      const next = await prepareModule(this.platform, source, this.policy)
      checkImports(next.info, this.policy)
      const report = compareModules(this.prepared.info.exports, next.info.exports)
      if (!report.compatible && !options.force) return { ...report, applied: false }
      await this.renew(next)
      return { ...report, applied: true }
    })
  }

  private onMessage(live: Live, message: WorkerMessage): void {
    switch (message.type) {
      case 'hostcall':
        void this.serveHostCall(live, message.index, message.args)
        return
      case 'mailbox':
        live.sessions[live.sessions.length - 1]?.deliver(message.ok ? message : { ok: false, error: SandboxError.from(message.error) })
        return
      case 'fetch':
        void this.serveFetch(live, message.request)
        return
      case 'starting':
        live.onStarting?.()
        return
      default:
        live.pending.get(message.id)?.(message)
    }
  }

  /**
   * Serves one mailbox request of the blocked worker (a host call, a fetch) as the innermost
   * session: `serve` answers through it; what it throws is sent back as the failure.
   */
  private async withSession(live: Live, name: string, serve: (session: HostCallSession) => Promise<void>): Promise<void> {
    const session = new HostCallSession(live.mailbox!, name)
    live.sessions.push(session)
    try {
      await serve(session)
    } catch (error) {
      if (!live.dead) await session.fail(error)
    } finally {
      const at = live.sessions.indexOf(session)
      if (at >= 0) live.sessions.splice(at, 1)
    }
  }

  /** Fetches for a component's outgoing HTTP request while its worker waits on the mailbox. */
  private serveFetch(live: Live, request: FetchRequest): Promise<void> {
    return this.withSession(live, 'fetch', async (session) => {
      const fetchImpl = this.policy.networkFetch ?? (globalThis as unknown as { fetch: NetworkFetch }).fetch
      const result = await fetchForGuest(request, this.policy.networkAllow, fetchImpl, this.policy.memoryBytes)
      if (!result.ok && result.error.tag === 'HTTP-request-denied') this.recordAudit({ time: Date.now(), capability: 'network', operation: 'fetch', detail: `${request.url} is not in network.allow` })
      if (!live.dead) {
        await session.sendData(encodeFetchResult(result))
        await session.finish(undefined, undefined)
      }
    })
  }

  /** Runs a host function for the blocked guest and answers through the mailbox. */
  private serveHostCall(live: Live, index: number, args: unknown[]): Promise<void> {
    const imp = this.prepared.settings.hostImports[index]!
    const fn = this.policy.imports[imp.module]![imp.name]!
    return this.withSession(live, imp.module + '.' + imp.name, async (session) => {
      const result = await fn(...args, session)
      if (!live.dead) await session.finish(result, imp.results[0]) // also while the worker starts
    })
  }

  /** Stops the worker; whatever waits on it gets `reason`. The next call starts afresh. */
  private async kill(reason: SandboxError, only?: Live): Promise<void> {
    const live = only ?? this.live
    if (!live || live.dead) return
    this.release(live, reason)
    await live.worker.terminate()
  }

  /**
   * Marks a worker stopped (killed, or dead on its own): every reply awaited from it, every
   * host function awaiting `ctx`, and whatever waits on its channel gets `reason`.
   */
  private release(live: Live, reason: SandboxError): void {
    live.dead = true
    if (this.live === live) this.live = null
    for (const settle of [...live.pending.values()]) settle(reason)
    for (const session of live.sessions) session.abandon(reason)
    live.channel?.abandon()
  }
}

/** A mailbox serves host functions, and components' outgoing HTTP when the network is granted. */
function needsMailboxFor(prepared: PreparedModule): boolean {
  return prepared.settings.hostImports.length > 0 || (prepared.settings.component?.networkAllow.length ?? 0) > 0
}

/**
 * `run(source, fn, args, options)` for an adapter's Sandbox class: create, call once, close.
 */
export async function runOnce(Sandbox: { create(source: unknown, options?: SandboxOptions): Promise<SandboxBase> }, source: unknown, fn: string, args: unknown[] = [], options: SandboxOptions = {}): Promise<any> {
  const sandbox = await Sandbox.create(source, options)
  try {
    return await sandbox.call(fn, ...args)
  } finally {
    await sandbox.close()
  }
}

