import { SandboxError, type Usage } from '../errors/index.js'
import type { ExportDescriptor } from '../meter/module-types.js'
import { normalizeOptions } from '../policy/normalize.js'
import type { NormalizedPolicy, SandboxOptions } from '../policy/options.js'
import { parseDuration } from '../policy/units.js'
import { PROTOCOL_VERSION, type CallReport, type HostMessage, type WorkerMessage } from '../protocol/messages.js'
import { splitCallArgs, toWasmArgs, type CallOptions } from './call-args.js'
import { checkImports } from './check-imports.js'
import type { Platform, WorkerHandle } from './platform.js'
import { prepareModule, type PreparedModule } from './prepare-module.js'
import { addUsage, emptyUsage } from './usage.js'

type Reply = Extract<WorkerMessage, { type: 'ready' | 'result' | 'error' }>
type Payload = HostMessage extends infer M ? (M extends unknown ? Omit<M, 'v' | 'id'> : never) : never

/** A live worker and the requests waiting on it. */
interface Live {
  worker: WorkerHandle
  pending: Map<number, (reply: Reply | SandboxError) => void>
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
  private nextId = 1
  private closed = false

  protected constructor(
    private readonly platform: Platform,
    private readonly prepared: PreparedModule,
    protected readonly policy: NormalizedPolicy,
  ) {
    this.total = emptyUsage(policy.fuel)
  }

  /**
   * Loads, validates, meters and compiles `source`, checks its imports against the policy
   * and starts its worker (running the start function, if any, under the fuel budget).
   */
  static async create<T extends SandboxBase>(this: { prototype: T }, source: unknown, options: SandboxOptions = {}): Promise<T> {
    const Self = this as unknown as { platform: Platform; new (platform: Platform, prepared: PreparedModule, policy: NormalizedPolicy): T }
    const policy = normalizeOptions(options)
    const prepared = await prepareModule(Self.platform, source, policy)
    checkImports(prepared.info, policy)
    const sandbox = new Self(Self.platform, prepared, policy)
    try {
      await sandbox.worker()
    } catch (error) {
      await sandbox.close()
      throw error
    }
    return sandbox
  }

  /** Calls an exported function. A trailing `{ signal, timeout }` object is the call's options. */
  call(fn: string, ...args: unknown[]): Promise<any> {
    const split = splitCallArgs(args)
    return this.enqueue(() => this.execute(fn, split.args, split.options))
  }

  /** The module's exports: `[{ name, kind, params, results }]`. */
  exports(): ExportDescriptor[] {
    return this.prepared.info.exports.map((e) => ({ ...e, params: [...e.params], results: [...e.results] }))
  }

  /** Cumulative usage of every call so far. */
  usage(): Usage {
    return { ...this.total }
  }

