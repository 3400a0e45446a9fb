/** Call metrics of a sandbox or a pool, as `metrics()` returns them. */
export interface Metrics {
  calls: number
  /** Failed calls, by error code. */
  failures: Record<string, number>
  fuelUsed: bigint
  /** Wall time per call in milliseconds: percentiles over the last {@link WALL_SAMPLES} calls; max and total over all. */
  wallMs: { p50: number; p95: number; max: number; total: number }
}

/** How many recent calls the wall-time percentiles cover. */
export const WALL_SAMPLES = 1024

/** Accumulates {@link Metrics}: counts forever, wall-time percentiles over recent calls. */
export class MetricsRecorder {
  private calls = 0
  private readonly failures: Record<string, number> = {}
  private fuelUsed = 0n
  private readonly wall: number[] = []
  private next = 0
  private maxWall = 0
  private totalWall = 0

  record(wallMs: number, fuelUsed: bigint, errorCode?: string): void {
    this.calls++
    this.fuelUsed += fuelUsed
    if (errorCode) this.failures[errorCode] = (this.failures[errorCode] ?? 0) + 1
    if (this.wall.length < WALL_SAMPLES) this.wall.push(wallMs)
    else this.wall[this.next] = wallMs
    this.next = (this.next + 1) % WALL_SAMPLES
    this.maxWall = Math.max(this.maxWall, wallMs)
    this.totalWall += wallMs
  }

  snapshot(): Metrics {
    const sorted = [...this.wall].sort((a, b) => a - b)
    const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0)
    return { calls: this.calls, failures: { ...this.failures }, fuelUsed: this.fuelUsed, wallMs: { p50: at(0.5), p95: at(0.95), max: this.maxWall, total: this.totalWall } }
  }
}
