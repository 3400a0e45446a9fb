import { SandboxError } from '../errors/index.js'

/**
 * Limits every JavaScript engine enforces on a module: the WebAssembly JS API's
 * "implementation-defined limits", which V8, SpiderMonkey and JavaScriptCore share. The meter
 * adds locals, code, globals, exports and types, so a module just under a limit can cross it
 * once metered; those are refused up front with a typed error instead of failing to compile.
 */
export const ENGINE_LIMITS = {
  /** Parameters plus declared locals of one function. */
  functionLocals: 50_000,
  functionBodyBytes: 7_654_321,
  types: 1_000_000,
  globals: 1_000_000,
  exports: 100_000,
  moduleBytes: 1_073_741_824,
} as const

export type EngineLimit = keyof typeof ENGINE_LIMITS

const WHAT: Record<EngineLimit, string> = {
  functionLocals: 'locals', functionBodyBytes: 'bytes of code', types: 'types', globals: 'globals', exports: 'exports', moduleBytes: 'bytes',
}

/**
 * @param subject what crosses it ("function 12", "the module")
 * @param offset where in the caller's binary, when known
 */
export function checkEngineLimit(limit: EngineLimit, used: number, subject: string, offset?: number, suggestion?: string): void {
  const max = ENGINE_LIMITS[limit]
  if (used <= max) return
  throw new SandboxError('INVALID_MODULE',
    `${subject} would have ${used.toLocaleString('en-US')} ${WHAT[limit]} once metered, above the engine limit of ${max.toLocaleString('en-US')}`,
    { limit: max, used, offset, suggestion: suggestion ?? 'the module sits at an engine limit that metering crosses: split the function or module' })
}
