/** Values for display: bigint as digits (no `n`), bytes as text when they are UTF-8, else hex. */
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
  if (typeof value === 'bigint') return String(value)
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Array.from(v) : v), 2) ?? String(value)
}

/** A count with thousands separators: 1,000,000. Anything else as it is. */
export function count(n: unknown): string {
  return typeof n === 'number' || typeof n === 'bigint' ? n.toLocaleString('en-US', { maximumFractionDigits: 2 }) : String(n)
}

export function bytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`
}
