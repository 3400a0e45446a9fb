/** How many calls `callsAhead` keeps in flight. */
const AHEAD = 8

/**
 * Results of `call(args)` for each argument list from `inputs`, in input order. Pulls the
 * next input only as results are consumed (a few calls ahead), so a slow consumer slows
 * the producer. The first failing call throws out of the iteration.
 */
export async function* callsAhead(inputs: AsyncIterable<unknown[]> | Iterable<unknown[]>, call: (args: unknown[]) => Promise<unknown>): AsyncGenerator<any, void, undefined> {
  const inFlight: Promise<unknown>[] = []
  const iterator = (Symbol.asyncIterator in inputs ? inputs[Symbol.asyncIterator]() : (inputs as Iterable<unknown[]>)[Symbol.iterator]()) as AsyncIterator<unknown[]> | Iterator<unknown[]>
  let done = false
  try {
    for (;;) {
      while (!done && inFlight.length < AHEAD) {
        const next = await iterator.next()
        if (next.done) { done = true; break }
        const pending = call(Array.isArray(next.value) ? next.value : [next.value])
        pending.catch(() => undefined) // surfaced when its turn comes
        inFlight.push(pending)
      }
      const head = inFlight.shift()
      if (!head) return
      yield await head
    }
  } finally {
    if (!done) await iterator.return?.()
  }
}
