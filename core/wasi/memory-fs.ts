import { Directory, Fd, File, Inode, wasi } from '@bjorn3/browser_wasi_shim'
import { applyTimes, timesOf, touch } from './node-times.js'
import { escapesMount, LOOKUP_SYMLINK_FOLLOW } from './links.js'
import { depthBelow, resolve, type Found } from './memory-path.js'
import { Symlink } from './symlink.js'

/**
 * In-memory preopens: directories and files are the shim's `Directory` and `File` inodes
 * (so `WasiHost.files()` and `memoryTree` work on them as before), but paths are resolved
 * here rather than by the shim, because the shim has no symbolic links, no timestamps, no
 * `fd_fdstat_set_flags`, and moves the position on `pwrite` to an append-mode file and
 * refuses `dir/` as a rename target. Confinement: every path is resolved from the fd's own
 * directory, and `..` (from the path or from a link's target) can never go above it:
 * ENOTCAPABLE, as for the shim before.
 */
/**
 * What the writable in-memory preopens of one sandbox may hold together: file bytes, link
 * targets, and a charge per directory entry. They live in the worker's heap, outside the
 * guest's capped memory, and come back to the host in `files`, so without a bound one cheap
 * `fd_filestat_set_size` per file could fill the host. Past it a change is ENOSPC.
 */
export class FileQuota {
  used = 0
  constructor(readonly limit: number) {}

  /** Takes `bytes` (a negative amount gives back); false, taking nothing, past the limit. */
  take(bytes: number): boolean {
    if (bytes > 0 && this.used + bytes > this.limit) return false
    this.used += bytes
    return true
  }

  /** What `tree`, as given at the start, already holds. */
  count(tree: Map<string, Inode>): void {
    for (const [name, node] of tree) {
      this.used += entryBytes(name) + sizeOf(node)
      if (node instanceof Directory) this.count(node.contents)
    }
  }
}

/** What one directory entry costs a quota beyond its content: its name and a node. */
const entryBytes = (name: string): number => 128 + name.length

/** The content a node holds: a file's bytes, a link's target. */
const sizeOf = (node: Inode): number => (node instanceof File ? node.data.length : node instanceof Symlink ? node.target.length : 0)

function stripSlashes(path: string): string {
  const stripped = path.replace(/\/+$/, '')
  return stripped === '' && path !== '' ? '.' : stripped
}

export function statOf(node: Inode): wasi.Filestat {
  const stat = node.stat()
  const t = timesOf(node)
  stat.atim = t.atim
  stat.mtim = t.mtim
  stat.ctim = t.ctim
  stat.nlink = t.nlink
  return stat
}

function setTimes(node: Inode, atim: bigint, mtim: bigint, flags: number): number {
  const t = timesOf(node)
  Object.assign(t, applyTimes(t, atim, mtim, flags))
  return wasi.ERRNO_SUCCESS
}

/** An open in-memory directory: the preopen itself (with its guest name) or one opened below it. */
export class MemoryDirectoryFd extends Fd {
  constructor(readonly dir: Directory, readonly root: Directory, private readonly preopenName: string | null, private readonly readonly: boolean, private readonly quota: FileQuota) {
    super()
  }

