/**
 * What a host function's result becomes for the guest, the same whether the guest waits in
 * a worker (the host answers through the mailbox) or calls it inline: a number or bigint
 * as is, a boolean as 1/0, nothing as 0 (or nothing, for an import without a result), and
 * a string or bytes placed in guest memory through its `alloc`, returned as (ptr << 32) | len.
 */
export type HostResult = { bytes: Uint8Array | string } | { value: number | bigint | undefined }

export function hostResult(result: unknown, resultType: string | undefined): HostResult {
  if (result instanceof Uint8Array || typeof result === 'string') {
    if (resultType !== 'i64') throw new TypeError(`a host function returning ${typeof result === 'string' ? 'a string' : 'bytes'} must be imported with an i64 result ((ptr << 32) | len)`)
    return { bytes: result }
  }
  if (typeof result === 'number' || typeof result === 'bigint') return { value: result }
  if (typeof result === 'boolean') return { value: result ? 1 : 0 }
  if (result === undefined || result === null) return { value: resultType === undefined ? undefined : 0 }
  throw new TypeError(`a host function returned ${typeof result}; return a number, bigint, string or Uint8Array`)
}

/** Where `alloc` put a string or bytes result, as the guest's i64 receives it. */
export function packedPointer({ ptr, len }: { ptr: number; len: number }): bigint {
  return (BigInt(ptr) << 32n) | BigInt(len)
}

/** A result value as the import's wasm type takes it (i64: a bigint; others: a number). */
export function toWasmValue(value: number | bigint | undefined, type: string | undefined): unknown {
  if (type === undefined) return undefined
  if (type === 'i64') return typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value ?? 0)))
  return typeof value === 'bigint' ? Number(value) : value ?? 0
}
