import { SandboxError } from '../errors/index.js'
import type { HostImport } from '../protocol/messages.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { checkRange } from './bytes-abi.js'
import type { GuestHost } from './guest-instance.js'
import { HostFailure } from './host-imports.js'

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
  ) {
    const memory = (): ArrayBuffer => (exports().memory as { buffer: ArrayBuffer } | undefined)?.buffer ?? new ArrayBuffer(0)
    const view = (what: string, ptr: number, len: number) => {
      checkRange(what, 'the range', ptr, len, memory().byteLength)
      return new Uint8Array(memory(), ptr, len)
    }
    const alloc = (len: number): number => {
      const f = exports().alloc
      if (typeof f !== 'function') throw new SandboxError('NO_SUCH_EXPORT', 'ctx.alloc needs the guest to export alloc(len) -> ptr', { export: 'alloc' })
      const ptr = (f as (len: number) => number)(len) >>> 0
      checkRange('alloc', 'alloc() returned a buffer', ptr, len, memory().byteLength)
      return ptr
    }
    const write = (ptr: number, data: Uint8Array | string) => {
      const bytes = typeof data === 'string' ? encodeUtf8(data) : data
      view('ctx.write', ptr, bytes.length).set(bytes)
    }
    this.ctx = {
      get export() { return exportName() },
      read: (ptr, len) => view('ctx.read', ptr, len).slice(),
      readString: (ptr, len) => decodeUtf8(view('ctx.read', ptr, len).slice()),
      write,
      alloc,
      allocBytes: (data) => {
        const bytes = typeof data === 'string' ? encodeUtf8(data) : data
        const ptr = alloc(bytes.length)
        write(ptr, bytes)
        return { ptr, len: bytes.length }
      },
      memorySize: () => memory().byteLength,
      call: (fn, ...args) => {
        const f = exports()[fn]
        if (typeof f !== 'function') throw new SandboxError('NO_SUCH_EXPORT', `ctx.call: the module has no exported function ${JSON.stringify(fn)}`, { export: fn })
        return f(...args)
      },
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

  /** A host function's result as the guest receives it (bytes and strings via `alloc`). */
  private toWasm(result: unknown, resultType: string | undefined): unknown {
    if (result instanceof Uint8Array || typeof result === 'string') {
      if (resultType !== 'i64') throw new TypeError(`a host function returning ${typeof result === 'string' ? 'a string' : 'bytes'} must be imported with an i64 result ((ptr << 32) | len)`)
      const { ptr, len } = this.ctx.allocBytes(result)
      return (BigInt(ptr) << 32n) | BigInt(len)
    }
    if (resultType === undefined) return undefined
    const value = typeof result === 'boolean' ? (result ? 1 : 0) : result ?? 0
    if (typeof value !== 'number' && typeof value !== 'bigint') throw new TypeError(`a host function returned ${typeof result}; return a number, bigint, string or Uint8Array`)
    if (resultType === 'i64') return typeof value === 'bigint' ? value : BigInt(Math.trunc(value))
    return typeof value === 'bigint' ? Number(value) : value
  }
}
