import { Directory, File, OpenFile, WASI, WASIProcExit, type Fd, type Inode } from '@bjorn3/browser_wasi_shim'
import type { SecurityEvent } from '../audit/security-event.js'
import { AuditCollector } from '../audit/audit-collector.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { Errno, MAX_PATH_BYTES } from './errno.js'
import { FDFLAGS_APPEND, FdRights, OFLAGS_TRUNC, OFLAGS_WRITE, RIGHTS, RIGHTS_WRITE, validTimeFlags } from './fd-rights.js'
import { copyLink, isLinkingDirectory, LOOKUP_SYMLINK_FOLLOW } from './links.js'
import { FileQuota, MemoryDirectoryFd } from './memory-fs.js'
import { memoryTree } from './memory-tree.js'
import { writeFilestat } from './node-times.js'
import { OutputCapture } from './output-capture.js'
import { iovecBytes, MAX_IOVECS, OUT_OF_FUEL, WasiFuel } from './wasi-fuel.js'
import { pollOneoff, SUBSCRIPTION_BYTES } from './poll-oneoff.js'
import type { CommandOptions, WasiSettings } from '../protocol/wasi-settings.js'

/** What the runtime adds to WASI: Node can mount host directories. */
export interface WasiPlatform {
  /** Mounts a host directory (Node); absent in browsers. */
  mountHostDirectory?(hostPath: string, guestPath: string, readonly: boolean): Fd
  /**
   * The guest runs on the caller's own thread (an inline sandbox): a `poll_oneoff` sleep is
   * then paid for in fuel, 1 per nanosecond, before it starts, so fuel bounds how long the
   * thread is held (a worker's sleep is bounded by its timeout instead).
   */
  onCallerThread?: boolean
}

type WasiFunction = (...args: any[]) => unknown

/** `argv[0]`, the program name every command sees. */
export const PROGRAM_NAME = 'main.wasm'

/** The reads and writes whose bytes are charged (see `WasiFuel`). */
const MOVES_BYTES = new Set(['fd_write', 'fd_pwrite', 'fd_read', 'fd_pread'])
const DENIALS = new Set<number>([Errno.ACCES, Errno.NOTCAPABLE, Errno.PERM, Errno.ROFS, Errno.NAMETOOLONG, Errno.NOSPC])

/**
 * WASI preview1 for one instance, under the policy. The file system, fds and most calls
 * come from @bjorn3/browser_wasi_shim (pure JavaScript, the same code in Node and browsers,
 * so both give the same results and fuel counts). This layer sits in front of it and owns
 * what the policy decides: argv and env (only what was given, UTF-8 exact), clocks,
 * randomness, sockets, read-only mounts, links, path length; every denial is an errno for
 * the guest and a {@link SecurityEvent}.
 */
export class WasiHost {
  readonly stdout = new OutputCapture()
  readonly stderr = new OutputCapture()
  /** Set by `proc_exit`. */
  exitCode: number | null = null
  private readonly events = new AuditCollector()
  private readonly shim: WASI
  /** Mount index of every open fd that belongs to a preopen, and which mounts are read-only. */
  private readonly mountOf = new Map<number, number>()
  private readonly readonlyMount: boolean[] = []
  private readonly rights = new FdRights()
  /** Charges for bytes moved and (on the caller's thread) time waited. */
  private readonly fuel = new WasiFuel()
  private readonly onCallerThread: boolean
  private memory: () => ArrayBuffer = () => new ArrayBuffer(0)
  /** The writable in-memory preopens, by guest path, to read back after a run. */
  private readonly writableTrees = new Map<string, Map<string, Inode>>()
  readonly imports: Record<string, WasiFunction>

