/**
 * UTF-8 through the platform's TextEncoder/TextDecoder, which every runtime we target has
 * (Node, browsers, workers) but the ES2022 lib that `core/` compiles against does not declare.
 */
interface Utf8Globals {
  TextEncoder: new () => { encode(text: string): Uint8Array }
  TextDecoder: new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }) => { decode(bytes: Uint8Array): string }
}
const platform = globalThis as unknown as Utf8Globals
const encoder = new platform.TextEncoder()
// ignoreBOM keeps a leading U+FEFF: it is part of a wasm name or a guest's string, not a marker
// to strip (by default TextDecoder drops it, turning an export named "\uFEFF" into "").
const lenient = new platform.TextDecoder('utf-8', { ignoreBOM: true })
const strict = new platform.TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/** Decodes UTF-8; with `fatal`, malformed input throws a TypeError instead of becoming U+FFFD. */
export function decodeUtf8(bytes: Uint8Array, fatal = false): string {
  return (fatal ? strict : lenient).decode(bytes)
}
