/**
 * "The worker has stopped", for waits that must not outlive it (a host function that never
 * settles, an output message that will never come). Unlike racing every wait against one
 * long-lived promise, which keeps a reaction per wait until the call ends (100k host calls
 * in one guest call: 100k of them), a finished wait leaves nothing behind.
 */
export class StopSignal {
  private readonly waiters = new Set<() => void>()
  stopped = false

  stop(): void {
    this.stopped = true
    for (const wake of this.waiters) wake()
    this.waiters.clear()
  }

  /** `work`'s value, or undefined as soon as the worker has stopped (whichever comes first). */
  race<T>(work: Promise<T>): Promise<T | undefined> {
    if (this.stopped) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const wake = () => resolve(undefined)
      this.waiters.add(wake)
      work.then((value) => { this.waiters.delete(wake); resolve(value) }, () => { this.waiters.delete(wake); resolve(undefined) })
    })
  }
}
