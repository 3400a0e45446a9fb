/** The WASI preview1 errno values the policy layer returns. */
export const Errno = {
  SUCCESS: 0,
  ACCES: 2,
  BADF: 8,
  FAULT: 21,
  INVAL: 28,
  ISDIR: 31,
  NAMETOOLONG: 37,
  NOSYS: 52,
  NOSPC: 51,
  NOTDIR: 54,
  NOTSOCK: 57,
  NOTSUP: 58,
  PERM: 63,
  ROFS: 69,
  XDEV: 75,
  NOTCAPABLE: 76,
} as const

/** Path-taking calls refuse paths longer than this (Linux's PATH_MAX). */
export const MAX_PATH_BYTES = 4096
