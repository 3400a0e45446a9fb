/**
 * Whether `authority` (`host` or `host:port`) matches one of the policy's `host:port`
 * patterns (`*` as the port matches any; a missing port is the scheme's default).
 */
export function matchesAllowList(authority: string, scheme: 'http' | 'https', allow: string[]): boolean {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority.toLowerCase())
  if (!match) return false
  const host = match[1]!
  const port = match[2] ?? (scheme === 'https' ? '443' : '80')
  return allow.some((pattern) => {
    const at = pattern.lastIndexOf(':')
    const patternHost = pattern.slice(0, at).toLowerCase()
    const patternPort = pattern.slice(at + 1)
    return patternHost === host && (patternPort === '*' || patternPort === port)
  })
}