  override fd_prestat_get(): { ret: number; prestat: wasi.Prestat | null } {
    return this.preopenName === null ? { ret: wasi.ERRNO_BADF, prestat: null } : { ret: 0, prestat: wasi.Prestat.dir(this.preopenName) }
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: new wasi.Fdstat(wasi.FILETYPE_DIRECTORY, 0) }
  }

  override fd_filestat_get(): { ret: number; filestat: wasi.Filestat | null } {
    return { ret: 0, filestat: statOf(this.dir) }
  }

  override fd_filestat_set_times(atim: bigint, mtim: bigint, flags: number): number {
    return this.readonly ? wasi.ERRNO_ROFS : setTimes(this.dir, atim, mtim, flags)
  }

  override fd_readdir_single(cookie: bigint): { ret: number; dirent: wasi.Dirent | null } {
    if (cookie === 0n) return { ret: 0, dirent: new wasi.Dirent(1n, this.dir.ino, '.', wasi.FILETYPE_DIRECTORY) }
    if (cookie === 1n) return { ret: 0, dirent: new wasi.Dirent(2n, this.dir.ino, '..', wasi.FILETYPE_DIRECTORY) }
    const entry = [...this.dir.contents.entries()][Number(cookie - 2n)]
    if (!entry) return { ret: 0, dirent: null }
    return { ret: 0, dirent: new wasi.Dirent(cookie + 1n, entry[1].ino, entry[0], entry[1].stat().filetype) }
  }

  override path_filestat_get(flags: number, path: string): { ret: number; filestat: wasi.Filestat | null } {
    const found = resolve(this.dir, path, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0)
    return found.node ? { ret: 0, filestat: statOf(found.node) } : { ret: found.ret, filestat: null }
  }

  override path_filestat_set_times(flags: number, path: string, atim: bigint, mtim: bigint, fstFlags: number): number {
    if (this.readonly) return wasi.ERRNO_ROFS
    const found = resolve(this.dir, path, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0)
    return found.node ? setTimes(found.node, atim, mtim, fstFlags) : found.ret
  }

  override path_open(dirflags: number, path: string, oflags: number, rightsBase: bigint, _inheriting: bigint, fdFlags: number): { ret: number; fd_obj: Fd | null } {
    const fail = (ret: number) => ({ ret, fd_obj: null })
    const found = resolve(this.dir, path, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0)
    let node = found.node
    if (!node) {
      if (!found.creatable || !(oflags & wasi.OFLAGS_CREAT)) return fail(found.ret)
      if (this.readonly) return fail(wasi.ERRNO_ROFS)
      if (oflags & wasi.OFLAGS_DIRECTORY || path.endsWith('/')) return fail(wasi.ERRNO_ISDIR)
      if (!this.quota.take(entryBytes(found.name!))) return fail(wasi.ERRNO_NOSPC)
      node = new File(new Uint8Array(0))
      found.parent!.contents.set(found.name!, node)
      touch(found.parent!)
    } else if (oflags & wasi.OFLAGS_CREAT && oflags & wasi.OFLAGS_EXCL) {
      return fail(wasi.ERRNO_EXIST)
    }
    if (node instanceof Symlink) { // a final link, not followed (O_NOFOLLOW); one that leads out is refused as such
      return fail(resolve(this.dir, path, true).ret === wasi.ERRNO_NOTCAPABLE ? wasi.ERRNO_NOTCAPABLE : wasi.ERRNO_LOOP)
    }
    if (node instanceof Directory) {
      if ((rightsBase & BigInt(wasi.RIGHTS_FD_WRITE)) !== 0n || oflags & wasi.OFLAGS_TRUNC) return fail(wasi.ERRNO_ISDIR)
      return { ret: 0, fd_obj: new MemoryDirectoryFd(node, this.root, null, this.readonly, this.quota) }
    }
    if (oflags & wasi.OFLAGS_DIRECTORY) return fail(wasi.ERRNO_NOTDIR)
    if (!(node instanceof File)) return fail(wasi.ERRNO_NOTSUP)
    if (oflags & wasi.OFLAGS_TRUNC) {
      if (this.readonly || node.readonly) return fail(wasi.ERRNO_ROFS)
      this.quota.take(-node.data.length)
      node.data = new Uint8Array(0)
      touch(node)
    }
    return { ret: 0, fd_obj: new MemoryFileFd(node, fdFlags, this.quota) }
  }

  override path_create_directory(path: string): number {
    if (this.readonly) return wasi.ERRNO_ROFS
    const found = resolve(this.dir, stripSlashes(path), false)
    if (found.node) return wasi.ERRNO_EXIST
    if (!found.creatable) return found.ret
    if (!this.quota.take(entryBytes(found.name!))) return wasi.ERRNO_NOSPC
    const dir = new Directory(new Map())
    found.parent!.contents.set(found.name!, dir)
    touch(found.parent!)
    return wasi.ERRNO_SUCCESS
  }

  override path_unlink_file(path: string): number {
    if (this.readonly) return wasi.ERRNO_ROFS
    const found = resolve(this.dir, stripSlashes(path), false)
    if (!found.node) return found.ret
    if (found.node instanceof Directory) return wasi.ERRNO_ISDIR
    if (path.endsWith('/')) return wasi.ERRNO_NOTDIR // 'file/' names a directory
    this.remove(found)
    return wasi.ERRNO_SUCCESS
  }

  override path_remove_directory(path: string): number {
    if (this.readonly) return wasi.ERRNO_ROFS
    const found = resolve(this.dir, stripSlashes(path), false)
    if (!found.node) return found.ret
    if (!(found.node instanceof Directory)) return wasi.ERRNO_NOTDIR
    if (!found.parent) return wasi.ERRNO_INVAL // '.', '..' or the directory itself
    if (found.node.contents.size !== 0) return wasi.ERRNO_NOTEMPTY
    this.remove(found)
    return wasi.ERRNO_SUCCESS
  }

  override path_readlink(path: string): { ret: number; data: string | null } {
    const found = resolve(this.dir, path, false)
    if (!found.node) return { ret: found.ret, data: null }
    return found.node instanceof Symlink ? { ret: 0, data: found.node.target } : { ret: wasi.ERRNO_INVAL, data: null }
  }

  /** path_symlink: `target` must be relative and stay inside the mount from the link's directory (EPERM). */
  symlink(target: string, path: string): number {
    if (this.readonly) return wasi.ERRNO_ROFS
    const found = resolve(this.dir, stripSlashes(path), false)
    if (found.node) return path.endsWith('/') && !(found.node instanceof Directory) ? wasi.ERRNO_NOTDIR : wasi.ERRNO_EXIST
    if (!found.creatable) return found.ret
    if (path.endsWith('/')) return wasi.ERRNO_NOENT
    const depth = depthBelow(this.root, found.parent!)
    if (depth === null || escapesMount(depth, target)) return wasi.ERRNO_PERM
    if (!this.quota.take(entryBytes(found.name!) + target.length)) return wasi.ERRNO_NOSPC
    found.parent!.contents.set(found.name!, new Symlink(target))
    touch(found.parent!)
    return wasi.ERRNO_SUCCESS
  }

  /** path_link (never following links): a second name for a file or symlink, in this mount. */
  linkTo(oldPath: string, to: unknown, newPath: string): number {
    if (!(to instanceof MemoryDirectoryFd) || to.root !== this.root) return wasi.ERRNO_XDEV
    if (this.readonly) return wasi.ERRNO_ROFS
    const source = resolve(this.dir, stripSlashes(oldPath), false)
    if (!source.node) return source.ret
    if (source.node instanceof Directory) return wasi.ERRNO_PERM
    if (newPath.endsWith('/')) return wasi.ERRNO_NOENT
    const dest = resolve(to.dir, newPath, false)
    if (dest.node) return wasi.ERRNO_EXIST
    if (!dest.creatable) return dest.ret
    if (!this.quota.take(entryBytes(dest.name!))) return wasi.ERRNO_NOSPC
    dest.parent!.contents.set(dest.name!, source.node)
    timesOf(source.node).nlink++
    touch(dest.parent!)
    return wasi.ERRNO_SUCCESS
  }

  /** path_rename as POSIX rename(2), within this mount. */
  renameTo(oldPath: string, to: unknown, newPath: string): number {
    if (!(to instanceof MemoryDirectoryFd) || to.root !== this.root) return wasi.ERRNO_XDEV
    if (this.readonly) return wasi.ERRNO_ROFS
    const source = resolve(this.dir, stripSlashes(oldPath), false)
    if (!source.node) return source.ret
    if (!source.parent) return wasi.ERRNO_INVAL
    const moving = source.node
    const isDir = moving instanceof Directory
    if (!isDir && (oldPath.endsWith('/') || newPath.endsWith('/'))) return wasi.ERRNO_NOTDIR
    const dest = resolve(to.dir, stripSlashes(newPath), false)
    if (!dest.node && !dest.creatable) return dest.ret
    if (dest.node && !dest.parent) return wasi.ERRNO_INVAL
    if (dest.node === moving) return wasi.ERRNO_SUCCESS
    if (isDir && dest.stack.includes(moving as Directory)) return wasi.ERRNO_INVAL // into itself
    if (dest.node) {
      if (isDir && !(dest.node instanceof Directory)) return wasi.ERRNO_NOTDIR
      if (!isDir && dest.node instanceof Directory) return wasi.ERRNO_ISDIR
      if (dest.node instanceof Directory && dest.node.contents.size !== 0) return wasi.ERRNO_NOTEMPTY
    }
    if (!this.quota.take(entryBytes(dest.name!) - entryBytes(source.name!))) return wasi.ERRNO_NOSPC
    if (dest.node) this.remove(dest)
    source.parent.contents.delete(source.name!)
    dest.parent!.contents.set(dest.name!, moving)
    touch(source.parent)
    touch(dest.parent!)
    timesOf(moving).ctim = timesOf(dest.parent!).ctim
    return wasi.ERRNO_SUCCESS
  }

  private remove(found: Found): void {
    found.parent!.contents.delete(found.name!)
    const times = timesOf(found.node!)
    times.nlink--
    this.quota.take(-entryBytes(found.name!) - (times.nlink === 0n ? sizeOf(found.node!) : 0))
    touch(found.parent!)
  }
}

