import { SandboxError } from '../errors/index.js'

/**
 * Human units for limits. Sizes: a byte count, or a string such as '64MB', '512KiB', '1GB',
 * '100B'. MB/GB/KB are binary here (1MB = 1 MiB = 1048576 bytes), as for memory everywhere
 * in wasm tooling; KiB/MiB/GiB are accepted with the same meaning. Durations: milliseconds,
 * or '250ms', '30s', '2m', '1h'.
 */

const SIZE_UNITS: Record<string, number> = {
  B: 1, KB: 1024, KiB: 1024, MB: 1024 ** 2, MiB: 1024 ** 2, GB: 1024 ** 3, GiB: 1024 ** 3,
}
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** What a loosely written unit most likely meant, for suggestions. */
const SIZE_ALIASES: Record<string, string> = {
  b: 'B', k: 'KB', kb: 'KB', kib: 'KiB', m: 'MB', mb: 'MB', mib: 'MiB', g: 'GB', gb: 'GB', gib: 'GiB',
}
const DURATION_ALIASES: Record<string, string> = {
  ms: 'ms', msec: 'ms', millis: 'ms', millisecond: 'ms', milliseconds: 'ms', s: 's', sec: 's',
  secs: 's', second: 's', seconds: 's', m: 'm', min: 'm', mins: 'm', minute: 'm', minutes: 'm',
  h: 'h', hour: 'h', hours: 'h',
}

function configError(field: string, message: string, suggestion: string): SandboxError {
  return new SandboxError('CONFIG', `${field}: ${message}; ${suggestion}`, { field, suggestion })
}

/** Splits '64 mb' into ['64', 'mb'], or returns null. */
function splitQuantity(value: string): [string, string] | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(value)
  return m ? [m[1]!, m[2]!] : null
}

/** Parses a size in bytes; `field` names the option in errors. */
export function parseBytes(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value
    throw configError(field, `expected a whole number of bytes, got ${value}`, "use a byte count or a string like '64MB'")
  }
  if (typeof value !== 'string') {
    throw configError(field, `expected a size, got ${typeof value}`, "use a byte count or a string like '64MB'")
  }
  const m = /^(\d+(?:\.\d+)?)(B|KB|KiB|MB|MiB|GB|GiB)$/.exec(value)
  if (m) {
    const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!]!)
    if (Number.isSafeInteger(bytes)) return bytes
  }
  const parts = splitQuantity(value)
  const unit = parts && SIZE_ALIASES[parts[1].toLowerCase()]
  const suggestion = parts && unit ? `use '${parts[0]}${unit}'` : "use a size like '64MB', '512KiB' or '1GB'"
  throw configError(field, `cannot read ${JSON.stringify(value)} as a size`, suggestion)
}

/** Parses a duration in milliseconds; `field` names the option in errors. */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return value
    throw configError(field, `expected a positive number of milliseconds, got ${value}`, "use e.g. 250 or '250ms'")
  }
  if (typeof value !== 'string') {
    throw configError(field, `expected a duration, got ${typeof value}`, "use milliseconds or a string like '30s'")
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value)
  if (m && Number(m[1]) > 0) return Number(m[1]) * DURATION_UNITS[m[2]!]!
  const parts = splitQuantity(value)
  const unit = parts && DURATION_ALIASES[parts[1].toLowerCase()]
  const suggestion = parts && unit ? `use '${parts[0]}${unit}'` : "use a duration like '250ms', '30s' or '2m'"
  throw configError(field, `cannot read ${JSON.stringify(value)} as a duration`, suggestion)
}
