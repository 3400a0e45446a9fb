import { SandboxError } from '../errors/index.js'
import type { NormalizedPolicy } from '../policy/options.js'

/**
 * The policy field that grants a WASI 0.2 interface. Clocks and randomness link with `wasi`
 * (nearly every component imports them, e.g. through the preview1 adapter) and are checked
 * when used, like preview1's `clock_time_get`: see `ComponentWasi`.
 */
export type InterfaceGrant = 'wasi' | 'network'

/** `wasi:clocks/wall-clock@0.2.3` -> `wasi:clocks/wall-clock`. */
export function unversioned(name: string): string {
  return name.replace(/@[^@/]*$/, '')
}

/** Which policy field grants an imported interface; null for interfaces no policy grants. */
export function interfaceGrant(name: string): InterfaceGrant | null {
  const iface = unversioned(name)
  // HTTP links with `wasi` (toolchains such as StarlingMonkey import the client whether or not
  // the code uses it); each outgoing request is checked against `network.allow` when made.
  if (/^wasi:(cli|io|filesystem|clocks|random|http)\//.test(iface)) return 'wasi'
  if (iface.startsWith('wasi:sockets/')) return 'network'
  return null
}

function granted(grant: InterfaceGrant | null, policy: NormalizedPolicy): boolean {
  switch (grant) {
    case 'wasi': return policy.wasi !== null
    case 'network': return policy.wasi !== null && policy.networkAllow.length > 0
    default: return false
  }
}

/**
 * Every interface a component imports must be granted before any of its code runs.
 * @throws SandboxError LINK_ERROR naming each interface that is not, and the field that would grant it.
 */
export function checkComponentImports(interfaces: string[], policy: NormalizedPolicy): void {
  const denied = interfaces.filter((name) => !granted(interfaceGrant(name), policy))
  if (denied.length === 0) return
  const byGrant = new Map<InterfaceGrant | null, string[]>()
  for (const name of denied) byGrant.set(interfaceGrant(name), [...(byGrant.get(interfaceGrant(name)) ?? []), name])
  const how = (grant: InterfaceGrant | null) => grant === null ? 'not WASI: components cannot import host functions yet'
    : grant === 'network' ? "needs `network: { allow: ['host:port'] }` and `wasi`" : 'needs `wasi: true`'
  throw new SandboxError('LINK_ERROR', `the component imports interfaces the policy does not grant: ${[...byGrant].map(([grant, names]) => `${names.join(', ')} (${how(grant)})`).join('; ')}`, {
    imports: denied,
    suggestion: byGrant.has(null) ? 'compose the component with one that exports what it imports'
      : `grant ${[...byGrant.keys()].map((g) => (g === 'wasi' ? '`wasi: true`' : "`network: { allow: ['host:port'] }`")).join(' and ')}`,
  })
}
