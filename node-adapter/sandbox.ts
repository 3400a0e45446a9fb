import { inspect } from 'node:util'
import { bindPlatform, type SandboxBase, type SandboxPoolBase } from '../core/index.js'
import { nodePlatform } from './platform.js'

export const { Sandbox, SandboxPool, run, createTenant } = bindPlatform(nodePlatform)
export type Sandbox = SandboxBase
export type SandboxPool = SandboxPoolBase<SandboxBase>

// `console.log(sandbox)`: its exports, calls so far and whether it is closed.
Object.defineProperty(Sandbox.prototype, inspect.custom, {
  value(this: Sandbox) {
    const usage = this.usage()
    const names = this.exports().filter((e) => e.kind === 'function').map((e) => e.name)
    const shown = names.length > 8 ? `${names.slice(0, 8).join(', ')}, … ${names.length - 8} more` : names.join(', ')
    return `Sandbox { exports: [${shown}], calls: ${usage.calls}, fuelUsed: ${usage.fuelUsed}${usage.traps ? `, failed: ${usage.traps}` : ''}${this.isClosed ? ', closed' : ''} }`
  },
})
/** `console.log(pool)`: its stats. */
Object.defineProperty(SandboxPool.prototype, inspect.custom, {
  value(this: SandboxPool) {
    const s = this.stats()
    return `SandboxPool { size: ${s.size}, idle: ${s.idle}, busy: ${s.busy}, queued: ${s.queued}, calls: ${s.calls}, failures: ${s.failures} }`
  },
})
