import { SandboxBase, type Platform, type SandboxOptions } from '../core/index.js'
import { nodePlatform } from './platform.js'

/**
 * A WebAssembly module running in its own `worker_threads` worker under a policy.
 * See the README for the full API; `Sandbox.create(source, options)` makes one.
 */
export class Sandbox extends SandboxBase {
  protected static override platform: Platform = nodePlatform
}

/** Creates a sandbox, calls `fn` once with `args`, closes it and returns the result. */
export async function run(source: unknown, fn: string, args: unknown[] = [], options: SandboxOptions = {}): Promise<any> {
  const sandbox = await Sandbox.create(source, options)
  try {
    return await sandbox.call(fn, ...args)
  } finally {
    await sandbox.close()
  }
}