  /**
   * @param fileBytes what the writable in-memory preopens may hold together (the sandbox's
   *   memory cap: see `FileQuota`)
   */
  constructor(private readonly settings: WasiSettings, command: CommandOptions | null, platform: WasiPlatform, private readonly fileBytes: number) {
    this.onCallerThread = platform.onCallerThread === true
    const args = [command?.argv0 ?? PROGRAM_NAME, ...(command?.args ?? settings.args)]
    const env = { ...settings.env, ...command?.env }
    const stdinData = command?.stdin === undefined ? settings.stdin : typeof command.stdin === 'string' ? encodeUtf8(command.stdin) : command.stdin
    const fds: Fd[] = [new OpenFile(new File(stdinData.slice(), { readonly: true })), this.stdout, this.stderr]
    const quota = new FileQuota(fileBytes)
    settings.preopens.forEach((preopen, mount) => {
      let fd: Fd | undefined
      if (preopen.host !== undefined) fd = platform.mountHostDirectory?.(preopen.host, preopen.guestPath, preopen.readonly)
      else {
        const tree = memoryTree(preopen.files, preopen.readonly)
        if (!preopen.readonly) {
          this.writableTrees.set(preopen.guestPath, tree)
          quota.count(tree)
        }
        const root = new Directory(tree)
        fd = new MemoryDirectoryFd(root, root, preopen.guestPath, preopen.readonly, quota)
      }
      if (!fd) throw new TypeError('host directories can only be mounted in Node')
      this.mountOf.set(fds.length, mount)
      this.rights.preopen(fds.length)
      this.readonlyMount.push(preopen.readonly)
      fds.push(fd)
    })
    this.shim = new WASI([], [], fds, { debug: false })
    this.imports = this.policyLayer(this.shim.wasiImport as Record<string, WasiFunction>, args.map(encodeUtf8), Object.entries(env).map(([k, v]) => encodeUtf8(`${k}=${v}`)))
  }

  /** Connects to the instance whose memory the calls read and write. */
  bind(instance: { exports: object }): void {
    const exports = instance.exports as { memory?: { buffer: ArrayBuffer } }
    this.fuel.bind(instance.exports as Record<string, unknown>)
    ;(this.shim as unknown as { inst: unknown }).inst = instance
    this.memory = () => exports.memory?.buffer ?? new ArrayBuffer(0)
  }

  /** The files of every writable in-memory preopen now, by guest path and relative path. */
  files(): Record<string, Record<string, Uint8Array>> {
    const out: Record<string, Record<string, Uint8Array>> = {}
    const walk = (entries: Map<string, Inode>, prefix: string, into: Record<string, Uint8Array>) => {
      for (const [name, inode] of entries) {
        if (inode instanceof File) into[prefix + name] = inode.data.slice()
        else if (inode instanceof Directory) walk(inode.contents, `${prefix}${name}/`, into)
      }
    }
    for (const [guestPath, tree] of this.writableTrees) walk(tree, '', (out[guestPath] = {}))
    return out
  }

  /** Security events since the last call. */
  takeEvents(): SecurityEvent[] {
    return this.events.take()
  }

  private deny(capability: string, operation: string, detail: string, path?: string): void {
    this.events.record(capability, operation, detail, path) // bounded per call; repeats folded
  }

  private readString(ptr: number, len: number): string {
    return decodeUtf8(new Uint8Array(this.memory(), ptr, Math.min(len, MAX_PATH_BYTES + 1)).slice())
  }

  private view(): DataView {
    return new DataView(this.memory())
  }

  private isDirectory(fd: number): boolean {
    return this.shim.fds[fd]?.fd_fdstat_get().fdstat?.fs_filetype === 3 /* directory */
  }

  private readonlyFd(fd: number): boolean {
    const mount = this.mountOf.get(fd)
    return mount !== undefined && this.readonlyMount[mount] === true
  }

