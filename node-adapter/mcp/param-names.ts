/**
 * Parameter names of a core module's exported functions, from the name section's local
 * names (subsection 2; what `(param $a i32)` in text, or a toolchain's debug names, leave
 * there). One pass over the section headers; only the export and name sections are read.
 * A malformed name section yields what was read before it (names are a hint, not a contract).
 */
export function paramNames(bytes: Uint8Array): Map<string, string[]> {
  let pos = 8
  const leb = () => { let r = 0, shift = 0, b: number; do { b = bytes[pos++]!; r += (b & 0x7f) * 2 ** shift; shift += 7 } while (b & 0x80 && pos < bytes.length); return r }
  const name = () => { const n = leb(); const s = new TextDecoder().decode(bytes.subarray(pos, pos + n)); pos += n; return s }
  const exported = new Map<number, string[]>() // function index -> export names
  const locals = new Map<number, string[]>() // function index -> local names by index
  try {
    while (pos < bytes.length) {
      const id = bytes[pos++]!
      const end = leb() + pos
      if (id === 7) { // exports
        for (let n = leb(); n > 0; n--) {
          const field = name()
          const kind = bytes[pos++]
          const index = leb()
          if (kind === 0) exported.set(index, [...(exported.get(index) ?? []), field])
        }
      } else if (id === 0 && name() === 'name') {
        while (pos < end) {
          const sub = bytes[pos++]!
          const subEnd = leb() + pos
          if (sub === 2) {
            for (let n = leb(); n > 0; n--) {
              const fn = leb()
              const names: string[] = []
              for (let m = leb(); m > 0; m--) { const local = leb(); names[local] = name() }
              locals.set(fn, names)
            }
          }
          pos = subEnd
        }
      }
      pos = end
    }
  } catch { /* keep what was read */ }
  const out = new Map<string, string[]>()
  for (const [index, fields] of exported) {
    const names = locals.get(index)
    if (names) for (const field of fields) out.set(field, names)
  }
  return out
}
