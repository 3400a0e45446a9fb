import {
  closeSync, fstatSync, ftruncateSync, futimesSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync,
  readSync, realpathSync, renameSync, rmdirSync, statSync, symlinkSync, unlinkSync, utimesSync, writeSync, constants, type BigIntStats, type Stats,
} from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { Fd, wasi } from '@bjorn3/browser_wasi_shim'
import { escapesMount, LOOKUP_SYMLINK_FOLLOW } from '../core/wasi/links.js'
import { applyTimes } from '../core/wasi/node-times.js'

/**
 * A host directory mounted as a WASI preopen (Node only), confined to its root:
 * - paths are resolved component by component: absolute paths and `..` past the directory
 *   fd they are taken from are ENOTCAPABLE before the file system is touched;
 * - the real path (symlinks resolved) of the target, or of its deepest existing ancestor
 *   when creating, must lie inside the root's real path, so no symlink — existing or swapped
 *   in — leads out; files are then opened by that real path with O_NOFOLLOW;
 * - read-only mounts open everything O_RDONLY and refuse every change with EROFS (the
 *   policy layer refuses first; this is the second wall);
 * - symlinks are created only with a relative target that stays inside the mount from the
 *   link's directory (core/wasi/links.ts); following them is confined as above; hard links
 *   and renames stay within the mount.
 */
export class HostMount {
  readonly rootReal: string
  constructor(root: string, readonly readonly: boolean) {
    this.rootReal = realpathSync.native(root)
    if (!statSync(this.rootReal).isDirectory()) throw new TypeError(`${root} is not a directory`)
  }

