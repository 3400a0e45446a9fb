import type { Usage } from '../errors/index.js'

export function emptyUsage(fuelLimit: bigint | null): Usage {
  return { fuelUsed: 0n, fuelLimit, memoryBytes: 0, memoryPeakBytes: 0, wallMs: 0, calls: 0, traps: 0, hostCalls: 0 }
}

/** Adds one call's usage to a running total (memory: latest and peak). */
export function addUsage(total: Usage, call: Usage): void {
  total.fuelUsed += call.fuelUsed
  total.memoryBytes = call.memoryBytes
  total.memoryPeakBytes = Math.max(total.memoryPeakBytes, call.memoryPeakBytes)
  total.wallMs += call.wallMs
  total.calls += call.calls
  total.traps += call.traps
  total.hostCalls += call.hostCalls
}
