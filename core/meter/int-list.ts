/**
 * A growable list of 32-bit integers over an Int32Array: the rewriter's edit and control-stack
 * lists, reused from function to function, so a body allocates nothing and a list of millions
 * of entries (adversarial nesting) costs 4 bytes an entry rather than a JS array's boxed slots.
 */
export class IntList {
  data: Int32Array
  length = 0

  constructor(capacity = 256) {
    this.data = new Int32Array(capacity)
  }

  push(value: number): void {
    if (this.length === this.data.length) this.grow()
    this.data[this.length++] = value
  }

  pop(): number {
    return this.data[--this.length]!
  }

  /** The last entry. */
  top(): number {
    return this.data[this.length - 1]!
  }

  clear(): void {
    this.length = 0
  }

  private grow(): void {
    const next = new Int32Array(this.data.length * 2)
    next.set(this.data)
    this.data = next
  }
}
