import { SandboxError } from '../errors/index.js'
import { CallChannel } from '../protocol/call-channel.js'
import { Command, type Mailbox } from '../protocol/mailbox.js'
import { PROTOCOL_VERSION, type Endpoint, type HostImport, type HostMessage, type WorkerMessage } from '../protocol/messages.js'
import { decodeUtf8 } from '../text/index.js'
import { fromWireJson } from '../protocol/wire-json.js'
import { guestAlloc, guestMemorySize, guestRange } from './guest-memory.js'
import { toWasmValue } from './host-result.js'
import { decodeFetchResult, type FetchRequest, type FetchResult } from '../protocol/fetch.js'

/** What the stubs need from the running guest. */
export interface GuestHooks {
  exports(): Record<string, unknown>
  /** The id of the call in progress, for the host to route host calls. */
  callId(): number
  /** Runs a nested (re-entrant) call for `ctx.call`, returning its value. */
  nestedCall(fn: string, args: unknown[]): unknown
  /** The call channel, while the call in progress came through it (its host waits there). */
  channel(): CallChannel | null
}

/** Thrown into the guest when a host function failed; the call then reports HOST_ERROR. */
export class HostFailure extends Error {
  override name = 'HostFailure'
}

/**
 * Worker-side stubs for host functions. From the guest's side every import call is
 * synchronous: the stub posts the call to the host and blocks in `Atomics.wait` on the
 * mailbox, serving the host's memory requests (`ctx.read`, `ctx.alloc`, ...) until the
 * host function returns or throws. Once a host function has failed, every later import
 * call of the same guest call fails too, so a guest cannot swallow the error and go on.
 */
export class HostImports {
  count = 0
  failure: HostFailure | null = null
  /**
   * Guest code running on behalf of a host function (`ctx.alloc`, `ctx.call`): an import
   * it calls is nested in another, whose host is waiting on the mailbox, not on the channel.
   */
  private nested = 0

  constructor(
    private readonly imports: HostImport[],
    private readonly mailbox: Mailbox | null,
    private readonly endpoint: Endpoint<HostMessage, WorkerMessage>,
    private readonly hooks: GuestHooks,
  ) {}

  /** Resets the per-call state. */
  reset(): void {
    this.count = 0
    this.failure = null
  }

  object(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {}
    this.imports.forEach((imp, index) => {
      const results = imp.results
      ;(out[imp.module] ??= {})[imp.name] = (...args: unknown[]) => this.invoke(index, args, results)
    })
    return out
  }

  private invoke(index: number, args: unknown[], results: string[]): unknown {
    this.count++
    if (this.failure) throw this.failure
    const mailbox = this.mailbox
    if (!mailbox) throw new HostFailure('host functions need SharedArrayBuffer, which this runtime does not provide')
    const channel = this.nested > 0 ? null : this.hooks.channel()
    if (channel && CallChannel.fits(args)) channel.requestHostCall(index, args)
    else this.endpoint.post({ v: PROTOCOL_VERSION, id: this.hooks.callId(), type: 'hostcall', index, args })
    for (;;) {
      const command = mailbox.waitForCommand()
      if (command === Command.RETURN) {
        const value = mailbox.value()
        mailbox.done()
        return toWasmValue(value, results[0])
      }
      if (command === Command.THROW) {
        const message = decodeUtf8(mailbox.data.slice(0, mailbox.b))
        mailbox.done()
        this.failure = new HostFailure(message)
        throw this.failure
      }
      this.serveMemoryRequest(command, mailbox)
    }
  }

  /**
   * Outgoing HTTP for a component: the host fetches (under the allow-list) while this
   * worker waits; the response arrives as DATA pieces, then RETURN.
   */
  fetch(request: FetchRequest): FetchResult {
    const mailbox = this.mailbox
    if (!mailbox) return { ok: false, error: { tag: 'internal-error', val: 'outgoing HTTP needs SharedArrayBuffer (a cross-origin-isolated page)' } }
    this.endpoint.post({ v: PROTOCOL_VERSION, id: this.hooks.callId(), type: 'fetch', request }, request.body ? [request.body.buffer] : undefined)
    const pieces: Uint8Array[] = []
    for (;;) {
      const command = mailbox.waitForCommand()
      if (command === Command.DATA) {
        pieces.push(mailbox.data.slice(0, mailbox.b))
        mailbox.done()
        this.endpoint.post({ v: PROTOCOL_VERSION, id: this.hooks.callId(), type: 'mailbox', ok: true, value: undefined })
      } else if (command === Command.RETURN) {
        mailbox.done()
        return decodeFetchResult(pieces)
      } else {
        const message = command === Command.THROW ? decodeUtf8(mailbox.data.slice(0, mailbox.b)) : `unexpected mailbox command ${command}`
        mailbox.done()
        return { ok: false, error: { tag: 'internal-error', val: message } }
      }
    }
  }

  /**
   * One `ctx` request while the host function runs; answered by message. The command is
   * marked handled before any guest code runs (`alloc`, a re-entrant call): that code may
   * call an import, whose own host function then talks through the same mailbox.
   */
  private serveMemoryRequest(command: number, mailbox: Mailbox): void {
    const { a, b } = mailbox
    let value: unknown
    let transfer: unknown[] | undefined
    let handled = false
    const release = () => {
      if (!handled) mailbox.done()
      handled = true
    }
    const guestCode = <T>(run: () => T): T => {
      release()
      this.nested++
      try {
        return run()
      } finally {
        this.nested--
      }
    }
    try {
      const exports = this.hooks.exports()
      switch (command) {
        case Command.READ:
          value = guestRange('ctx.read', exports, a, b).slice() // a plain copy, even of a shared memory (transferable)
          transfer = [(value as Uint8Array).buffer]
          break
        case Command.WRITE:
          guestRange('ctx.write', exports, a, b).set(mailbox.data.subarray(0, b))
          break
        case Command.ALLOC:
          value = guestAlloc(exports, a, guestCode)
          break
        case Command.MEMORY_SIZE:
          value = guestMemorySize(exports)
          break
        case Command.CALL: {
          const request = decodeCall(mailbox.data.subarray(0, b))
          value = guestCode(() => this.hooks.nestedCall(request.fn, request.args))
          break
        }
        default:
          throw new SandboxError('INTERNAL', `unknown mailbox command ${command}`)
      }
    } catch (error) {
      release()
      const failure = error instanceof SandboxError ? error : new SandboxError('TRAP', error instanceof Error ? error.message : String(error))
      this.endpoint.post({ v: PROTOCOL_VERSION, id: this.hooks.callId(), type: 'mailbox', ok: false, error: failure.toJSON() })
      return
    }
    release()
    this.endpoint.post({ v: PROTOCOL_VERSION, id: this.hooks.callId(), type: 'mailbox', ok: true, value }, transfer)
  }
}

function decodeCall(bytes: Uint8Array): { fn: string; args: unknown[] } {
  return fromWireJson(decodeUtf8(bytes.slice())) as { fn: string; args: unknown[] }
}
