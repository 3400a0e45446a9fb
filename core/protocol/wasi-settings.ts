/** WASI settings as they travel to the worker: plain data, bytes instead of strings. */
export interface WasiSettings {
  args: string[]
  env: Record<string, string>
  stdin: Uint8Array
  preopens: PreopenSettings[]
  clock: boolean
  random: boolean
}

export interface PreopenSettings {
  /** The directory name the guest sees, e.g. '/data'. */
  guestPath: string
  /** In-memory files by relative path ('a/b.txt'). */
  files: Record<string, Uint8Array>
  /** Node only: a host directory to mount. */
  host?: string
  readonly: boolean
}

/** What one command run gets on top of the sandbox's WASI settings. */
export interface CommandOptions {
  /** argv after the program name. */
  args?: string[]
  /** The program name, argv[0]. Default 'main.wasm'. */
  argv0?: string
  stdin?: string | Uint8Array
  /** Extra variables, merged over the sandbox's `wasi.env`. */
  env?: Record<string, string>
}
