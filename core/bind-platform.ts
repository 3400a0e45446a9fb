import { SandboxError } from './errors/index.js'
import { loadManifest } from './manifest/load-manifest.js'
import type { PluginManifest } from './manifest/plugin-manifest.js'
import type { SandboxOptions } from './policy/options.js'
import { SandboxPoolBase, type PoolOptions } from './pool/sandbox-pool.js'
import { SandboxBase } from './sandbox/sandbox-base.js'
import type { Platform } from './sandbox/platform.js'
import type { SandboxOwner } from './sandbox/sandbox-types.js'
import { Tenant, type TenantQuota } from './tenant/tenant.js'

/** An adapter's `Sandbox`: the class (for `instanceof`) with its static constructors. */
export type SandboxClass = typeof SandboxBase & {
  create(source: unknown, options?: SandboxOptions): Promise<SandboxBase>
  loadManifest(manifest: PluginManifest | string): Promise<{ manifest: PluginManifest; source: Uint8Array | string }>
  fromManifest(manifest: PluginManifest | string, options?: Pick<SandboxOptions, 'imports' | 'onEvent'>): Promise<SandboxBase>
}

/** An adapter's `SandboxPool`. */
export type SandboxPoolClass = typeof SandboxPoolBase & {
  create(source: unknown, options?: PoolOptions): Promise<SandboxPoolBase<SandboxBase>>
}

/** The public API of one runtime (see `bindPlatform`). */
export interface BoundApi {
  Sandbox: SandboxClass
  SandboxPool: SandboxPoolClass
  run(source: unknown, fn: string, args?: unknown[], options?: SandboxOptions): Promise<any>
  createTenant(id: string, quota?: TenantQuota): Tenant<SandboxBase, SandboxPoolBase<SandboxBase>>
}

/**
 * The public API bound to one runtime: each adapter is `bindPlatform(itsPlatform)` plus
 * what only that runtime has. Everything else is the same code in Node and in browsers.
 */
export function bindPlatform(platform: Platform): BoundApi {
  /** A WebAssembly module running under a policy, in its own worker (or inline). See the README. */
  class Sandbox extends SandboxBase {
    /**
     * Loads, validates, meters and compiles `source`, checks its imports against the policy
     * and starts its instance (running the start function under the fuel budget).
     */
    static create(
      source: unknown,
      options: SandboxOptions = {},
      /** @internal An owner that accounts for the sandbox (a tenant); released on close, or on failure here. */
      owner: SandboxOwner | null = null,
    ): Promise<Sandbox> {
      return super.start(platform, source, options, owner, (prepared, policy) => new Sandbox(platform, prepared, policy, owner))
    }

    /**
     * A plugin manifest (an object, JSON text or, in Node, a file path) checked, and its
     * module loaded and verified against its SHA-256 (a mismatch is SECURITY_VIOLATION).
     */
    static loadManifest(manifest: PluginManifest | string): Promise<{ manifest: PluginManifest; source: Uint8Array | string }> {
      return loadManifest(platform, manifest)
    }

    /**
     * A sandbox from a plugin manifest (see `PluginManifest`): verifies its module before
     * anything runs, applies its `permissions`, and exposes only its `entryPoints`.
     * `options` adds what JSON cannot carry: host functions and `onEvent`.
     */
    static async fromManifest(manifest: PluginManifest | string, options: Pick<SandboxOptions, 'imports' | 'onEvent'> = {}): Promise<Sandbox> {
      const { manifest: m, source } = await loadManifest(platform, manifest)
      const sandbox = await Sandbox.create(source, { ...m.permissions, ...options })
      const missing = m.entryPoints?.find((name) => !sandbox.exports().some((e) => e.name === name && e.kind === 'function'))
      if (missing) {
        await sandbox.close()
        throw new SandboxError('LINK_ERROR', `plugin ${m.id}: entry point ${JSON.stringify(missing)} is not an exported function of the module`, { export: missing })
      }
      sandbox.restrictTo(m.entryPoints)
      return sandbox
    }
  }

  /** Several sandboxes of one module behind one queue (see the README, "Pools"). */
  class SandboxPool extends SandboxPoolBase<Sandbox> {
    static create(
      source: unknown,
      options: PoolOptions = {},
      /** @internal An owner for each sandbox the pool starts (a tenant). */
      makeOwner: (() => SandboxOwner) | null = null,
    ): Promise<SandboxPool> {
      return super.start<Sandbox, SandboxPool>(options, (limits, sandboxOptions) => new SandboxPool(Sandbox, platform, limits, sandboxOptions, source, makeOwner))
    }
  }

  /** Creates a sandbox, calls `fn` once with `args`, closes it and returns the result. */
  async function run(source: unknown, fn: string, args: unknown[] = [], options: SandboxOptions = {}): Promise<any> {
    const sandbox = await Sandbox.create(source, options)
    try {
      return await sandbox.call(fn, ...args)
    } finally {
      await sandbox.close()
    }
  }

  /** A tenant: every sandbox and pool made through it counts against `quota` (see the README, "Tenants"). */
  function createTenant(id: string, quota: TenantQuota = {}): Tenant<Sandbox, SandboxPool> {
    return new Tenant(id, quota, Sandbox, SandboxPool)
  }

  // A pool class of this adapter's Sandbox is one of `SandboxPoolBase<SandboxBase>`; TypeScript
  // cannot see that through the generic constructor.
  return { Sandbox, SandboxPool: SandboxPool as unknown as SandboxPoolClass, run, createTenant }
}
