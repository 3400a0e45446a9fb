/**
 * A sandbox's audit log on the host: the last `capacity` events in a fixed ring, so keeping
 * one is O(1) however many arrive (an array trimmed with `splice` moved the whole log for
 * every event past the cap).
 */
export class AuditRing<T> {
  private readonly items: T[] = []
  /** Where the oldest item is, once the ring is full. */
  private start = 0

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item)
    else {
      this.items[this.start] = item
      this.start = (this.start + 1) % this.capacity
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)]
  }
}
