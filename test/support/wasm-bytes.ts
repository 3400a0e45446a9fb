/**
 * Hand-built wasm binaries for tests, for what wat cannot spell (an out-of-range index) or
 * needs made at run time (a call wrapper per signature): unsigned LEB128, vectors, sections
 * and names, as the binary format defines them.
 */
export const leb = (n: number): number[] => {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n) byte |= 0x80
    out.push(byte)
  } while (n)
  return out
}
export const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()]
export const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body]
export const name = (text: string): number[] => {
  const bytes = [...new TextEncoder().encode(text)]
  return [...leb(bytes.length), ...bytes]
}
