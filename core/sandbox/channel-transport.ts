import { SandboxError } from '../errors/index.js'
import type { NormalizedPolicy } from '../policy/options.js'
import { CallChannel, CHANNEL_DATA_BYTES, Done } from '../protocol/call-channel.js'
import type { CallRequest } from '../protocol/messages.js'
import type { CallOptions } from './call-args.js'
import { CallGuard, callTimeoutMs, cancelled } from './call-guard.js'
import { StopSignal } from './stop-signal.js'
import type { Platform } from './platform.js'
import type { CallOutcome, Transport } from './transport.js'
import type { Live, WorkerLink } from './live-worker.js'

/**
 * Calls through the worker's call channel in shared memory: no message, no structured
 * clone. It carries numbers and bigints in and out, and bytes calls up to the channel's
 * size; everything else (batches, WASI, components, other values) goes to `messages`.
 */
export class ChannelTransport implements Transport {
  constructor(
    private readonly session: WorkerLink,
    private readonly messages: Transport,
    private readonly platform: Platform,
    private readonly policy: NormalizedPolicy,
  ) {}

  send(request: CallRequest, options: CallOptions): Promise<CallOutcome> {
    const live = this.session.current()
    const index = live?.channel ? this.indexOf(request) : null
    return index === null ? this.messages.send(request, options) : this.call(live!, request, index, options)
  }

  sendAll(requests: CallRequest[], options: CallOptions): Promise<CallOutcome[]> {
    return this.messages.sendAll(requests, options)
  }

  /** The channel index of a call the channel can carry, or null. */
  indexOf(request: CallRequest): number | null {
    const prepared = this.session.prepared
    // WASI calls report audit events, which travel in messages: they take the message path.
    if (prepared.settings.wasi || !prepared.signaturesKnown) return null
    const index = prepared.settings.exportNames.indexOf(request.fn)
    if (index < 0) return null
    if (request.bytes) return (request.args[0] as Uint8Array).length <= CHANNEL_DATA_BYTES ? index : null
    const exp = prepared.info.exports.find((e) => e.name === request.fn)
    if (!CallChannel.fits(request.args) || !exp || !exp.results.every((t) => t === 'i32' || t === 'i64' || t === 'f32' || t === 'f64')) return null
    return index
  }

  private async call(live: Live, request: CallRequest, index: number, options: CallOptions): Promise<CallOutcome> {
    if (options.signal?.aborted) return { ok: false, error: cancelled(request.fn), wallMs: 0, skipped: true }
    const id = this.session.nextId()
    let killed: SandboxError | null = null
    const stop = new StopSignal()
    let onOutput = (_output: unknown) => {}
    const outputMessage = new Promise<unknown>((resolve) => { onOutput = resolve })
    live.pending.set(id, (reply) => {
      if (reply instanceof SandboxError) {
        killed = reply
        stop.stop()
      } else if (reply.type === 'result') onOutput(reply.value) // a bytes output too large for the channel
    })
    const guard = new CallGuard(this.platform, callTimeoutMs(options, this.policy), options.signal, (reason) => void this.session.kill(reason, live))
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
      await stop.race(this.session.serveHostCall(live, hostCall.index, hostCall.args))
    }
    guard.disarm()
    const wallMs = guard.elapsed()
    if (done === Done.KILLED || killed) {
      live.pending.delete(id)
      return { ok: false, error: killed ?? new SandboxError('INTERNAL', 'the sandbox worker stopped'), wallMs }
    }
    const answer = channel.readAnswer()
    if (!answer.ok) {
      live.pending.delete(id)
      return { ok: false, error: SandboxError.from(answer.error), report: answer.report, wallMs }
    }
    if (answer.outputByMessage) await stop.race(outputMessage) // posted before DONE: it is on its way
    live.pending.delete(id)
    if (answer.outputByMessage && killed) return { ok: false, error: killed, wallMs }
    if (request.bytes) return { ok: true, value: answer.outputByMessage ? await outputMessage : answer.output, report: answer.report, wallMs }
    const results = this.session.prepared.info.exports.find((e) => e.name === request.fn)!.results.length
    return { ok: true, value: results === 1 ? answer.values[0] : results === 0 ? undefined : answer.values, report: answer.report, wallMs }
  }
}
