/**
 * The rights of each open fd, as preview1 defines them: a file or directory opened with
 * `path_open` gets the rights it asked for that apply to its kind (rights are a ceiling,
 * never a reason to fail), `fd_fdstat_get` reports them, `fd_fdstat_set_rights` can only
 * drop some, and reads/writes through an fd without the right are EBADF, as POSIX gives
 * for a write to a file opened O_RDONLY. Fds not opened by the guest (stdio) are not
 * tracked. Rights never widen what the mount allows: read-only mounts are enforced apart.
 */
const bit = (n: number) => 1n << BigInt(n)

export const RIGHTS = {
  FD_READ: bit(1),
  FD_SEEK: bit(2),
  FD_TELL: bit(5),
  FD_WRITE: bit(6),
  FD_ALLOCATE: bit(8),
  FD_READDIR: bit(14),
  PATH_FILESTAT_SET_SIZE: bit(19),
  FD_FILESTAT_SET_SIZE: bit(22),
} as const

/** The 29 rights of preview1. */
export const ALL_RIGHTS = bit(29) - 1n
/** What a directory can do: everything but reading, writing and seeking bytes (and the socket right). */
export const DIRECTORY_RIGHTS = ALL_RIGHTS & ~(RIGHTS.FD_READ | RIGHTS.FD_SEEK | RIGHTS.FD_TELL | RIGHTS.FD_WRITE | RIGHTS.FD_ALLOCATE | RIGHTS.FD_FILESTAT_SET_SIZE | bit(28))
/** What a regular file can do: no directory or path rights. */
export const FILE_RIGHTS = bit(0) | RIGHTS.FD_READ | RIGHTS.FD_SEEK | bit(3) | bit(4) | RIGHTS.FD_TELL | RIGHTS.FD_WRITE | bit(7) | RIGHTS.FD_ALLOCATE
  | bit(21) | RIGHTS.FD_FILESTAT_SET_SIZE | bit(23) | bit(27)

export class FdRights {
  private readonly base = new Map<number, { rights: bigint; inheriting: bigint }>()

  /** A preopen: a directory with every directory right, inheriting all. */
  preopen(fd: number): void {
    this.base.set(fd, { rights: DIRECTORY_RIGHTS, inheriting: ALL_RIGHTS })
  }

  /** An fd `path_open` made: what was asked for, within what its kind allows. */
  opened(fd: number, directory: boolean, requested: bigint, inheriting: bigint): void {
    this.base.set(fd, { rights: requested & (directory ? DIRECTORY_RIGHTS : FILE_RIGHTS), inheriting: directory ? inheriting & ALL_RIGHTS : 0n })
  }

  get(fd: number): { rights: bigint; inheriting: bigint } | undefined {
    return this.base.get(fd)
  }

  /** Whether `fd` may do what `right` covers (untracked fds: the fd decides). */
  allows(fd: number, right: bigint): boolean {
    const entry = this.base.get(fd)
    return entry === undefined || (entry.rights & right) !== 0n
  }

  /** `fd_fdstat_set_rights`: rights can be dropped, never gained (ENOTCAPABLE). */
  restrict(fd: number, rights: bigint, inheriting: boolean | bigint): boolean {
    const entry = this.base.get(fd)
    if (!entry) return true
    const wanted = typeof inheriting === 'bigint' ? inheriting : entry.inheriting
    if ((rights & ~entry.rights) !== 0n || (wanted & ~entry.inheriting) !== 0n) return false
    this.base.set(fd, { rights, inheriting: wanted })
    return true
  }

  close(fd: number): void {
    this.base.delete(fd)
  }

  renumber(from: number, to: number): void {
    const entry = this.base.get(from)
    this.base.delete(from)
    if (entry) this.base.set(to, entry)
    else this.base.delete(to)
  }
}

export const OFLAGS_TRUNC = 8
/** The oflags that change a file: create, exclusive, truncate. */
export const OFLAGS_WRITE = 1 /* creat */ | 4 /* excl */ | OFLAGS_TRUNC
export const FDFLAGS_APPEND = 1
/** The rights libc asks for only when opening to write. */
export const RIGHTS_WRITE = RIGHTS.FD_WRITE | RIGHTS.FD_ALLOCATE | RIGHTS.FD_FILESTAT_SET_SIZE

/** `fst_flags`: setting a time and setting it to now at once is EINVAL. */
export function validTimeFlags(flags: number): boolean {
  return !((flags & 1 /* atim */ && flags & 2 /* atim_now */) || (flags & 4 /* mtim */ && flags & 8 /* mtim_now */))
}
