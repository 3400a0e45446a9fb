import { SandboxError } from '../errors/index.js'
import { encodeFetchResult, type FetchRequest } from '../protocol/fetch.js'
import { fetchForGuest, type NetworkFetch } from '../component/host-fetch.js'
import type { NormalizedPolicy } from '../policy/options.js'
import { CallChannel, channelSupported } from '../protocol/call-channel.js'
import { Mailbox } from '../protocol/mailbox.js'
import { PROTOCOL_VERSION, type HostMessage, type WorkerMessage } from '../protocol/messages.js'
import { HostCallSession } from './host-context.js'
import type { Platform } from './platform.js'
import type { Live, Reply, WorkerLink } from './live-worker.js'
import type { PreparedModule } from './prepare-module.js'
import type { UsageRecorder } from './usage-recorder.js'
import type { FunctionProfile } from '../meter/meter-control.js'
import { ChannelTransport } from './channel-transport.js'
import { MessageTransport } from './message-transport.js'
import type { SandboxSession } from './sandbox-session.js'
import type { Transport } from './transport.js'

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * A sandbox's worker: spawns it and instantiates the module there, sends it requests and
 * routes its messages, serves the host functions (and components' outgoing HTTP) the guest
 * calls, replaces the instance, and stops the worker. After a stop, the next `worker()`
 * spawns a fresh one from the same compiled module.
 */
export class WorkerSession implements SandboxSession, WorkerLink {
  /** Calls go through the call channel where they can, else as messages. */
  readonly transport: ChannelTransport
  private live: Live | null = null
  private starting: Promise<Live> | null = null
  private nextRequestId = 1
  /** Calls queued or running: while there are none, the worker does not keep the process alive. */
  private active = 0
  closed = false

  constructor(
    private readonly platform: Platform,
    private readonly policy: NormalizedPolicy,
    public prepared: PreparedModule,
    private readonly recorder: UsageRecorder,
  ) {
    const messages: Transport = new MessageTransport(this, platform, policy)
    this.transport = new ChannelTransport(this, messages, platform, policy)
  }

  async start(): Promise<void> {
    await this.worker()
  }

  stop(reason: SandboxError): Promise<void> {
    return this.kill(reason)
  }

  async profile(): Promise<FunctionProfile[]> {
    const reply = await this.request(await this.worker(), { type: 'profile' })
    if (reply instanceof SandboxError) throw reply
    if (reply.type !== 'result') throw SandboxError.from((reply as Extract<Reply, { type: 'error' }>).error)
    return reply.value as FunctionProfile[]
  }

  /** The live worker if there is one (without starting one). */
  current(): Live | null {
    return this.live
  }

  nextId(): number {
    return this.nextRequestId++
  }

  /** The live worker, spawning and initializing one if there is none. */
  worker(): Promise<Live> {
    if (this.closed) return Promise.reject(new SandboxError('CLOSED', 'the sandbox is closed'))
    if (this.live) return Promise.resolve(this.live)
    this.starting ??= this.spawn().finally(() => { this.starting = null })
    return this.starting
  }

  /** A call began (`true`) or ended: an idle worker does not hold the process open. */
  busy(on: boolean): void {
    if (on ? this.active++ === 0 : --this.active === 0) this.live?.worker.keepAlive?.(on)
  }

  private async spawn(): Promise<Live> {
    const worker = this.platform.spawnWorker()
    const shared = typeof SharedArrayBuffer !== 'undefined' && this.platform.sharedMemory
    const mailbox = shared && needsMailbox(this.prepared) ? Mailbox.create() : null
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
    const ready = await this.request(live, {
      type: 'init', module: this.prepared.module, settings: this.prepared.settings, mailbox: mailbox?.buffer ?? null,
      channel: channel?.buffer ?? null, spinSlots: channel?.spinSlots?.buffer as SharedArrayBuffer | undefined ?? null,
    })
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
    this.recorder.recordStart(ready.report)
    if (this.active === 0) worker.keepAlive?.(false) // started by create(): idle until a call
    this.live = live
    return live
  }

  /** One request answered by one reply (init, reset, profile). */
  request(live: Live, payload: DistributiveOmit<HostMessage, 'v' | 'id'>): Promise<Reply | SandboxError> {
    return new Promise((resolve) => {
      const id = this.nextId()
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
  async renew(next?: PreparedModule): Promise<void> {
    const live = this.live
    if (live && (live.mailbox !== null) !== needsMailbox(next ?? this.prepared)) await this.kill(new SandboxError('CLOSED', 'replaced'), live)
    if (this.live) {
      const reply = await this.request(this.live, { type: 'reset', ...(next ? { module: next.module, settings: next.settings } : {}) })
      if (reply instanceof SandboxError || reply.type === 'error') {
        await this.kill(new SandboxError('CLOSED', 'replaced'), this.live ?? undefined)
        throw reply instanceof SandboxError ? reply : SandboxError.from(reply.error)
      }
      if (reply.type === 'ready') this.recorder.recordStart(reply.report)
    }
    if (next) this.prepared = next
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

  /** Runs a host function for the blocked guest and answers through the mailbox. */
  serveHostCall(live: Live, index: number, args: unknown[]): Promise<void> {
    const imp = this.prepared.settings.hostImports[index]!
    const fn = this.policy.imports[imp.module]![imp.name]!
    return this.withSession(live, imp.module + '.' + imp.name, async (session) => {
      const result = await fn(...args, session)
      if (!live.dead) await session.finish(result, imp.results[0]) // also while the worker starts
    })
  }

  /** Fetches for a component's outgoing HTTP request while its worker waits on the mailbox. */
  private serveFetch(live: Live, request: FetchRequest): Promise<void> {
    return this.withSession(live, 'fetch', async (session) => {
      const fetchImpl = this.policy.networkFetch ?? (globalThis as unknown as { fetch: NetworkFetch }).fetch
      const result = await fetchForGuest(request, this.policy.networkAllow, fetchImpl, this.policy.memoryBytes)
      if (!result.ok && result.error.tag === 'HTTP-request-denied') this.recorder.recordAudit({ time: Date.now(), capability: 'network', operation: 'fetch', detail: `${request.url} is not in network.allow` })
      if (!live.dead) {
        await session.sendData(encodeFetchResult(result))
        await session.finish(undefined, undefined)
      }
    })
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

  /** Stops the worker; whatever waits on it gets `reason`. The next call starts afresh. */
  async kill(reason: SandboxError, only?: Live): Promise<void> {
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
function needsMailbox(prepared: PreparedModule): boolean {
  return prepared.settings.hostImports.length > 0 || (prepared.settings.component?.networkAllow.length ?? 0) > 0
}
