/**
 * The parts of @bytecodealliance/preview2-shim's browser build the sandbox uses. That build
 * is plain JavaScript with per-instance factories (`createCli`, `createFilesystem`), so the
 * worker of either runtime loads it and every sandbox gets its own, isolated WASI 0.2.
 */
export type Namespace = Record<string, any>

export interface Preview2Shim {
  cli: { createCli(config: Record<string, unknown>): Namespace }
  io: Namespace & {
    pollableCreate(source?: { ready(): boolean; wait(): Promise<void> }): object
    inputStreamCreate(handler: object): unknown
    outputStreamCreate(handler: object): unknown
  }
  clocks: Namespace
  random: Namespace
  filesystem: {
    createFilesystem(config: { adapter: FilesystemAdapter; preopens: Record<string, unknown> }): { types: Namespace; preopens: Namespace }
    InMemoryFilesystemAdapter: new () => FilesystemAdapter
  }
  sockets: Namespace
  http: Namespace
}

/** The shim's pluggable file system: one root descriptor per preopen. */
export interface FilesystemAdapter {
  getRoot(capability: unknown): object
}

/** The shim's in-memory file tree: a directory maps names to files or directories. */
export interface FileTree {
  dir: Record<string, FileTree | { source: Uint8Array | string }>
}
