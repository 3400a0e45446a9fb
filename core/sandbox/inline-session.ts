import { SandboxError } from '../errors/index.js'
import { GuestInstance, type GuestEngine, type GuestHostFactory, type Outcome } from '../guest/guest-instance.js'
import { InlineHost } from '../guest/inline-host.js'
import { readProfile, type FunctionProfile } from '../meter/meter-control.js'
import type { NormalizedPolicy } from '../policy/options.js'
import type { CallRequest } from '../protocol/messages.js'
import type { CallOptions } from './call-args.js'
import { cancelled } from './call-guard.js'
import type { Platform } from './platform.js'
import type { PreparedModule } from './prepare-module.js'
import type { SandboxSession } from './sandbox-session.js'
import type { CallOutcome, Transport } from './transport.js'
import type { UsageRecorder } from './usage-recorder.js'

/**
 * An inline sandbox: the metered instance runs on the caller's thread, with no worker hop.
 * Fuel bounds every call (a finite budget is required), so a call always returns; but
 * nothing can stop it earlier, and it shares the caller's heap and thread (see the README,
 * "Inline sandboxes").
 */
export class InlineSession implements SandboxSession, Transport {
  readonly transport: Transport = this
  closed = false
  private guest: GuestInstance | null = null
  /** The export whose call is running, for `ctx.export`. */
  private running = ''
  /** A call is running (this thread is inside the guest, or in one of its host functions). */
  private inCall = false
  /** The adapter's guest engine, told that the guest shares the caller's thread. */
  private readonly engine: GuestEngine
  private readonly makeHost: GuestHostFactory

  constructor(
    engine: GuestEngine,
    private readonly platform: Platform,
    policy: NormalizedPolicy,
    public prepared: PreparedModule,
    private readonly recorder: UsageRecorder,
  ) {
    this.engine = { ...engine, onCallerThread: true } // WASI sleeps are paid for in fuel (see WasiFuel)
    this.makeHost = (settings, exports) => new InlineHost(settings.hostImports, policy.imports, exports, () => this.running, settings)
  }

  async start(): Promise<void> {
    await this.instance()
  }

  private async instance(): Promise<GuestInstance> {
    if (this.closed) throw new SandboxError('CLOSED', 'the sandbox is closed')
    if (this.guest) return this.guest
    const guest = await GuestInstance.create(this.engine, this.prepared.module, this.prepared.settings, this.makeHost)
    guest.initialize()
    this.recorder.recordStart(guest.report())
    this.guest = guest
    return guest
  }

  async renew(next?: PreparedModule): Promise<void> {
    const previous = this.prepared
    this.guest = null
    if (next) this.prepared = next
    try {
      await this.instance()
    } catch (error) {
      this.prepared = previous // the next call starts afresh from the module in force
      throw error
    }
  }

  async stop(): Promise<void> {
    this.guest = null
  }

  busy(): void {}

  async profile(): Promise<FunctionProfile[]> {
    return readProfile((await this.instance()).instance)
  }

  /** Whether a call can run right now, synchronously (see `callNow`). */
  ready(): boolean {
    return this.guest !== null
  }

  /** Runs one call on the live instance, synchronously. */
  callNow(request: CallRequest): CallOutcome {
    const guest = this.guest!
    if (this.inCall) {
      // A host function calling its own sandbox: the nested call would reset the budget of the one running.
      const error = new SandboxError('CONFIG', `${request.fn}(): called from inside a call of the same inline sandbox (a host function calling sb.call?)`, {
        export: request.fn, suggestion: 'call other exports from a host function with ctx.call(fn, ...args)',
      })
      return { ok: false, error, wallMs: 0, skipped: true }
    }
    const started = this.platform.now()
    this.running = request.fn
    this.inCall = true
    try {
      const input = request.bytes ? request.args[0] as Uint8Array : undefined
      return withWallTime(guest.run(request.fn, () => guest.invoke(request.fn, request.args, input), request.fuel), this.platform.now() - started)
    } finally {
      this.inCall = false
    }
  }

  async send(request: CallRequest, options: CallOptions): Promise<CallOutcome> {
    if (options.timeout !== undefined) {
      throw new SandboxError('CONFIG', `${request.fn}(): an inline call cannot be stopped by a timeout, only by its fuel budget`, { field: 'timeout', export: request.fn, suggestion: "drop `timeout`, or use isolation: 'worker'" })
    }
    if (options.signal?.aborted) return { ok: false, error: cancelled(request.fn), wallMs: 0, skipped: true }
    const guest = await this.instance()
    if (!request.command) return this.callNow(request)
    const started = this.platform.now()
    this.running = request.fn
    return withWallTime(await guest.runCommand(this.engine, this.makeHost, request.command, request.fuel), this.platform.now() - started)
  }

  async sendAll(requests: CallRequest[], options: CallOptions): Promise<CallOutcome[]> {
    const outcomes: CallOutcome[] = []
    for (const request of requests) outcomes.push(await this.send(request, options))
    return outcomes
  }
}

function withWallTime(outcome: Outcome, wallMs: number): CallOutcome {
  return outcome.ok ? { ok: true, value: outcome.value, report: outcome.report, wallMs } : { ok: false, error: outcome.error, report: outcome.report, wallMs }
}
