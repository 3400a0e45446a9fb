/** Values for display: bigint with an n, bytes as text when they are UTF-8, else hex. */
export function show(value: unknown): string {
  if (value === undefined) return '(no value)'
  if (value instanceof Uint8Array) {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(value)
    } catch {
      return Array.from(value, (b) => b.toString(16).padStart(2, '0')).join(' ')
    }
  }
  if (typeof value === 'string') return value
  if (typeof value === 'bigint') return `${value}n`
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v), 2) ?? String(value)
}

export function bytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`
}
