import { SandboxError } from '../errors/index.js'
import { toWireJson } from '../protocol/wire-json.js'
import { hostResult, packedPointer } from '../guest/host-result.js'
import { Command, MAILBOX_DATA_BYTES, type Mailbox } from '../protocol/mailbox.js'
import { encodeUtf8, decodeUtf8 } from '../text/index.js'

/**
 * The last argument every host function receives: bounds-checked access to the guest's
 * memory. The guest's memory lives in the worker, so every method is async; the guest stays
 * blocked in its import call until the host function settles, so it cannot observe a
 * half-done write.
 *
 * ```ts
 * imports: { env: {
 *   // guest: (import "env" "log" (func (param i32 i32)))  -- ptr, len of a UTF-8 string
 *   log: async (ptr, len, ctx) => console.log(await ctx.readString(ptr, len)),
 *   // guest: (import "env" "greet" (func (param i32 i32) (result i64)))  -- returns (ptr << 32) | len
 *   greet: async (ptr, len, ctx) => `hello, ${await ctx.readString(ptr, len)}`,  // allocated via alloc
 * } }
 * ```
 */
export interface HostContext {
  /** The export whose call led to this host call. */
  readonly export: string
  /** Copies `len` bytes at `ptr` out of guest memory. */
  read(ptr: number, len: number): Promise<Uint8Array>
  /** Reads `len` bytes at `ptr` as UTF-8 (malformed sequences become U+FFFD). */
  readString(ptr: number, len: number): Promise<string>
  /** Writes bytes (or a string as UTF-8) at `ptr`. */
  write(ptr: number, data: Uint8Array | string): Promise<void>
  /** Calls the guest's `alloc(len)`; returns the pointer (checked against its memory). */
  alloc(len: number): Promise<number>
  /** Allocates with `alloc` and writes `data` there; returns `{ ptr, len }`. */
  allocBytes(data: Uint8Array | string): Promise<{ ptr: number; len: number }>
  /** The guest memory's size in bytes. */
  memorySize(): Promise<number>
  /** Calls another export of the same instance, re-entrantly (numbers and bigints only). */
  call(fn: string, ...args: unknown[]): Promise<unknown>
}

/** Pending mailbox answer of the host call in progress. */
export type MailboxReply = { ok: true; value: unknown } | { ok: false; error: SandboxError }

/**
 * Host side of one host-function call: sends mailbox commands to the blocked worker, one at
 * a time, and awaits each reply (delivered through `deliver`).
 */
export class HostCallSession implements HostContext {
  private waiter: ((reply: MailboxReply) => void) | null = null
  private chain: Promise<unknown> = Promise.resolve()
  private failure: SandboxError | null = null

  constructor(private readonly mailbox: Mailbox, readonly exportName: string) {}

  get export(): string {
    return this.exportName
  }

  /** Called with each `mailbox` message from the worker. */
  deliver(reply: MailboxReply): void {
    const waiter = this.waiter
    this.waiter = null
    waiter?.(reply)
  }

  /**
   * The worker was stopped (timeout, abort, close) or died: the reply awaited, and every
   * later request, rejects with `reason` instead of waiting for ever, so the host function's
   * own cleanup (finally blocks, locks) runs.
   */
  abandon(reason: SandboxError): void {
    this.failure ??= reason
    this.deliver({ ok: false, error: reason })
  }

  private request(command: number, a = 0, b = 0, fill?: (data: Uint8Array) => void): Promise<unknown> {
    const next = this.chain.then(() => new Promise<unknown>((resolve, reject) => {
      if (this.failure) return reject(this.failure)
      this.waiter = (reply) => (reply.ok ? resolve(reply.value) : reject(reply.error))
      fill?.(this.mailbox.data)
      this.mailbox.send(command, a, b)
    }))
    this.chain = next.catch(() => undefined)
    return next
  }

  async read(ptr: number, len: number): Promise<Uint8Array> {
    checkInts(ptr, len)
    return (await this.request(Command.READ, ptr, len)) as Uint8Array
  }

  async readString(ptr: number, len: number): Promise<string> {
    return decodeUtf8(await this.read(ptr, len))
  }

  async write(ptr: number, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? encodeUtf8(data) : data
    checkInts(ptr, bytes.length)
    // The data area holds 1 MiB: larger writes go in pieces.
    for (let offset = 0; offset === 0 || offset < bytes.length; offset += MAILBOX_DATA_BYTES) {
      const chunk = bytes.subarray(offset, offset + MAILBOX_DATA_BYTES)
      await this.request(Command.WRITE, ptr + offset, chunk.length, (area) => area.set(chunk))
    }
  }

  async alloc(len: number): Promise<number> {
    checkInts(0, len)
    return (await this.request(Command.ALLOC, len)) as number
  }

  async allocBytes(data: Uint8Array | string): Promise<{ ptr: number; len: number }> {
    const bytes = typeof data === 'string' ? encodeUtf8(data) : data
    const ptr = await this.alloc(bytes.length)
    await this.write(ptr, bytes)
    return { ptr, len: bytes.length }
  }

  memorySize(): Promise<number> {
    return this.request(Command.MEMORY_SIZE) as Promise<number>
  }

  call(fn: string, ...args: unknown[]): Promise<unknown> {
    const request = encodeUtf8(toWireJson({ fn, args }))
    if (request.length > MAILBOX_DATA_BYTES) return Promise.reject(new SandboxError('CONFIG', 'ctx.call: arguments too large', { field: 'args' }))
    return this.request(Command.CALL, 0, request.length, (area) => area.set(request))
  }

  /** Hands the worker `bytes` (any size: in pieces of the data area), for it to keep. */
  async sendData(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset === 0 || offset < bytes.length; offset += MAILBOX_DATA_BYTES) {
      const chunk = bytes.subarray(offset, offset + MAILBOX_DATA_BYTES)
      await this.request(Command.DATA, 0, chunk.length, (area) => area.set(chunk))
    }
  }

  /** Ends the host call with a value (numbers/bigints directly; bytes/strings via alloc). */
  async finish(result: unknown, resultType: string | undefined): Promise<void> {
    const answer = hostResult(result, resultType)
    const value = 'bytes' in answer ? packedPointer(await this.allocBytes(answer.bytes)) : answer.value
    await this.chain
    this.mailbox.setValue(value)
    this.mailbox.send(Command.RETURN)
  }

  /** Ends the host call with an error: the guest traps and the call rejects with HOST_ERROR. */
  async fail(error: unknown): Promise<void> {
    await this.chain
    const message = encodeUtf8(error instanceof Error ? error.message : String(error)).subarray(0, MAILBOX_DATA_BYTES)
    this.mailbox.data.set(message)
    this.mailbox.send(Command.THROW, 0, message.length)
  }
}

function checkInts(ptr: number, len: number): void {
  if (!Number.isInteger(ptr) || !Number.isInteger(len) || ptr < 0 || len < 0 || ptr > 0xffffffff || len > 0xffffffff) {
    throw new SandboxError('CONFIG', `guest memory access needs non-negative 32-bit integers, got ptr ${ptr}, len ${len}`, { field: 'ptr' })
  }
}
