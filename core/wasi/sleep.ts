let sleeper: Int32Array | null = null

/** Blocks the worker thread (never the host's) for `ms`; the call's timeout still applies. */
export function sleep(ms: number): void {
  if (ms <= 0) return
  sleeper ??= new Int32Array(new SharedArrayBuffer(4))
  Atomics.wait(sleeper, 0, 0, Math.ceil(ms))
}
