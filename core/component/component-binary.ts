/**
 * A component and a core module share the magic `\0asm`; the next four bytes tell them
 * apart: version 1 layer 0 for a module, a version 0x0d layer 1 for a component.
 */
export function isComponent(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d && bytes[6] === 1 && bytes[7] === 0
}

/** Component text starts with `(component`, after comments and whitespace. */
export function isComponentText(text: string): boolean {
  return /^(?:\s|;;[^\n]*\n|\(;[\s\S]*?;\))*\(\s*component\b/.test(text)
}