/**
 * An open in-memory file. Unlike the shim's `OpenFile`: the fdflags given at open are kept
 * and reported, `fd_fdstat_set_flags` can change them (APPEND among them), `pwrite` never
 * moves the position, and writes and truncation update the file's times.
 */
export class MemoryFileFd extends Fd {
  private position = 0n

  constructor(readonly file: File, private flags: number, private readonly quota: FileQuota) {
    super()
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: new wasi.Fdstat(wasi.FILETYPE_REGULAR_FILE, this.flags) }
  }

  override fd_fdstat_set_flags(flags: number): number {
    this.flags = flags
    return wasi.ERRNO_SUCCESS
  }

  override fd_filestat_get(): { ret: number; filestat: wasi.Filestat | null } {
    return { ret: 0, filestat: statOf(this.file) }
  }

  override fd_filestat_set_times(atim: bigint, mtim: bigint, flags: number): number {
    return setTimes(this.file, atim, mtim, flags)
  }

  override fd_filestat_set_size(size: bigint): number {
    if (this.file.readonly) return wasi.ERRNO_BADF
    if (!this.resize(size)) return wasi.ERRNO_NOSPC
    touch(this.file)
    return wasi.ERRNO_SUCCESS
  }

  override fd_allocate(offset: bigint, len: bigint): number {
    if (this.file.readonly) return wasi.ERRNO_BADF
    if (offset + len > this.file.size && !this.resize(offset + len)) return wasi.ERRNO_NOSPC
    return wasi.ERRNO_SUCCESS
  }

  override fd_read(size: number): { ret: number; data: Uint8Array } {
    const result = this.fd_pread(size, this.position)
    this.position += BigInt(result.data.length)
    return result
  }

  override fd_pread(size: number, offset: bigint): { ret: number; data: Uint8Array } {
    return { ret: 0, data: this.file.data.slice(Number(offset), Number(offset) + size) }
  }

  override fd_write(data: Uint8Array): { ret: number; nwritten: number } {
    if (this.flags & wasi.FDFLAGS_APPEND) this.position = this.file.size
    const result = this.fd_pwrite(data, this.position)
    this.position += BigInt(result.nwritten)
    return result
  }

  /** At `offset`, the position unchanged (POSIX; Linux would append on an O_APPEND fd, which the testsuite also accepts). */
  override fd_pwrite(data: Uint8Array, offset: bigint): { ret: number; nwritten: number } {
    if (this.file.readonly) return { ret: wasi.ERRNO_BADF, nwritten: 0 }
    const end = offset + BigInt(data.length)
    if (end > this.file.size && !this.resize(end)) return { ret: wasi.ERRNO_NOSPC, nwritten: 0 }
    this.file.data.set(data, Number(offset))
    touch(this.file)
    return { ret: 0, nwritten: data.length }
  }

  override fd_seek(offset: bigint, whence: number): { ret: number; offset: bigint } {
    const base = whence === wasi.WHENCE_SET ? 0n : whence === wasi.WHENCE_CUR ? this.position : whence === wasi.WHENCE_END ? this.file.size : null
    if (base === null || base + offset < 0n) return { ret: wasi.ERRNO_INVAL, offset: this.position }
    this.position = base + offset
    return { ret: 0, offset: this.position }
  }

  override fd_tell(): { ret: number; offset: bigint } {
    return { ret: 0, offset: this.position }
  }

  override fd_sync(): number {
    return wasi.ERRNO_SUCCESS
  }

  /** False (ENOSPC), changing nothing, when the quota cannot take the growth. */
  private resize(newSize: bigint): boolean {
    if (newSize > BigInt(this.quota.limit) || !this.quota.take(Number(newSize) - this.file.data.length)) return false
    const size = Number(newSize)
    const data = new Uint8Array(size)
    data.set(this.file.data.subarray(0, Math.min(size, this.file.data.length)))
    this.file.data = data
    return true
  }
}
