import { Directory, File, OpenFile, PreopenDirectory, WASI, WASIProcExit, type Fd, type Inode } from '@bjorn3/browser_wasi_shim'
import type { SecurityEvent } from '../audit/security-event.js'
import { decodeUtf8, encodeUtf8 } from '../text/index.js'
import { Errno, MAX_PATH_BYTES } from './errno.js'
import { memoryTree } from './memory-tree.js'
import { OutputCapture } from './output-capture.js'
import { sleep } from './sleep.js'
import type { CommandOptions, WasiSettings } from './wasi-settings.js'

/** What the worker's runtime adds to WASI: Node can mount host directories. */
export interface WasiPlatform {
  /** Mounts a host directory (Node); absent in browsers. */
  mountHostDirectory?(hostPath: string, guestPath: string, readonly: boolean): Fd
}

type WasiFunction = (...args: any[]) => unknown

/** `argv[0]`, the program name every command sees. */
export const PROGRAM_NAME = 'main.wasm'

const OFLAGS_WRITE = 1 /* creat */ | 4 /* excl */ | 8 /* trunc */
const FDFLAGS_APPEND = 1
/** fd_write | fd_allocate | fd_filestat_set_size: the rights libc asks for only when opening to write. */
const RIGHTS_WRITE = (1n << 6n) | (1n << 8n) | (1n << 22n)
const RIGHTS_FD_WRITE = 1n << 6n
/** The 29 rights of preview1. */
const ALL_RIGHTS = (1n << 29n) - 1n
const DENIALS = new Set<number>([Errno.ACCES, Errno.NOTCAPABLE, Errno.PERM, Errno.ROFS, Errno.NAMETOOLONG])

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
  private events: SecurityEvent[] = []
  private readonly shim: WASI
  /** Mount index of every open fd that belongs to a preopen, and which mounts are read-only. */
  private readonly mountOf = new Map<number, number>()
  private readonly readonlyMount: boolean[] = []
  private memory: () => ArrayBuffer = () => new ArrayBuffer(0)
  /** The writable in-memory preopens, by guest path, to read back after a run. */
  private readonly writableTrees = new Map<string, Map<string, Inode>>()
  readonly imports: Record<string, WasiFunction>

  constructor(private readonly settings: WasiSettings, command: CommandOptions | null, platform: WasiPlatform) {
    const args = [command?.argv0 ?? PROGRAM_NAME, ...(command?.args ?? settings.args)]
    const env = { ...settings.env, ...command?.env }
    const stdinData = command?.stdin === undefined ? settings.stdin : typeof command.stdin === 'string' ? encodeUtf8(command.stdin) : command.stdin
    const fds: Fd[] = [new OpenFile(new File(stdinData.slice(), { readonly: true })), this.stdout, this.stderr]
    settings.preopens.forEach((preopen, mount) => {
      let fd: Fd | undefined
      if (preopen.host !== undefined) fd = platform.mountHostDirectory?.(preopen.host, preopen.guestPath, preopen.readonly)
      else {
        const tree = memoryTree(preopen.files, preopen.readonly)
        if (!preopen.readonly) this.writableTrees.set(preopen.guestPath, tree)
        fd = new PreopenDirectory(preopen.guestPath, tree)
      }
      if (!fd) throw new TypeError('host directories can only be mounted in Node')
      this.mountOf.set(fds.length, mount)
      this.readonlyMount.push(preopen.readonly)
      fds.push(fd)
    })
    this.shim = new WASI([], [], fds, { debug: false })
    this.imports = this.policyLayer(this.shim.wasiImport as Record<string, WasiFunction>, encodeList(args), encodeList(Object.entries(env).map(([k, v]) => `${k}=${v}`)))
  }

  /** Connects to the instance whose memory the calls read and write. */
  bind(instance: { exports: object }): void {
    const exports = instance.exports as { memory?: { buffer: ArrayBuffer } }
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
    const events = this.events
    this.events = []
    return events
  }

  private deny(capability: string, operation: string, detail: string, path?: string): void {
    const last = this.events[this.events.length - 1]
    if (last && last.operation === operation && last.path === path && last.detail === detail) return // a retry loop, once
    this.events.push({ time: Date.now(), capability, operation, ...(path === undefined ? {} : { path }), detail })
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
      shim.random_get!(ptr, len)
      return Errno.SUCCESS
    }
    layer.poll_oneoff = (inPtr: number, outPtr: number, count: number, neventsPtr: number) => this.pollOneoff(inPtr, outPtr, count, neventsPtr, deny)

    // Sockets (preview1 has no connect: only pre-opened sockets, and there are none).
    for (const name of ['sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown']) {
      layer[name] = () => deny('network', name, Errno.NOTCAPABLE, 'no sockets are granted')
    }
    layer.proc_raise = () => deny('process', 'proc_raise', Errno.NOSYS, 'signals are not supported')
    layer.proc_exit = (code: number) => {
      this.exitCode = code >>> 0
      throw new WASIProcExit(code >>> 0)
    }

    // Links can point anywhere: refused.
    layer.path_symlink = (oldPtr: number, oldLen: number, _fd: number, newPtr: number, newLen: number) =>
      deny('filesystem', 'path_symlink', Errno.PERM, `symbolic links are not allowed (${this.readString(oldPtr, oldLen)})`, this.readString(newPtr, newLen))
    layer.path_link = (_fd: number, _flags: number, oldPtr: number, oldLen: number) =>
      deny('filesystem', 'path_link', Errno.PERM, 'hard links are not allowed', this.readString(oldPtr, oldLen))

    // Path calls: length and read-only checks first, the shim's own confinement after.
    const pathCall = (name: string, pathArg: number, mutates: (args: any[]) => boolean) => {
      const inner = shim[name]!
      layer[name] = (...args: any[]) => {
        const fd = args[0] as number
        const ptr = args[pathArg] as number
        const len = args[pathArg + 1] as number
        if (len > MAX_PATH_BYTES) return deny('filesystem', name, Errno.NAMETOOLONG, `path longer than ${MAX_PATH_BYTES} bytes`)
        const path = this.readString(ptr, len)
        if (this.readonlyFd(fd) && mutates(args)) return deny('filesystem', name, Errno.ROFS, 'the mount is read-only', path)
        const ret = inner(...args) as number
        if (DENIALS.has(ret) || (ret === Errno.INVAL && path.includes('\0'))) {
          this.deny('filesystem', name, ret === Errno.NOTCAPABLE ? 'the path leaves the preopened directory' : `denied with errno ${ret}`, path)
        }
        if (name === 'path_open' && ret === Errno.SUCCESS) {
          const opened = this.view().getUint32(args[8] as number, true)
          if (this.isDirectory(opened) && (BigInt(args[5]) & RIGHTS_FD_WRITE) !== 0n) { // a directory opened for writing
            shim.fd_close!(opened)
            return Errno.ISDIR
          }
          const mount = this.mountOf.get(fd)
          if (mount !== undefined) this.mountOf.set(opened, mount)
        }
        return ret
      }
    }
    pathCall('path_open', 2, (a) => (a[4] & OFLAGS_WRITE) !== 0 || (BigInt(a[5]) & RIGHTS_WRITE) !== 0n || (a[7] & FDFLAGS_APPEND) !== 0)
    pathCall('path_create_directory', 1, () => true)
    pathCall('path_remove_directory', 1, () => true)
    pathCall('path_unlink_file', 1, () => true)
    pathCall('path_filestat_set_times', 2, () => true)
    pathCall('path_filestat_get', 2, () => false)
    pathCall('path_readlink', 1, () => false)
    const rename = layer.path_rename!
    layer.path_rename = (fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) => {
      if (oldLen > MAX_PATH_BYTES || newLen > MAX_PATH_BYTES) return deny('filesystem', 'path_rename', Errno.NAMETOOLONG, `path longer than ${MAX_PATH_BYTES} bytes`)
      const path = this.readString(oldPtr, oldLen)
      const newPath = this.readString(newPtr, newLen)
      if (this.readonlyFd(fd) || this.readonlyFd(newFd)) return deny('filesystem', 'path_rename', Errno.ROFS, 'the mount is read-only', path)
      if (this.mountOf.get(fd) !== this.mountOf.get(newFd)) return deny('filesystem', 'path_rename', 75 /* XDEV */, 'renames across mounts are not allowed', path)
      // Mounts that are not in memory (Node host directories) rename by path themselves.
      const from = this.shim.fds[fd] as Fd & { renameTo?: (oldPath: string, to: unknown, newPath: string) => number }
      const ret = (from?.renameTo ? from.renameTo(path, this.shim.fds[newFd], newPath) : rename(fd, oldPtr, oldLen, newFd, newPtr, newLen)) as number
      if (DENIALS.has(ret)) this.deny('filesystem', 'path_rename', ret === Errno.NOTCAPABLE ? `the path leaves the preopened directory (to ${newPath})` : `denied with errno ${ret}`, path)
      return ret
    }

    // Writes through fds of read-only mounts; reads and writes of directories.
    for (const name of ['fd_write', 'fd_pwrite', 'fd_allocate', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_read', 'fd_pread']) {
      const inner = shim[name]!
      const writes = !name.includes('read')
      layer[name] = (...args: any[]) => {
        if (writes && this.readonlyFd(args[0])) return deny('filesystem', name, Errno.ROFS, 'the mount is read-only')
        if (name !== 'fd_filestat_set_times' && this.isDirectory(args[0])) return Errno.ISDIR
        return inner(...args)
      }
    }
    // Directories report every right as inheritable, so libc asks for the rights an open
    // really needs (write, truncate...) and the checks above see them; the shim reports none.
    const fdstat = shim.fd_fdstat_get!
    layer.fd_fdstat_get = (fd: number, ptr: number) => {
      const ret = fdstat(fd, ptr) as number
      if (ret === Errno.SUCCESS && this.isDirectory(fd)) {
        const view = this.view()
        view.setBigUint64(ptr + 8, ALL_RIGHTS, true)
        view.setBigUint64(ptr + 16, ALL_RIGHTS, true)
      }
      return ret
    }
    // Fd bookkeeping for the mount map.
    const close = shim.fd_close!
    layer.fd_close = (fd: number) => {
      const ret = close(fd)
      if (ret === Errno.SUCCESS) this.mountOf.delete(fd)
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
      }
      return ret
    }
    return layer
  }

  /**
   * poll_oneoff: fd subscriptions are always ready (files and pipes never block here);
   * clock subscriptions sleep until the earliest deadline, if clocks are granted.
   */
  private pollOneoff(inPtr: number, outPtr: number, count: number, neventsPtr: number, deny: (c: string, o: string, e: number, d: string) => number): number {
    if (count === 0) return Errno.INVAL
    const view = this.view()
    let sleepNs: bigint | null = null
    let clockUserdata = 0n
    let written = 0
    const event = (userdata: bigint, type: number) => {
      const at = outPtr + written * 32
      view.setBigUint64(at, userdata, true)
      view.setUint16(at + 8, 0, true)
      view.setUint8(at + 10, type)
      view.setBigUint64(at + 16, 0n, true)
      view.setUint16(at + 24, 0, true)
      written++
    }
    for (let i = 0; i < count; i++) {
      const at = inPtr + i * 48
      const userdata = view.getBigUint64(at, true)
      const type = view.getUint8(at + 8)
      if (type === 0) { // clock
        if (!this.settings.clock) return deny('clock', 'poll_oneoff', Errno.NOTCAPABLE, 'clocks are not granted (wasi.clock)')
        const timeout = view.getBigUint64(at + 24, true)
        const absolute = (view.getUint16(at + 40, true) & 1) !== 0
        const clockId = view.getUint32(at + 16, true)
        const now = clockId === 0 ? BigInt(Date.now()) * 1_000_000n : BigInt(Math.round(performance.now() * 1e6))
        const ns = absolute ? (timeout > now ? timeout - now : 0n) : timeout
        if (sleepNs === null || ns < sleepNs) { sleepNs = ns; clockUserdata = userdata }
      } else {
        event(userdata, type)
      }
    }
    if (written === 0 && sleepNs !== null) {
      sleep(Number(sleepNs / 1_000_000n))
      event(clockUserdata, 0)
    }
    view.setUint32(neventsPtr, written, true)
    return Errno.SUCCESS
  }
}

declare const performance: { now(): number }

function encodeList(items: string[]): Uint8Array[] {
  return items.map((s) => encodeUtf8(s))
}
