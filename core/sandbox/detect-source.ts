/**
 * Whether a string is WebAssembly text rather than a path or URL: text starts with `(`,
 * possibly after white space and comments.
 */
export function isWatText(source: string): boolean {
  return /^(?:\s|;;[^\n]*\n|\(;[\s\S]*?;\))*\(/.test(source)
}

/** Whether bytes look like WebAssembly text (a `.wat` file or a text response). */
export function bytesLookLikeText(bytes: Uint8Array): boolean {
  for (const b of bytes.subarray(0, 64)) {
    if (b === 0x28 /* ( */ || b === 0x3b /* ; */) return true
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false
  }
  return false
}
