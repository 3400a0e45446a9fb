import { SandboxError } from '../errors/index.js'
import { meter, type MeterOptions } from '../meter/meter.js'
import { prepareNativeRewriter } from '../meter/native-rewriter.js'
import type { ModuleInfo } from '../meter/module-types.js'
import type { NormalizedPolicy } from '../policy/options.js'
import type { GuestSettings } from '../protocol/messages.js'
import type { MeteredModule } from './cached-module-entry.js'
import type { Platform } from './platform.js'

// What modules and components share on their way to a sandbox: the meter settings a policy
// gives, and metering + compiling one core module.

export interface PreparedModule {
  /** The compiled, metered module, shared by every worker the sandbox spawns. */
  module: unknown
  info: ModuleInfo
  settings: GuestSettings
  /** False for a module compiled by the caller: export signatures are unknown. */
  signaturesKnown: boolean
}

/** How the policy's limits become meter options (deferred start: the worker runs it under the budget). */
export function meterOptionsOf(policy: NormalizedPolicy): MeterOptions {
  return {
    fuel: policy.fuel ?? 'unlimited', stackDepth: policy.stackDepth, memory: policy.memoryBytes, tableElements: policy.tableElements,
    deferStart: true,
    profile: policy.profile,
    ...(policy.metering === 'fast' ? { metering: 'fast' as const } : {}), // exact adds nothing to the cache key
  }
}

/** Meter options as part of a cache key (bigints as decimal text). */
export function meterOptionsKey(options: MeterOptions): string {
  return JSON.stringify(options, (_, v) => (typeof v === 'bigint' ? `${v}` : v))
}

export async function compileMetered(platform: Platform, input: Uint8Array | string, options: MeterOptions): Promise<MeteredModule> {
  const bytes = typeof input === 'string' ? await platform.watToWasm(input) : input
  await prepareNativeRewriter() // where the thread will not compile it synchronously (a browser's main thread)
  const metered = meter(bytes, options)
  let module: unknown
  try {
    module = await platform.compile(metered.bytes)
  } catch (meteredError) {
    // Report the caller's binary: compile it as given to get an offset that means something.
    try {
      await platform.compile(bytes)
    } catch (error) {
      throw invalidModule(error)
    }
    throw new SandboxError('INTERNAL', `the metered module does not compile although the original does (a wasm-sandbox bug): ${(meteredError as Error).message}`, { cause: meteredError })
  }
  return { module, info: metered.info, bytes: metered.bytes }
}

export function invalidModule(error: unknown): SandboxError {
  const message = error instanceof Error ? error.message : String(error)
  const offset = /@\+(\d+)/.exec(message)
  return new SandboxError('INVALID_MODULE', `invalid module: ${message.replace(/^WebAssembly\.\w+\(\): /, '')}`, {
    offset: offset ? Number(offset[1]) : undefined, cause: error,
  })
}
