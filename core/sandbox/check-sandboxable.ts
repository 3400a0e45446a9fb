import { SandboxError } from '../errors/index.js'
import type { NormalizedPolicy } from '../policy/options.js'
import { checkImports } from './check-imports.js'
import type { Platform } from './platform.js'
import type { PreparedModule } from './prepare-module.js'

/** What a sandbox refuses to start: imports the policy does not grant, and what its isolation cannot do. */
export function checkSandboxable(prepared: PreparedModule, policy: NormalizedPolicy, platform: Platform): void {
  try {
    checkImports(prepared.info, policy)
  } catch (error) {
    for (const name of (error as SandboxError).imports ?? []) {
      policy.onEvent?.({ type: 'audit', time: Date.now(), capability: 'import', operation: 'link', detail: `${name} is not granted by the policy` })
    }
    throw error
  }
  if (policy.isolation === 'inline') {
    const refuse = (what: string) => new SandboxError('CONFIG', `isolation: 'inline' cannot run ${what}; use isolation: 'worker'`, { field: 'isolation', suggestion: "use isolation: 'worker'" })
    if (!platform.guestEngine) throw refuse('on this platform')
    if (prepared.settings.component) throw refuse('components')
    if (prepared.info.sharedMemory) throw refuse('a module with a shared memory (memory.atomic.wait would block the host thread)')
    return
  }
  if (prepared.settings.hostImports.length > 0 && !(platform.sharedMemory && typeof SharedArrayBuffer !== 'undefined')) {
    const suggestion = 'serve the page cross-origin isolated, with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp'
    throw new SandboxError('CONFIG', `imports: host functions need SharedArrayBuffer, which this page does not have; ${suggestion}`, { field: 'imports', suggestion })
  }
}
