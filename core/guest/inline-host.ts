import type { GuestSettings, HostImport } from '../protocol/messages.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { callExport, guestAlloc, guestMemorySize, guestRange } from './guest-memory.js'
import type { GuestHost } from './guest-instance.js'
import { HostFailure } from './host-imports.js'
import { hostResult, packedPointer, toWasmValue } from './host-result.js'

type HostFunction = (...args: any[]) => unknown

/**
 * The `ctx` of a host function in an inline sandbox: the same methods as `HostContext`,
 * but synchronous, since the guest and the host function share one thread.
 */
export interface SyncHostContext {
  readonly export: string
  read(ptr: number, len: number): Uint8Array
  readString(ptr: number, len: number): string
  write(ptr: number, data: Uint8Array | string): void
  alloc(len: number): number
  allocBytes(data: Uint8Array | string): { ptr: number; len: number }
  memorySize(): number
  call(fn: string, ...args: unknown[]): unknown
}

/**
 * Host functions of an inline sandbox, called directly from the guest's import calls. They
 * must answer synchronously: one that returns a Promise fails the call with HOST_ERROR (its
 * guest cannot wait for it without blocking the thread the Promise needs).
 */
export class InlineHost implements GuestHost {
  count = 0
  failure: HostFailure | null = null
  private readonly ctx: SyncHostContext

  constructor(
    private readonly imports: HostImport[],
    private readonly functions: Record<string, Record<string, HostFunction>>,
    exports: () => Record<string, unknown>,
    /** The export whose call is running. */
    exportName: () => string,
    settings: GuestSettings,
  ) {
    const alloc = (len: number): number => guestAlloc(exports(), len)
    const write = (ptr: number, data: Uint8Array | string) => {
      const bytes = typeof data === 'string' ? encodeUtf8(data) : data
      guestRange('ctx.write', exports(), ptr, bytes.length).set(bytes)
    }
    this.ctx = {
      get export() { return exportName() },
      read: (ptr, len) => guestRange('ctx.read', exports(), ptr, len).slice(),
      readString: (ptr, len) => decodeUtf8(guestRange('ctx.read', exports(), ptr, len).slice()),
      write,
      alloc,
      allocBytes: (data) => {
        const bytes = typeof data === 'string' ? encodeUtf8(data) : data
        const ptr = alloc(bytes.length)
        write(ptr, bytes)
        return { ptr, len: bytes.length }
      },
      memorySize: () => guestMemorySize(exports()),
      call: (fn, ...args) => callExport(exports(), fn, args, settings),
    }
  }

  reset(): void {
    this.count = 0
    this.failure = null
  }

  object(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {}
    for (const imp of this.imports) {
      const fn = this.functions[imp.module]![imp.name]!
      const name = `${imp.module}.${imp.name}`
      ;(out[imp.module] ??= {})[imp.name] = (...args: unknown[]) => this.invoke(name, fn, args, imp.results[0])
    }
    return out
  }

  private invoke(name: string, fn: HostFunction, args: unknown[], resultType: string | undefined): unknown {
    this.count++
    if (this.failure) throw this.failure
    try {
      const result = fn(...args, this.ctx)
      if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
        ;(result as Promise<unknown>).then(undefined, () => undefined) // its rejection is ours to report, not unhandled
        throw new Error(`${name} returned a Promise: host functions of an inline sandbox must be synchronous (ctx's methods are); use isolation: 'worker' for async ones`)
      }
      return this.toWasm(result, resultType)
    } catch (error) {
      this.failure = error instanceof HostFailure ? error : new HostFailure(error instanceof Error ? error.message : String(error))
      throw this.failure
    }
  }

  /** A host function's result as the guest receives it (see `hostResult`). */
  private toWasm(result: unknown, resultType: string | undefined): unknown {
    const answer = hostResult(result, resultType)
    return 'bytes' in answer ? packedPointer(this.ctx.allocBytes(answer.bytes)) : toWasmValue(answer.value, resultType)
  }
}
