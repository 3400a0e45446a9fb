import { IntList } from './int-list.js'

/**
 * Paths that reach the end of a block or `if` with the fuel counter charged but not yet
 * stored to the global: per open frame, a linked list of the segments they come from.
 *
 * If the code after such an end reads the counter before charging anything (only a
 * function's final `end` can: every other observing instruction costs fuel itself), those
 * segments store it with their charge instead of a store at the merge, which would also run
 * on the paths that had just reloaded it after a call (in recursive code that store, on the
 * return path, is measurable).
 */
export class UnstoredPaths {
  private readonly frameHeads = new IntList()
  private readonly segment = new IntList()
  private readonly next = new IntList()

  clear(): void {
    this.frameHeads.clear(); this.segment.clear(); this.next.clear()
  }

  pushFrame(): void {
    this.frameHeads.push(-1)
  }

  /** @returns the list of the frame that ends (-1: none) */
  popFrame(): number {
    return this.frameHeads.pop()
  }

  /** The top frame's list, before `popFrame`. */
  topList(): number {
    return this.frameHeads.top()
  }

  /** A path from `segment` reaches the end of frame `frame` unstored. */
  add(frame: number, segment: number): void {
    this.segment.push(segment)
    this.next.push(this.frameHeads.data[frame]!)
    this.frameHeads.data[frame] = this.segment.length - 1
  }

  /** Calls `f` with each segment of list `head`; stops and returns false when `f` does. */
  every(head: number, f: (segment: number) => boolean): boolean {
    const segments = this.segment.data, next = this.next.data
    for (let l = head; l >= 0; l = next[l]!) if (!f(segments[l]!)) return false
    return true
  }
}
