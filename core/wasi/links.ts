import { encodeUtf8 } from '../text/index.js'

/**
 * Symbolic and hard links, confined to their mount. The policy:
 * - links are created only on writable mounts (read-only: EROFS);
 * - a symlink's target must be relative and, taken from the link's own directory, must not
 *   climb above the mount's root (`../../etc`, `/etc`: EPERM, and a security event). It may
 *   dangle or name another link: what it leads to is decided when it is followed;
 * - following links is confined like any path: in memory, resolution never goes above the
 *   fd's directory; on a host mount, the real path must stay inside the mount's root
 *   (ENOTCAPABLE), so neither a chain of links nor a link swapped in from outside leads out;
 * - hard links: files and symlinks only (a directory: EPERM), both names in the same mount
 *   (EXDEV), never following a link (LOOKUPFLAGS_SYMLINK_FOLLOW: EINVAL).
 * Mounts implement {@link LinkingDirectory}; this file adds the checks and the guest-memory
 * side of path_symlink, path_link and path_readlink.
 */

/** `lookupflags`: follow a final symbolic link. */
export const LOOKUP_SYMLINK_FOLLOW = 1
/** Links followed in one resolution before ELOOP (Linux's limit). */
export const MAX_SYMLINK_HOPS = 40

/** What a mount's directory fds do for links (both in-memory and host directories). */
export interface LinkingDirectory {
  symlink(target: string, path: string): number
  linkTo(oldPath: string, to: unknown, newPath: string): number
  path_readlink(path: string): { ret: number; data: string | null }
}

export function isLinkingDirectory(fd: unknown): fd is LinkingDirectory {
  return typeof (fd as Partial<LinkingDirectory> | undefined)?.symlink === 'function'
}

/**
 * Whether `target`, a symlink's content, read from a directory `depth` levels below the
 * mount's root, would name something above the root (or is absolute). Lexical: what the
 * components lead to when followed is checked again then.
 */
export function escapesMount(depth: number, target: string): boolean {
  if (target.startsWith('/') || target.includes('\0')) return true
  let level = depth
  for (const part of target.split('/')) {
    if (part === '..') level--
    else if (part !== '' && part !== '.') level++
    if (level < 0) return true
  }
  return false
}

/** path_readlink's copy into guest memory: at most `bufLen` bytes (truncated, as POSIX readlink). */
export function copyLink(memory: ArrayBuffer, target: string, bufPtr: number, bufLen: number, nreadPtr: number): void {
  const bytes = encodeUtf8(target).subarray(0, bufLen)
  new Uint8Array(memory).set(bytes, bufPtr)
  new DataView(memory).setUint32(nreadPtr, bytes.length, true)
}
