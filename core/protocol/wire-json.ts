/**
 * JSON for what crosses the mailbox as bytes (a re-entrant `ctx.call`'s arguments, a fetch
 * result's head): bigints survive as `{ "$bigint": "123" }`, which JSON alone cannot carry.
 */
export function toWireJson(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v))
}

export function fromWireJson(text: string): unknown {
  return JSON.parse(text, (_, v) => (v && typeof v === 'object' && typeof v.$bigint === 'string' ? BigInt(v.$bigint) : v))
}
