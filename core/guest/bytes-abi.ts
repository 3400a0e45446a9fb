import { SandboxError } from '../errors/index.js'

/**
 * The bytes calling convention on the guest side. The guest exports `memory`,
 * `alloc(len: i32) -> i32` and optionally `free(ptr: i32, len: i32)`; a bytes function is
 * `(ptr: i32, len: i32) -> i64` returning `(outPtr << 32) | outLen`. Every pointer and length
 * the guest hands back is untrusted and checked against its memory before use.
 */
export interface BytesExports {
  memory: { buffer: ArrayBuffer }
  alloc: (len: number) => number
  free?: (ptr: number, len: number) => void
}

export function bytesExports(exports: Record<string, unknown>, fn: string): BytesExports {
  const memory = exports.memory as BytesExports['memory'] | undefined
  const missing = [
    !(memory && memory.buffer instanceof ArrayBuffer || memory?.buffer instanceof SharedArrayBuffer) && 'memory',
    typeof exports.alloc !== 'function' && 'alloc',
    typeof exports[fn] !== 'function' && fn,
  ].filter(Boolean)
  if (missing.length) {
    throw new SandboxError('NO_SUCH_EXPORT', `the bytes ABI needs the exports ${missing.join(', ')}, which the module does not have`, {
      export: fn, suggestion: 'export memory, alloc(len) -> ptr, optionally free(ptr, len), and (ptr, len) -> i64 functions; see README "Bytes and JSON calls"',
    })
  }
  return { memory: memory!, alloc: exports.alloc as BytesExports['alloc'], free: typeof exports.free === 'function' ? exports.free as BytesExports['free'] : undefined }
}

function abiError(fn: string, message: string): SandboxError {
  return new SandboxError('TRAP', `bytes ABI violation in ${fn}(): ${message}`, { trap: message, export: fn })
}

/** Checks that [ptr, ptr + len) lies inside a memory of `size` bytes. */
export function checkRange(fn: string, what: string, ptr: number, len: number, size: number): void {
  if (!Number.isInteger(ptr) || !Number.isInteger(len) || ptr < 0 || len < 0 || ptr + len > size) {
    throw abiError(fn, `${what} [${ptr}, ${ptr} + ${len}) is outside guest memory of ${size} bytes`)
  }
}

/**
 * Runs one bytes call; returns a fresh copy of the output (safe to transfer). An output
 * longer than `maxReplyBytes` is refused with OUTPUT_LIMIT before it is copied: a guest
 * can make a huge reply out of little fuel (`memory.copy` doubling), and every byte of it
 * would cost the host a copy, a decode and a parse.
 */
export function callBytes(exports: Record<string, unknown>, fn: string, input: Uint8Array, maxReplyBytes = Infinity): Uint8Array {
  const abi = bytesExports(exports, fn)
  const inPtr = abi.alloc(input.length) >>> 0
  checkRange(fn, 'alloc() returned a buffer', inPtr, input.length, abi.memory.buffer.byteLength)
  new Uint8Array(abi.memory.buffer, inPtr, input.length).set(input)
  const packed = (exports[fn] as (ptr: number, len: number) => unknown)(inPtr, input.length)
  if (typeof packed !== 'bigint') throw abiError(fn, `expected an i64 result (ptr << 32 | len), got ${typeof packed}`)
  const outPtr = Number(BigInt.asUintN(64, packed) >> 32n)
  const outLen = Number(BigInt.asUintN(32, packed))
  checkRange(fn, 'the returned output', outPtr, outLen, abi.memory.buffer.byteLength)
  const tooLarge = outLen > maxReplyBytes
  const output = tooLarge ? null : new Uint8Array(abi.memory.buffer, outPtr, outLen).slice() // a plain copy, even of a shared memory (transferable)
  if (abi.free) { // also for a refused reply: the guest ran to its end and its instance is kept
    abi.free(inPtr, input.length)
    if (outPtr !== inPtr) abi.free(outPtr, outLen) // an in-place reply is one buffer, freed once
  }
  if (!output) {
    throw new SandboxError('OUTPUT_LIMIT', `${fn}() replied with ${outLen} bytes, more than maxReplyBytes (${maxReplyBytes})`, {
      kind: 'reply', limit: maxReplyBytes, used: outLen, export: fn, suggestion: 'raise the `maxReplyBytes` option, or have the guest reply with less',
    })
  }
  return output
}
