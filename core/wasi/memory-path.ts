import { Directory, wasi, type Inode } from '@bjorn3/browser_wasi_shim'
import { MAX_SYMLINK_HOPS } from './links.js'
import { Symlink } from './symlink.js'

// Path resolution in the in-memory preopens (see memory-fs.ts): every path from a start
// directory, `..` never above it, symlinks followed within it.

export interface Found {
  ret: number
  /** The node the path names (null if missing). */
  node: Inode | null
  /** Its directory and name in it (null for `.`/`..` or the start itself). */
  parent: Directory | null
  name: string | null
  /** Only the last component is missing: it can be created in `parent` as `name`. */
  creatable: boolean
  /** The directories walked, the start first. */
  stack: Directory[]
}

/** Resolves `path` from `start`; a final symlink is followed only when `followLast` (or the path ends with `/`). */
export function resolve(start: Directory, path: string, followLast: boolean): Found {
  const fail = (ret: number, extra: Partial<Found> = {}): Found => ({ ret, node: null, parent: null, name: null, creatable: false, stack: [], ...extra })
  if (path.startsWith('/')) return fail(wasi.ERRNO_NOTCAPABLE)
  if (path.includes('\0')) return fail(wasi.ERRNO_INVAL)
  if (path === '') return fail(wasi.ERRNO_NOENT)
  const trailingSlash = path.endsWith('/')
  const stack: Directory[] = [start]
  let pending = path.split('/').filter((p) => p !== '' && p !== '.')
  let hops = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === '..') {
      if (stack.length === 1) return fail(wasi.ERRNO_NOTCAPABLE)
      stack.pop()
      continue
    }
    const dir = stack[stack.length - 1]!
    const child = dir.contents.get(part)
    const last = pending.length === 0
    if (child === undefined) return fail(wasi.ERRNO_NOENT, last ? { parent: dir, name: part, creatable: true, stack } : {})
    if (child instanceof Symlink && (!last || followLast || trailingSlash)) {
      if (++hops > MAX_SYMLINK_HOPS) return fail(wasi.ERRNO_LOOP)
      if (child.target.startsWith('/')) return fail(wasi.ERRNO_NOTCAPABLE)
      pending = [...child.target.split('/').filter((p) => p !== '' && p !== '.'), ...pending]
      continue
    }
    if (last) {
      if (trailingSlash && !(child instanceof Directory)) return fail(wasi.ERRNO_NOTDIR)
      return { ret: wasi.ERRNO_SUCCESS, node: child, parent: dir, name: part, creatable: false, stack }
    }
    if (!(child instanceof Directory)) return fail(wasi.ERRNO_NOTDIR)
    stack.push(child)
  }
  return { ret: wasi.ERRNO_SUCCESS, node: stack[stack.length - 1]!, parent: null, name: null, creatable: false, stack }
}

/** The number of directories between `root` and `dir` (depth-first search; trees are small), or null if not below it. */
export function depthBelow(root: Directory, dir: Directory, depth = 0): number | null {
  if (root === dir) return depth
  for (const child of root.contents.values()) {
    if (child instanceof Directory) {
      const found = depthBelow(child, dir, depth + 1)
      if (found !== null) return found
    }
  }
  return null
}