  /** The host path for `path` relative to the directory `base` (relative parts), or an errno. */
  resolve(base: readonly string[], path: string): { ret: number; parts: string[]; real: string } {
    const fail = (ret: number) => ({ ret, parts: [], real: '' })
    if (path.startsWith('/')) return fail(wasi.ERRNO_NOTCAPABLE)
    if (path.includes('\0')) return fail(wasi.ERRNO_INVAL)
    const parts = [...base]
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue
      if (part === '..') {
        // Never above the directory the path is taken from (each directory fd is its own
        // capability, as in other WASI runtimes), let alone above the root.
        if (parts.length <= base.length) return fail(wasi.ERRNO_NOTCAPABLE)
        parts.pop()
      } else parts.push(part)
    }
    const full = join(this.rootReal, ...parts)
    // The deepest existing ancestor (or the path itself) decides where we really are.
    let probe = full
    let missing = ''
    for (;;) {
      try {
        lstatSync(probe)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || probe === this.rootReal) return fail(errno(error))
        missing = missing ? join(probe.slice(dirname(probe).length + 1), missing) : probe.slice(dirname(probe).length + 1)
        probe = dirname(probe)
      }
    }
    let real: string
    try {
      real = realpathSync.native(probe)
    } catch (error) {
      return fail((error as NodeJS.ErrnoException).code === 'ENOENT' ? wasi.ERRNO_NOTCAPABLE : errno(error)) // a dangling symlink
    }
    if (!this.inside(real)) return fail(wasi.ERRNO_NOTCAPABLE)
    return { ret: wasi.ERRNO_SUCCESS, parts, real: missing ? join(real, missing) : real }
  }

  /**
   * For operations on a directory entry itself (unlink, rmdir, rename): the real path of its
   * parent directory (which must lie inside the root) joined with its own name, so a symlink
   * is acted on, never what it points to. A final `.` or `..` names no entry: EINVAL.
   */
  resolveEntry(base: readonly string[], path: string): { ret: number; entry: string } {
    const last = path.split('/').filter((p) => p !== '').pop()
    if (last === undefined || last === '.' || last === '..') return { ret: wasi.ERRNO_INVAL, entry: '' }
    const parent = this.resolve(base, path.slice(0, path.lastIndexOf(last)) || '.')
    if (parent.ret) return { ret: parent.ret, entry: '' }
    return { ret: wasi.ERRNO_SUCCESS, entry: join(parent.real, last) }
  }

  inside(real: string): boolean {
    return real === this.rootReal || real.startsWith(this.rootReal + sep)
  }

  /** Whether the symlink `entry` (inside the root) leads out of it, on paper or followed. */
  leadsOut(entry: string): boolean {
    try {
      if (escapesMount(this.depthOf(dirname(entry)), readlinkSync(entry))) return true
      return !this.inside(realpathSync.native(entry))
    } catch {
      return false // dangling inside: ELOOP as for any other link
    }
  }

  /** The components of `real` (inside the root) below the root. */
  partsOf(real: string): string[] {
    return relative(this.rootReal, real).split(sep).filter((p) => p !== '')
  }

  /** How many directories `real` (inside the root) lies below it. */
  depthOf(real: string): number {
    return this.partsOf(real).length
  }

  /**
   * Times the guest set, by file (dev:ino): Node sets times from seconds in a double
   * (about 240 ns of resolution today), so the exact nanoseconds asked for are reported
   * back as long as the file still has the time they were rounded to.
   */
  private readonly setTimes = new Map<string, { atim: [bigint, bigint]; mtim: [bigint, bigint] }>()

  filestat(s: BigIntStats): wasi.Filestat {
    const stat = new wasi.Filestat(s.ino, fileType(s), s.size)
    const set = this.setTimes.get(`${s.dev}:${s.ino}`)
    stat.dev = s.dev
    stat.nlink = s.nlink
    stat.atim = set && set.atim[1] === s.atimeNs ? set.atim[0] : s.atimeNs
    stat.mtim = set && set.mtim[1] === s.mtimeNs ? set.mtim[0] : s.mtimeNs
    stat.ctim = s.ctimeNs
    return stat
  }

  /** A filestat from `read` (fstat, stat or lstat), or the errno it failed with. */
  stat(read: () => BigIntStats): { ret: number; filestat: wasi.Filestat | null } {
    try {
      return { ret: 0, filestat: this.filestat(read()) }
    } catch (error) {
      return { ret: errno(error), filestat: null }
    }
  }

  /** `*_filestat_set_times` through `set(atime, mtime)` in seconds; `read` stats the file. */
  changeTimes(read: () => BigIntStats, set: (atime: number, mtime: number) => void, atim: bigint, mtim: bigint, flags: number): number {
    if (this.readonly) return wasi.ERRNO_ROFS
    try {
      const wanted = applyTimes(this.filestat(read()), atim, mtim, flags)
      set(seconds(wanted.atim), seconds(wanted.mtim))
      const after = read()
      this.setTimes.set(`${after.dev}:${after.ino}`, { atim: [wanted.atim, after.atimeNs], mtim: [wanted.mtim, after.mtimeNs] })
      return 0
    } catch (error) {
      return errno(error)
    }
  }
}

function seconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6
}

/**
 * An open directory of a host mount (the preopen itself, or one opened below it). It is
 * known by its path in the mount, resolved afresh and checked on every use: a directory
 * renamed away and replaced by a symlink to the outside since it was opened cannot lead
 * there (Node has no openat to hold a real handle).
 */
export class HostDirectoryFd extends Fd {
  private listing: string[] | null = null
  /** The checked real path the listing was read from. */
  private listingReal = ''

  constructor(readonly mount: HostMount, readonly parts: string[], private readonly preopenName: string | null) {
    super()
  }

  /** This directory's real path now, inside the mount, or an errno (ENOTCAPABLE if it now leads out). */
  private where(): { ret: number; real: string } {
    return this.mount.resolve(this.parts, '.')
  }