  private policyLayer(shim: Record<string, WasiFunction>, argv: Uint8Array[], environ: Uint8Array[]): Record<string, WasiFunction> {
    const layer: Record<string, WasiFunction> = { ...shim }
    const deny = (capability: string, operation: string, errno: number, detail: string, path?: string) => {
      this.deny(capability, operation, detail, path)
      return errno
    }

    // argv and environ: exactly what was given, measured in UTF-8 bytes.
    const sizes = (list: Uint8Array[]) => (countPtr: number, sizePtr: number) => {
      const view = this.view()
      view.setUint32(countPtr, list.length, true)
      view.setUint32(sizePtr, list.reduce((n, s) => n + s.length + 1, 0), true)
      return Errno.SUCCESS
    }
    const get = (list: Uint8Array[]) => (pointersPtr: number, bufferPtr: number) => {
      const view = this.view()
      const bytes = new Uint8Array(this.memory())
      let at = bufferPtr
      list.forEach((item, i) => {
        view.setUint32(pointersPtr + 4 * i, at, true)
        bytes.set(item, at)
        bytes[at + item.length] = 0
        at += item.length + 1
      })
      return Errno.SUCCESS
    }
    layer.args_sizes_get = sizes(argv)
    layer.args_get = get(argv)
    layer.environ_sizes_get = sizes(environ)
    layer.environ_get = get(environ)

    // Clocks and randomness: only when granted.
    for (const name of ['clock_time_get', 'clock_res_get'] as const) {
      const inner = shim[name]!
      layer[name] = (...args: unknown[]) => (this.settings.clock ? inner(...args) : deny('clock', name, Errno.NOTCAPABLE, 'clocks are not granted (wasi.clock)'))
    }
    layer.random_get = (ptr: number, len: number) => {
      if (!this.settings.random) return deny('random', 'random_get', Errno.NOTCAPABLE, 'randomness is not granted (wasi.random)')
      if (!this.fuel.chargeBytes(len >>> 0)) throw OUT_OF_FUEL()
      shim.random_get!(ptr, len)
      return Errno.SUCCESS
    }
    layer.poll_oneoff = (inPtr: number, outPtr: number, count: number, neventsPtr: number) => {
      if (!this.fuel.chargeBytes((count >>> 0) * SUBSCRIPTION_BYTES)) throw OUT_OF_FUEL() // reading them is work too
      const denyClock = this.settings.clock ? null : () => deny('clock', 'poll_oneoff', Errno.NOTCAPABLE, 'clocks are not granted (wasi.clock)')
      return pollOneoff(this.view(), inPtr, outPtr, count, neventsPtr, this.fuel, this.onCallerThread, denyClock)
    }

    // Sockets (preview1 has no connect: only pre-opened sockets, and none are granted), so
    // no fd is a socket: EBADF for a closed fd and ENOTSOCK for any other, as POSIX has it.
    for (const name of ['sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown']) {
      layer[name] = (fd: number) => deny('network', name, this.shim.fds[fd] ? Errno.NOTSOCK : Errno.BADF, 'no sockets are granted')
    }
    layer.proc_raise = () => deny('process', 'proc_raise', Errno.NOSYS, 'signals are not supported')
    layer.proc_exit = (code: number) => {
      this.exitCode = code >>> 0
      throw new WASIProcExit(code >>> 0)
    }

    // Links: confined to their mount (see links.ts).
    layer.path_symlink = (oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number) => {
      if (oldLen > MAX_PATH_BYTES || newLen > MAX_PATH_BYTES) return deny('filesystem', 'path_symlink', Errno.NAMETOOLONG, `path longer than ${MAX_PATH_BYTES} bytes`)
      const target = this.readString(oldPtr, oldLen)
      const path = this.readString(newPtr, newLen)
      const dir = this.shim.fds[fd]
      if (!dir) return Errno.BADF
      if (this.readonlyFd(fd)) return deny('filesystem', 'path_symlink', Errno.ROFS, 'the mount is read-only', path)
      if (!isLinkingDirectory(dir)) return Errno.NOTDIR
      const ret = dir.symlink(target, path)
      if (ret === Errno.PERM) this.deny('filesystem', 'path_symlink', `the link's target leaves the mount (${target})`, path)
      else if (DENIALS.has(ret)) this.deny('filesystem', 'path_symlink', `denied with errno ${ret}`, path)
      return ret
    }
    layer.path_link = (oldFd: number, flags: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) => {
      if (oldLen > MAX_PATH_BYTES || newLen > MAX_PATH_BYTES) return deny('filesystem', 'path_link', Errno.NAMETOOLONG, `path longer than ${MAX_PATH_BYTES} bytes`)
      const path = this.readString(oldPtr, oldLen)
      const from = this.shim.fds[oldFd]
      if (!from || !this.shim.fds[newFd]) return Errno.BADF
      if (this.readonlyFd(oldFd) || this.readonlyFd(newFd)) return deny('filesystem', 'path_link', Errno.ROFS, 'the mount is read-only', path)
      if (this.mountOf.get(oldFd) !== this.mountOf.get(newFd)) return deny('filesystem', 'path_link', Errno.XDEV, 'links across mounts are not allowed', path)
      if (flags & LOOKUP_SYMLINK_FOLLOW) return Errno.INVAL
      if (!isLinkingDirectory(from)) return Errno.NOTDIR
      const ret = from.linkTo(path, this.shim.fds[newFd], this.readString(newPtr, newLen))
      if (DENIALS.has(ret)) this.deny('filesystem', 'path_link', `denied with errno ${ret}`, path)
      return ret
    }

    // Path calls: length and read-only checks first, the shim's own confinement after.
    const pathCall = (name: string, pathArg: number, mutates: (args: any[]) => boolean, inner: WasiFunction = shim[name]!) => {
      layer[name] = (...args: any[]) => {
        const fd = args[0] as number
        const ptr = args[pathArg] as number
        const len = args[pathArg + 1] as number
        if (len > MAX_PATH_BYTES) return deny('filesystem', name, Errno.NAMETOOLONG, `path longer than ${MAX_PATH_BYTES} bytes`)
        const path = this.readString(ptr, len)
        if (this.readonlyFd(fd) && mutates(args)) return deny('filesystem', name, Errno.ROFS, 'the mount is read-only', path)
        // O_TRUNC changes the file through the directory: it needs path_filestat_set_size there.
        if (name === 'path_open' && args[4] & OFLAGS_TRUNC && !this.rights.allows(fd, RIGHTS.PATH_FILESTAT_SET_SIZE)) return Errno.NOTCAPABLE
        const ret = inner(...args) as number
        if (DENIALS.has(ret) || (ret === Errno.INVAL && path.includes('\0'))) {
          this.deny('filesystem', name, ret === Errno.NOTCAPABLE ? 'the path leaves the preopened directory' : `denied with errno ${ret}`, path)
        }
        if (name === 'path_open' && ret === Errno.SUCCESS) {
          const opened = this.view().getUint32(args[8] as number, true)
          // Rights are a ceiling (see FdRights), except fd_write: opening a directory to
          // write it is EISDIR, as in POSIX and other WASI runtimes.
          if (this.isDirectory(opened) && (BigInt(args[5]) & RIGHTS.FD_WRITE) !== 0n) {
            shim.fd_close!(opened)
            return Errno.ISDIR
          }
          const mount = this.mountOf.get(fd)
          if (mount !== undefined) this.mountOf.set(opened, mount)
          this.rights.opened(opened, this.isDirectory(opened), BigInt(args[5]), BigInt(args[6]))
        }
        return ret
      }
    }
    pathCall('path_open', 2, (a) => (a[4] & OFLAGS_WRITE) !== 0 || (BigInt(a[5]) & RIGHTS_WRITE) !== 0n || (a[7] & FDFLAGS_APPEND) !== 0)
    pathCall('path_create_directory', 1, () => true)
    pathCall('path_remove_directory', 1, () => true)
    pathCall('path_unlink_file', 1, () => true)
    pathCall('path_filestat_set_times', 2, () => true)
    pathCall('path_filestat_get', 2, () => false, (fd: number, flags: number, ptr: number, len: number, statPtr: number) => {
      const dir = this.shim.fds[fd]
      if (!dir) return Errno.BADF
      const { ret, filestat } = dir.path_filestat_get(flags, this.readString(ptr, len))
      if (filestat) writeFilestat(this.view(), statPtr, filestat)
      return ret
    })
    pathCall('path_readlink', 1, () => false, (fd: number, ptr: number, len: number, bufPtr: number, bufLen: number, nreadPtr: number) => {
      const dir = this.shim.fds[fd]
      if (!dir) return Errno.BADF
      const { ret, data } = dir.path_readlink(this.readString(ptr, len))
      if (data !== null) copyLink(this.memory(), data, bufPtr, bufLen, nreadPtr)
      return ret
    })
    const rename = layer.path_rename!
    layer.path_rename = (fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) => {
      if (oldLen > MAX_PATH_BYTES || newLen > MAX_PATH_BYTES) return deny('filesystem', 'path_rename', Errno.NAMETOOLONG, `path longer than ${MAX_PATH_BYTES} bytes`)
      const path = this.readString(oldPtr, oldLen)
      const newPath = this.readString(newPtr, newLen)
      if (this.readonlyFd(fd) || this.readonlyFd(newFd)) return deny('filesystem', 'path_rename', Errno.ROFS, 'the mount is read-only', path)
      if (this.mountOf.get(fd) !== this.mountOf.get(newFd)) return deny('filesystem', 'path_rename', Errno.XDEV, 'renames across mounts are not allowed', path)
      // Mounts that are not in memory (Node host directories) rename by path themselves.
      const from = this.shim.fds[fd] as Fd & { renameTo?: (oldPath: string, to: unknown, newPath: string) => number }
      const ret = (from?.renameTo ? from.renameTo(path, this.shim.fds[newFd], newPath) : rename(fd, oldPtr, oldLen, newFd, newPtr, newLen)) as number
      if (DENIALS.has(ret)) this.deny('filesystem', 'path_rename', ret === Errno.NOTCAPABLE ? `the path leaves the preopened directory (to ${newPath})` : `denied with errno ${ret}`, path)
      return ret
    }

    // Writes through fds of read-only mounts; reads and writes of directories.
    // and reads and writes through an fd opened without the right (EBADF, as POSIX).
    const needs: Record<string, bigint> = {
      fd_write: RIGHTS.FD_WRITE, fd_pwrite: RIGHTS.FD_WRITE, fd_read: RIGHTS.FD_READ, fd_pread: RIGHTS.FD_READ,
      fd_allocate: RIGHTS.FD_ALLOCATE, fd_filestat_set_size: RIGHTS.FD_FILESTAT_SET_SIZE,
    }
    for (const name of ['fd_write', 'fd_pwrite', 'fd_allocate', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_read', 'fd_pread']) {
      const inner = shim[name]!
      const writes = !name.includes('read')
      layer[name] = (...args: any[]) => {
        if (writes && this.readonlyFd(args[0])) return deny('filesystem', name, Errno.ROFS, 'the mount is read-only')
        if (name === 'fd_filestat_set_times' && !validTimeFlags(args[3])) return Errno.INVAL
        if (name !== 'fd_filestat_set_times' && this.isDirectory(args[0])) return Errno.ISDIR
        if (needs[name] !== undefined && !this.rights.allows(args[0], needs[name])) return Errno.BADF
        if (MOVES_BYTES.has(name)) {
          const [iovs, count] = [args[1] >>> 0, args[2] >>> 0]
          if (count > MAX_IOVECS) return Errno.INVAL
          if (iovs + count * 8 > this.memory().byteLength) return Errno.FAULT
          if (!this.fuel.chargeBytes(iovecBytes(this.view(), iovs, count))) throw OUT_OF_FUEL()
        }
        const ret = inner(...args) as number
        if (ret === Errno.NOSPC) this.deny('filesystem', name, `the in-memory files are at their limit of ${this.fileBytes} bytes (the memory cap)`)
        return ret
      }
    }
    // Filestats with their times where preview1 puts them (see writeFilestat).
    layer.fd_filestat_get = (fd: number, ptr: number) => {
      const open = this.shim.fds[fd]
      if (!open) return Errno.BADF
      const { ret, filestat } = open.fd_filestat_get()
      if (filestat) writeFilestat(this.view(), ptr, filestat)
      return ret
    }
    const setTimes = layer.path_filestat_set_times!
    layer.path_filestat_set_times = (...args: any[]) => (validTimeFlags(args[6]) ? setTimes(...args) : Errno.INVAL)
    // A directory has no position.
    for (const name of ['fd_seek', 'fd_tell']) {
      const inner = shim[name]!
      layer[name] = (...args: any[]) => (this.isDirectory(args[0]) ? Errno.BADF : inner(...args))
    }
    // Rights as `FdRights` keeps them (the shim reports none). Directories inherit every
    // right, so libc asks for the rights an open really needs and the checks above see them.
    const fdstat = shim.fd_fdstat_get!
    layer.fd_fdstat_get = (fd: number, ptr: number) => {
      const ret = fdstat(fd, ptr) as number
      const rights = this.rights.get(fd)
      if (ret === Errno.SUCCESS && rights) {
        const view = this.view()
        view.setBigUint64(ptr + 8, rights.rights, true)
        view.setBigUint64(ptr + 16, rights.inheriting, true)
      }
      return ret
    }
    const setRights = shim.fd_fdstat_set_rights!
    layer.fd_fdstat_set_rights = (fd: number, base: bigint, inheriting: bigint) => {
      if (!this.shim.fds[fd]) return Errno.BADF
      if (!this.rights.get(fd)) return setRights(fd, base, inheriting)
      return this.rights.restrict(fd, BigInt(base), BigInt(inheriting)) ? Errno.SUCCESS : Errno.NOTCAPABLE
    }
    // Fd bookkeeping for the mount map.
    const close = shim.fd_close!
    layer.fd_close = (fd: number) => {
      const ret = close(fd)
      if (ret === Errno.SUCCESS) {
        this.mountOf.delete(fd)
        this.rights.close(fd)
      }
      return ret
    }
    const renumber = shim.fd_renumber!
    layer.fd_renumber = (from: number, to: number) => {
      const ret = renumber(from, to)
      if (ret === Errno.SUCCESS) {
        const mount = this.mountOf.get(from)
        this.mountOf.delete(from)
        if (mount === undefined) this.mountOf.delete(to)
        else this.mountOf.set(to, mount)
        this.rights.renumber(from, to)
      }
      return ret
    }
    return layer
  }
}
