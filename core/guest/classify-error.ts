import { SandboxError } from '../errors/index.js'
import { isEngineStackOverflow, type MeterControl } from '../meter/meter-control.js'
import type { GuestSettings } from '../protocol/messages.js'

/**
 * Turns whatever a guest call threw into a SandboxError. The meter's own traps are
 * `unreachable` like a guest's, so the meter state decides: fuel below zero means
 * FUEL_EXHAUSTED, a depth past the limit STACK_OVERFLOW, a refused `memory.grow` above the
 * cap before the trap MEMORY_LIMIT. The engine's stack overflow (a RangeError) is
 * STACK_OVERFLOW too; other wasm traps are TRAP with the engine's message.
 */
export function classifyError(error: unknown, control: MeterControl | null, settings: GuestSettings, fn: string | null): SandboxError {
  if (error instanceof SandboxError) return error
  const where = fn === null ? 'while instantiating' : `in ${fn}()`
  if (control?.exhausted()) {
    const limit = control.limit()
    return new SandboxError('FUEL_EXHAUSTED', `all fuel consumed by WebAssembly ${where}: the budget is ${limit} instructions`, {
      kind: 'fuel', limit, used: limit, export: fn ?? undefined, suggestion: 'raise the `fuel` option, or look for a runaway loop',
    })
  }
  const message = error instanceof Error ? error.message : String(error)
  if (control?.stackExceeded() || isEngineStackOverflow(error)) {
    const native = !control?.stackExceeded()
    return new SandboxError('STACK_OVERFLOW', native
      ? `the engine's call stack ran out ${where} before the stackDepth limit of ${settings.stackDepth}`
      : `call stack exhausted ${where}: more than ${settings.stackDepth} nested wasm calls`, {
      kind: 'stack', limit: settings.stackDepth, used: native ? undefined : settings.stackDepth + 1, export: fn ?? undefined,
      suggestion: native ? 'lower `stackDepth` so the limit is reached deterministically first' : 'raise the `stackDepth` option, or look for unbounded recursion',
    })
  }
  const denied = control?.deniedGrowBytes() ?? 0
  if (denied > settings.memoryBytes) {
    return new SandboxError('MEMORY_LIMIT', `memory limit exceeded ${where}: the guest asked for ${denied} bytes, the limit is ${settings.memoryBytes} (trap: ${message})`, {
      kind: 'memory', limit: settings.memoryBytes, used: denied, trap: message, export: fn ?? undefined, suggestion: 'raise the `memory` option',
    })
  }
  const deniedElements = control?.deniedTableElements() ?? 0
  if (deniedElements > settings.tableElements) {
    return new SandboxError('MEMORY_LIMIT', `table limit exceeded ${where}: the guest asked for ${deniedElements} elements, the limit is ${settings.tableElements} (trap: ${message})`, {
      kind: 'table', limit: settings.tableElements, used: deniedElements, trap: message, export: fn ?? undefined, suggestion: 'raise the `tableElements` option',
    })
  }
  if (isWasmException(error)) {
    return new SandboxError('TRAP', `uncaught WebAssembly exception ${where}`, { trap: 'uncaught exception', export: fn ?? undefined })
  }
  if (error instanceof Error && error.name === 'RuntimeError') {
    return new SandboxError('TRAP', `wasm trap ${where}: ${message}`, { trap: message, export: fn ?? undefined })
  }
  if (error instanceof Error && error.name === 'LinkError') {
    return new SandboxError('LINK_ERROR', `cannot link the module: ${message}`, { cause: error })
  }
  return new SandboxError('HOST_ERROR', `host error ${where}: ${message}`, { export: fn ?? undefined })
}

/** An exception thrown by the guest's `throw` and caught by nothing. */
function isWasmException(error: unknown): boolean {
  const Exception = (globalThis as { WebAssembly?: { Exception?: abstract new (...args: never[]) => unknown } }).WebAssembly?.Exception
  return Exception !== undefined && error instanceof Exception
}
