import { runOnce, SandboxBase, SandboxPoolBase, Tenant, type Platform, type SandboxOptions, type TenantQuota } from '../core/index.js'
import { nodePlatform } from './platform.js'

/**
 * A WebAssembly module running in its own `worker_threads` worker under a policy.
 * See the README for the full API; `Sandbox.create(source, options)` makes one.
 */
export class Sandbox extends SandboxBase {
  protected static override platform: Platform = nodePlatform
}

/** Creates a sandbox, calls `fn` once with `args`, closes it and returns the result. */
export function run(source: unknown, fn: string, args: unknown[] = [], options: SandboxOptions = {}): Promise<any> {
  return runOnce(Sandbox, source, fn, args, options)
}

/** Several sandboxes of one module behind one queue (see the README, "Pools"). */
export class SandboxPool extends SandboxPoolBase<Sandbox> {
  protected static override Sandbox = Sandbox
  protected static override timers = nodePlatform
}

/** A tenant: every sandbox and pool made through it counts against `quota` (see the README, "Tenants"). */
export function createTenant(id: string, quota: TenantQuota = {}): Tenant<Sandbox, SandboxPool> {
  return new Tenant(id, quota, Sandbox, SandboxPool)
}