  /** Stops the worker. Queued and running calls reject with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.kill(new SandboxError('CLOSED', 'the sandbox was closed'))
  }

  private enqueue<R>(task: () => Promise<R>): Promise<R> {
    const result = this.queue.then(task, task)
    this.queue = result.catch(() => undefined)
    return result
  }

  private async execute(fn: string, rawArgs: unknown[], options: CallOptions): Promise<unknown> {
    if (this.closed) throw new SandboxError('CLOSED', `cannot call ${fn}(): the sandbox is closed`)
    const exp = this.prepared.info.exports.find((e) => e.name === fn && e.kind === 'function')
    if (!exp) throw noSuchExport(fn, this.prepared.info.exports)
    const args = this.prepared.signaturesKnown ? toWasmArgs(exp, rawArgs) : rawArgs
    const timeoutMs = options.timeout === undefined ? this.policy.timeoutMs : parseDuration(options.timeout, 'timeout')
    const signal = options.signal
    if (signal?.aborted) throw new SandboxError('CANCELLED', `${fn}() was cancelled before it started`, { export: fn })

    const live = await this.worker()
    const started = this.platform.now()
    const reply = await new Promise<Reply | SandboxError>((resolve) => {
      const id = this.nextId++
      let timer: unknown = null
      const onAbort = () => void this.kill(new SandboxError('CANCELLED', `${fn}() was cancelled`, { export: fn }))
      const settle = (value: Reply | SandboxError) => {
        if (timer !== null) this.platform.clearTimer(timer)
        signal?.removeEventListener('abort', onAbort)
        live.pending.delete(id)
        resolve(value)
      }
      live.pending.set(id, settle)
      timer = this.platform.setTimer(() => {
        const used = this.platform.now() - started
        void this.kill(new SandboxError('TIMEOUT', `${fn}() ran longer than the timeout of ${timeoutMs}ms; its worker was stopped`, {
          kind: 'time', limit: timeoutMs, used, export: fn, suggestion: 'raise the `timeout` option, or set a `fuel` budget to stop runaway loops deterministically',
        }))
      }, timeoutMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      live.worker.post({ v: PROTOCOL_VERSION, id, type: 'call', fn, args })
    })
    const wallMs = this.platform.now() - started
    const failed = reply instanceof SandboxError || reply.type === 'error'
    const report: CallReport = reply instanceof SandboxError ? { fuelUsed: 0n, memoryBytes: this.total.memoryBytes } : reply.report
    const usage: Usage = {
      fuelUsed: report.fuelUsed, fuelLimit: this.policy.fuel, memoryBytes: report.memoryBytes,
      memoryPeakBytes: Math.max(this.total.memoryPeakBytes, report.memoryBytes), wallMs, calls: 1, traps: failed ? 1 : 0,
    }
    this.lastUsage = usage
    addUsage(this.total, usage)
    if (reply instanceof SandboxError) { reply.usage = usage; throw reply }
    if (reply.type === 'error') { const error = SandboxError.from(reply.error); error.usage = usage; throw error }
    if (reply.type !== 'result') throw new SandboxError('INTERNAL', `unexpected ${reply.type} reply to a call`)
    return reply.value
  }

  /** The live worker, spawning and initializing one if there is none. */
  private worker(): Promise<Live> {
    if (this.live) return Promise.resolve(this.live)
    this.starting ??= this.spawn().finally(() => { this.starting = null })
    return this.starting
  }

  private async spawn(): Promise<Live> {
    const worker = this.platform.spawnWorker()
    const live: Live = { worker, pending: new Map() }
    worker.onMessage((message) => live.pending.get(message.id)?.(message as Reply))
    worker.onExit((error) => {
      if (this.live === live) this.live = null
      const failure = /out of memory|ERR_WORKER_OUT_OF_MEMORY/i.test(`${error.message} ${(error as { code?: string }).code}`)
        ? new SandboxError('MEMORY_LIMIT', `the sandbox worker ran out of JavaScript heap: ${error.message}`, { kind: 'heap', suggestion: 'pass smaller values across the boundary' })
        : new SandboxError('INTERNAL', `the sandbox worker died: ${error.message}`, { cause: error })
      for (const settle of [...live.pending.values()]) settle(failure)
    })
    const ready = await this.request(live, { type: 'init', module: this.prepared.module, settings: this.prepared.settings })
    if (ready instanceof SandboxError || ready.type === 'error') {
      await worker.terminate()
      throw ready instanceof SandboxError ? ready : SandboxError.from(ready.error)
    }
    if (this.closed) {
      await worker.terminate()
      throw new SandboxError('CLOSED', 'the sandbox was closed')
    }
    this.total.memoryBytes = ready.report.memoryBytes
    this.total.memoryPeakBytes = Math.max(this.total.memoryPeakBytes, ready.report.memoryBytes)
    this.live = live
    return live
  }

  private request(live: Live, payload: Payload): Promise<Reply | SandboxError> {
    return new Promise((resolve) => {
      const id = this.nextId++
      live.pending.set(id, (reply) => { live.pending.delete(id); resolve(reply) })
      live.worker.post({ ...payload, v: PROTOCOL_VERSION, id } as HostMessage)
    })
  }

  /** Stops the worker; whatever waits on it gets `reason`. The next call starts afresh. */
  private async kill(reason: SandboxError): Promise<void> {
    const live = this.live
    this.live = null
    if (!live) return
    for (const settle of [...live.pending.values()]) settle(reason)
    await live.worker.terminate()
  }
}

function noSuchExport(fn: string, exports: ExportDescriptor[]): SandboxError {
  const functions = exports.filter((e) => e.kind === 'function').map((e) => e.name)
  const other = exports.find((e) => e.name === fn)
  const suggestion = other ? `${fn} is a ${other.kind}, not a function` : functions.length ? `exported functions: ${functions.slice(0, 20).join(', ')}` : 'the module exports no functions'
  return new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(fn)}`, { export: fn, suggestion })
}
