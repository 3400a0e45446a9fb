import { Directory, File, type Inode } from '@bjorn3/browser_wasi_shim'

/**
 * An in-memory directory tree from a file map: `{ 'notes.txt': 'hi', 'sub/data.bin': bytes }`.
 * Intermediate directories are created; a path that is both a file and a directory is refused.
 */
export function memoryTree(files: Record<string, Uint8Array>, readonly: boolean): Map<string, Inode> {
  const root = new Map<string, Inode>()
  for (const [path, data] of Object.entries(files)) {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.')
    if (parts.length === 0 || parts.includes('..')) throw new TypeError(`bad file path ${JSON.stringify(path)}`)
    let dir = root
    for (const part of parts.slice(0, -1)) {
      let next = dir.get(part)
      if (!next) { next = new Directory(new Map()); dir.set(part, next) }
      if (!(next instanceof Directory)) throw new TypeError(`${JSON.stringify(path)}: ${part} is a file`)
      dir = next.contents
    }
    dir.set(parts[parts.length - 1]!, new File(data.slice(), { readonly }))
  }
  return root
}
