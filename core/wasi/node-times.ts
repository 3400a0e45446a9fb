import { wasi } from '@bjorn3/browser_wasi_shim'

/** Nanoseconds since the epoch, now. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n
}

/**
 * The times and link count of one in-memory node (the shim's inodes carry none): created
 * on first use, updated on write, truncate and `*_filestat_set_times`.
 */
export interface NodeTimes {
  atim: bigint
  mtim: bigint
  ctim: bigint
  nlink: bigint
}

const times = new WeakMap<object, NodeTimes>()

export function timesOf(node: object): NodeTimes {
  let t = times.get(node)
  if (!t) {
    const now = nowNs()
    t = { atim: now, mtim: now, ctim: now, nlink: 1n }
    times.set(node, t)
  }
  return t
}

/** A change to the node's content: mtim and ctim are now. */
export function touch(node: object): void {
  const t = timesOf(node)
  t.mtim = t.ctim = nowNs()
}

/** `fst_flags` applied: ATIM/MTIM set the given time, ATIM_NOW/MTIM_NOW the current one. */
export function applyTimes(current: { atim: bigint; mtim: bigint }, atim: bigint, mtim: bigint, flags: number): { atim: bigint; mtim: bigint } {
  const now = nowNs()
  return {
    atim: flags & wasi.FSTFLAGS_ATIM_NOW ? now : flags & wasi.FSTFLAGS_ATIM ? BigInt(atim) : current.atim,
    mtim: flags & wasi.FSTFLAGS_MTIM_NOW ? now : flags & wasi.FSTFLAGS_MTIM ? BigInt(mtim) : current.mtim,
  }
}

/**
 * A filestat into guest memory at the offsets preview1 defines (dev 0, ino 8, filetype 16,
 * nlink 24, size 32, atim 40, mtim 48, ctim 56). The shim's own `Filestat.write_bytes`
 * puts the three times at 38/46/52, so the policy layer writes filestats itself.
 */
export function writeFilestat(view: DataView, ptr: number, stat: wasi.Filestat): void {
  view.setBigUint64(ptr, stat.dev, true)
  view.setBigUint64(ptr + 8, stat.ino, true)
  view.setUint8(ptr + 16, stat.filetype)
  for (let i = 17; i < 24; i++) view.setUint8(ptr + i, 0)
  view.setBigUint64(ptr + 24, stat.nlink, true)
  view.setBigUint64(ptr + 32, stat.size, true)
  view.setBigUint64(ptr + 40, stat.atim, true)
  view.setBigUint64(ptr + 48, stat.mtim, true)
  view.setBigUint64(ptr + 56, stat.ctim, true)
}
