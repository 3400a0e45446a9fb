import { Inode, wasi, type Fd } from '@bjorn3/browser_wasi_shim'
import { encodeUtf8 } from '../text/index.js'

/** A symbolic link in an in-memory preopen (the shim has none): opening it directly is ELOOP. */
export class Symlink extends Inode {
  constructor(readonly target: string) {
    super()
  }

  override path_open(): { ret: number; fd_obj: Fd | null } {
    return { ret: wasi.ERRNO_LOOP, fd_obj: null }
  }

  override stat(): wasi.Filestat {
    return new wasi.Filestat(this.ino, wasi.FILETYPE_SYMBOLIC_LINK, BigInt(encodeUtf8(this.target).length))
  }
}
