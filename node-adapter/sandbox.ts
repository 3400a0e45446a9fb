import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { inspect } from 'node:util'
import { parseManifest, runOnce, SandboxBase, SandboxError, SandboxPoolBase, Tenant, type Platform, type PluginManifest, type SandboxOptions, type TenantQuota } from '../core/index.js'
import { nodePlatform } from './platform.js'

/**
 * A WebAssembly module running in its own `worker_threads` worker under a policy.
 * See the README for the full API; `Sandbox.create(source, options)` makes one.
 */
export class Sandbox extends SandboxBase {
  protected static override platform: Platform = nodePlatform

  /**
   * As in core, and in Node `manifest` may also be the path of a manifest file: its module
   * path is then relative to the manifest.
   */
  static override async loadManifest(manifest: PluginManifest | string): Promise<{ manifest: PluginManifest; source: Uint8Array | string }> {
    if (typeof manifest !== 'string' || manifest.trimStart().startsWith('{')) return super.loadManifest(manifest)
    const text = await readFile(manifest, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new SandboxError('CONFIG', `manifest: cannot read ${manifest}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { field: 'manifest', suggestion: 'give a manifest object, its JSON text, or the path of a .json file' })
    })
    const parsed = parseManifest(text)
    const module = parsed.module.path !== undefined ? { ...parsed.module, path: resolve(dirname(manifest), parsed.module.path) } : parsed.module
    return super.loadManifest({ ...parsed, module })
  }
}
// `console.log(sandbox)`: its exports, calls so far and whether it is closed. Set on the
// prototype rather than declared, so that Sandbox stays assignable to SandboxBase (pools).
Object.defineProperty(Sandbox.prototype, inspect.custom, {
  value(this: Sandbox) {
    const usage = this.usage()
    const names = this.exports().filter((e) => e.kind === 'function').map((e) => e.name)
    const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')}, … ${names.length - 8} more` : names.join(', ')
    return `Sandbox { exports: [${shown}], calls: ${usage.calls}, fuelUsed: ${usage.fuelUsed}${usage.traps ? `, failed: ${usage.traps}` : ''}${this.isClosed ? ', closed' : ''} }`
  },
})

/** Creates a sandbox, calls `fn` once with `args`, closes it and returns the result. */
export function run(source: unknown, fn: string, args: unknown[] = [], options: SandboxOptions = {}): Promise<any> {
  return runOnce(Sandbox, source, fn, args, options)
}

/** Several sandboxes of one module behind one queue (see the README, "Pools"). */
export class SandboxPool extends SandboxPoolBase<Sandbox> {
  protected static override Sandbox = Sandbox
  protected static override timers = nodePlatform
}
/** `console.log(pool)`: its stats. */
Object.defineProperty(SandboxPool.prototype, inspect.custom, {
  value(this: SandboxPool) {
    const s = this.stats()
    return `SandboxPool { size: ${s.size}, idle: ${s.idle}, busy: ${s.busy}, queued: ${s.queued}, calls: ${s.calls}, failures: ${s.failures} }`
  },
})

/** A tenant: every sandbox and pool made through it counts against `quota` (see the README, "Tenants"). */
export function createTenant(id: string, quota: TenantQuota = {}): Tenant<Sandbox, SandboxPool> {
  return new Tenant(id, quota, Sandbox, SandboxPool)
}