  override fd_prestat_get(): { ret: number; prestat: wasi.Prestat | null } {
    return this.preopenName === null ? { ret: wasi.ERRNO_BADF, prestat: null } : { ret: 0, prestat: wasi.Prestat.dir(this.preopenName) }
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: new wasi.Fdstat(wasi.FILETYPE_DIRECTORY, 0) }
  }

  override fd_filestat_get(): { ret: number; filestat: wasi.Filestat | null } {
    const at = this.where()
    if (at.ret) return { ret: at.ret, filestat: null }
    return this.mount.stat(() => statSync(at.real, { bigint: true }))
  }

  override fd_filestat_set_times(atim: bigint, mtim: bigint, flags: number): number {
    const at = this.where()
    if (at.ret) return at.ret
    return this.mount.changeTimes(() => statSync(at.real, { bigint: true }), (a, m) => utimesSync(at.real, a, m), atim, mtim, flags)
  }

  /**
   * Where `path` leads: with `follow`, every link followed (the real path); without, a
   * final link is the link itself (the real path of its directory, joined with its name).
   */
  private locate(path: string, follow: boolean): { ret: number; real: string; link: boolean } {
    if (!follow && !path.endsWith('/')) {
      const entry = this.mount.resolveEntry(this.parts, path)
      if (entry.ret === 0) {
        let link = false
        try {
          link = lstatSync(entry.entry).isSymbolicLink()
        } catch {
          // missing: the followed path says so too
        }
        if (link) return { ret: 0, real: entry.entry, link: true }
      } else if (entry.ret !== wasi.ERRNO_INVAL) return { ret: entry.ret, real: '', link: false }
    }
    const target = this.mount.resolve(this.parts, path)
    return { ret: target.ret, real: target.real, link: false }
  }

  override fd_readdir_single(cookie: bigint): { ret: number; dirent: wasi.Dirent | null } {
    const at = this.where() // every entry: the directory may have been swapped between two
    if (at.ret) return { ret: at.ret, dirent: null }
    if (cookie === 0n || this.listing === null || at.real !== this.listingReal) {
      try {
        this.listing = ['.', '..', ...readdirSync(at.real).sort()]
        this.listingReal = at.real
      } catch (error) {
        return { ret: errno(error), dirent: null }
      }
    }
    const name = this.listing[Number(cookie)]
    if (name === undefined) return { ret: 0, dirent: null }
    // '..' of the mount's root is the root itself: nothing about the outside shows.
    const path = name === '.' || (name === '..' && at.real === this.mount.rootReal) ? at.real : join(at.real, name)
    let type: number = wasi.FILETYPE_UNKNOWN
    let ino = 0n
    try {
      const s = lstatSync(path, { bigint: true })
      type = fileType(s)
      ino = s.ino
    } catch {
      // gone since the listing was read
    }
    return { ret: 0, dirent: new wasi.Dirent(cookie + 1n, ino, name, type) }
  }

  override path_filestat_get(flags: number, path: string): { ret: number; filestat: wasi.Filestat | null } {
    const target = this.locate(path, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0)
    if (target.ret) return { ret: target.ret, filestat: null }
    return this.mount.stat(() => lstatSync(target.real, { bigint: true }))
  }

  override path_filestat_set_times(flags: number, path: string, atim: bigint, mtim: bigint, fstFlags: number): number {
    const target = this.locate(path, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0)
    if (target.ret) return target.ret
    return this.mount.changeTimes(() => lstatSync(target.real, { bigint: true }), (a, m) => lutimesSync(target.real, a, m), atim, mtim, fstFlags)
  }

  override path_open(dirflags: number, path: string, oflags: number, rightsBase: bigint, _rightsInheriting: bigint, fdFlags: number): { ret: number; fd_obj: Fd | null } {
    const target = this.locate(path, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0)
    if (target.ret) return { ret: target.ret, fd_obj: null }
    // A final link not to be followed (O_NOFOLLOW): ELOOP, or EEXIST for O_CREAT|O_EXCL; one
    // that leads out of the mount is refused as such.
    if (target.link) {
      if (this.mount.leadsOut(target.real)) return { ret: wasi.ERRNO_NOTCAPABLE, fd_obj: null }
      return { ret: oflags & wasi.OFLAGS_CREAT && oflags & wasi.OFLAGS_EXCL ? wasi.ERRNO_EXIST : wasi.ERRNO_LOOP, fd_obj: null }
    }
    const writeRight = (rightsBase & BigInt(wasi.RIGHTS_FD_WRITE)) !== 0n
    const wantsWrite = writeRight || (oflags & (wasi.OFLAGS_CREAT | wasi.OFLAGS_TRUNC)) !== 0 || (fdFlags & wasi.FDFLAGS_APPEND) !== 0
    if (wantsWrite && this.mount.readonly) return { ret: wasi.ERRNO_ROFS, fd_obj: null }
    let existing: Stats | null = null
    try {
      existing = statSync(target.real)
    } catch {
      existing = null
    }
    if (existing && !existing.isDirectory() && path.endsWith('/')) return { ret: wasi.ERRNO_NOTDIR, fd_obj: null } // 'file/' names a directory
    if (existing?.isDirectory()) {
      if (oflags & (wasi.OFLAGS_CREAT | wasi.OFLAGS_EXCL) && oflags & wasi.OFLAGS_EXCL) return { ret: wasi.ERRNO_EXIST, fd_obj: null }
      if (writeRight || oflags & wasi.OFLAGS_TRUNC) return { ret: wasi.ERRNO_ISDIR, fd_obj: null } // a directory opened to write
      return { ret: 0, fd_obj: new HostDirectoryFd(this.mount, this.mount.partsOf(target.real), null) }
    }
    if (oflags & wasi.OFLAGS_DIRECTORY) return { ret: existing ? wasi.ERRNO_NOTDIR : wasi.ERRNO_NOENT, fd_obj: null }
    let flags = constants.O_NOFOLLOW | (wantsWrite ? constants.O_RDWR : constants.O_RDONLY)
    if (oflags & wasi.OFLAGS_CREAT) flags |= constants.O_CREAT
    if (oflags & wasi.OFLAGS_EXCL) flags |= constants.O_EXCL
    if (oflags & wasi.OFLAGS_TRUNC) flags |= constants.O_TRUNC
    try {
      const fd = openSync(target.real, flags, 0o644)
      return { ret: 0, fd_obj: new HostFileFd(this.mount, fd, fdFlags, !wantsWrite) }
    } catch (error) {
      return { ret: errno(error), fd_obj: null }
    }
  }

  override path_create_directory(path: string): number {
    return this.change(path, (real) => mkdirSync(real))
  }

  override path_unlink_file(path: string): number {
    return this.changeEntry(path, (entry) => {
      if (lstatSync(entry).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
      if (path.endsWith('/')) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }) // 'file/' names a directory
      unlinkSync(entry)
    })
  }

  override path_remove_directory(path: string): number {
    return this.changeEntry(path, (entry) => {
      if (!lstatSync(entry).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
      rmdirSync(entry)
    })
  }

  /** The link itself, never followed; a target that leads out of the mount is not shown (ENOTCAPABLE). */
  override path_readlink(path: string): { ret: number; data: string | null } {
    const target = this.mount.resolveEntry(this.parts, path)
    if (target.ret) return { ret: target.ret, data: null }
    try {
      const data = readlinkSync(target.entry)
      if (escapesMount(this.mount.depthOf(dirname(target.entry)), data)) return { ret: wasi.ERRNO_NOTCAPABLE, data: null }
      return { ret: 0, data }
    } catch (error) {
      return { ret: errno(error), data: null }
    }
  }

  /** path_symlink: `target` must be relative and stay inside the mount from the link's directory (EPERM). */
  symlink(target: string, path: string): number {
    if (this.mount.readonly) return wasi.ERRNO_ROFS
    const link = this.mount.resolveEntry(this.parts, path)
    if (link.ret) return link.ret
    let existing: Stats | null = null
    try {
      existing = lstatSync(link.entry)
    } catch {
      existing = null
    }
    if (existing) return path.endsWith('/') && !existing.isDirectory() ? wasi.ERRNO_NOTDIR : wasi.ERRNO_EXIST
    if (path.endsWith('/')) return wasi.ERRNO_NOENT
    if (escapesMount(this.mount.depthOf(dirname(link.entry)), target)) return wasi.ERRNO_PERM
    return attempt(() => symlinkSync(target, link.entry))
  }

  /** path_link (never following a final link): a second name for a file or symlink, in this mount. */
  linkTo(oldPath: string, to: unknown, newPath: string): number {
    if (!(to instanceof HostDirectoryFd) || to.mount !== this.mount) return wasi.ERRNO_XDEV
    if (this.mount.readonly) return wasi.ERRNO_ROFS
    const from = this.mount.resolveEntry(this.parts, oldPath)
    if (from.ret) return from.ret
    if (newPath.endsWith('/')) return wasi.ERRNO_NOENT
    const dest = to.mount.resolveEntry(to.parts, newPath)
    if (dest.ret) return dest.ret
    return attempt(() => {
      if (lstatSync(from.entry).isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EPERM' })
      linkSync(from.entry, dest.entry)
    })
  }

  /** Rename within the mount (the policy layer has refused cross-mount renames). */
  renameTo(oldPath: string, to: unknown, newPath: string): number {
    if (!(to instanceof HostDirectoryFd) || to.mount !== this.mount) return wasi.ERRNO_XDEV
    if (this.mount.readonly) return wasi.ERRNO_ROFS
    const from = this.mount.resolveEntry(this.parts, oldPath)
    if (from.ret) return from.ret
    const dest = to.mount.resolveEntry(to.parts, newPath)
    if (dest.ret) return dest.ret
    try {
      renameSync(from.entry, dest.entry)
      return 0
    } catch (error) {
      return errno(error)
    }
  }

  private change(path: string, action: (real: string) => void): number {
    if (this.mount.readonly) return wasi.ERRNO_ROFS
    const target = this.mount.resolve(this.parts, path)
    if (target.ret) return target.ret
    return attempt(() => action(target.real))
  }

  /** unlink/rmdir: act on the entry itself (a symlink is removed, not followed). */
  private changeEntry(path: string, action: (entry: string) => void): number {
    if (this.mount.readonly) return wasi.ERRNO_ROFS
    const target = this.mount.resolveEntry(this.parts, path)
    if (target.ret) return target.ret
    return attempt(() => action(target.entry))
  }
}

/** An open host file. */
class HostFileFd extends Fd {
  private position = 0n

  /** `flags`: the fdflags given at open or by fd_fdstat_set_flags (APPEND is honoured; the others are reported). */
  constructor(private readonly mount: HostMount, private readonly fd: number, private flags: number, private readonly readOnly: boolean) {
    super()
  }

  private get append(): boolean {
    return (this.flags & wasi.FDFLAGS_APPEND) !== 0
  }

  override fd_fdstat_get(): { ret: number; fdstat: wasi.Fdstat | null } {
    return { ret: 0, fdstat: new wasi.Fdstat(wasi.FILETYPE_REGULAR_FILE, this.flags) }
  }

  override fd_fdstat_set_flags(flags: number): number {
    this.flags = flags
    return 0
  }

  override fd_filestat_get(): { ret: number; filestat: wasi.Filestat | null } {
    return this.mount.stat(() => fstatSync(this.fd, { bigint: true }))
  }

  override fd_filestat_set_times(atim: bigint, mtim: bigint, flags: number): number {
    return this.mount.changeTimes(() => fstatSync(this.fd, { bigint: true }), (a, m) => futimesSync(this.fd, a, m), atim, mtim, flags)
  }

  override fd_read(size: number): { ret: number; data: Uint8Array } {
    const { ret, data } = this.fd_pread(size, this.position)
    this.position += BigInt(data.length)
    return { ret, data }
  }

  override fd_pread(size: number, offset: bigint): { ret: number; data: Uint8Array } {
    try {
      const buffer = new Uint8Array(Math.min(size, 16 * 1024 * 1024))
      const n = readSync(this.fd, buffer, 0, buffer.length, offset)
      return { ret: 0, data: buffer.subarray(0, n) }
    } catch (error) {
      return { ret: errno(error), data: new Uint8Array() }
    }
  }

  override fd_write(data: Uint8Array): { ret: number; nwritten: number } {
    if (this.append) this.position = BigInt(fstatSync(this.fd).size)
    const result = this.fd_pwrite(data, this.position)
    this.position += BigInt(result.nwritten)
    return result
  }

  override fd_pwrite(data: Uint8Array, offset: bigint): { ret: number; nwritten: number } {
    if (this.readOnly) return { ret: wasi.ERRNO_BADF, nwritten: 0 }
    try {
      return { ret: 0, nwritten: writeSync(this.fd, data, 0, data.length, Number(offset)) }
    } catch (error) {
      return { ret: errno(error), nwritten: 0 }
    }
  }

  override fd_seek(offset: bigint, whence: number): { ret: number; offset: bigint } {
    let base = 0n
    if (whence === wasi.WHENCE_CUR) base = this.position
    else if (whence === wasi.WHENCE_END) base = BigInt(fstatSync(this.fd).size)
    const next = base + offset
    if (next < 0n) return { ret: wasi.ERRNO_INVAL, offset: this.position }
    this.position = next
    return { ret: 0, offset: next }
  }

  override fd_tell(): { ret: number; offset: bigint } {
    return { ret: 0, offset: this.position }
  }

  override fd_filestat_set_size(size: bigint): number {
    if (this.readOnly) return wasi.ERRNO_BADF
    try {
      ftruncateSync(this.fd, Number(size))
      return 0
    } catch (error) {
      return errno(error)
    }
  }

  override fd_sync(): number {
    return 0
  }

  override fd_close(): number {
    try {
      closeSync(this.fd)
      return 0
    } catch (error) {
      return errno(error)
    }
  }
}

function attempt(action: () => void): number {
  try {
    action()
    return 0
  } catch (error) {
    return errno(error)
  }
}

function fileType(s: Stats | BigIntStats): number {
  if (s.isFile()) return wasi.FILETYPE_REGULAR_FILE
  if (s.isDirectory()) return wasi.FILETYPE_DIRECTORY
  if (s.isSymbolicLink()) return wasi.FILETYPE_SYMBOLIC_LINK
  return wasi.FILETYPE_UNKNOWN
}

const ERRNO: Record<string, number> = {
  ENOENT: wasi.ERRNO_NOENT, EEXIST: wasi.ERRNO_EXIST, ENOTDIR: wasi.ERRNO_NOTDIR, EISDIR: wasi.ERRNO_ISDIR,
  ENOTEMPTY: wasi.ERRNO_NOTEMPTY, EACCES: wasi.ERRNO_ACCES, EPERM: wasi.ERRNO_PERM, ELOOP: wasi.ERRNO_LOOP,
  EROFS: wasi.ERRNO_ROFS, EBADF: wasi.ERRNO_BADF, EINVAL: wasi.ERRNO_INVAL, ENAMETOOLONG: wasi.ERRNO_NAMETOOLONG,
  EXDEV: wasi.ERRNO_XDEV, ENOSPC: wasi.ERRNO_NOSPC,
}

function errno(error: unknown): number {
  return ERRNO[(error as NodeJS.ErrnoException).code ?? ''] ?? wasi.ERRNO_IO
}

/** The `mountHostDirectory` a Node worker gives WASI. */
export function mountHostDirectory(hostPath: string, guestPath: string, readonly: boolean): Fd {
  return new HostDirectoryFd(new HostMount(hostPath, readonly), [], guestPath)
}
