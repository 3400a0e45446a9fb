/** Readable value type names, as `sb.exports()` reports them. */
export type ValueTypeName = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref' | 'exnref' | 'ref'

export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag'

export interface FunctionType {
  params: ValueTypeName[]
  results: ValueTypeName[]
}

export interface ImportDescriptor {
  module: string
  name: string
  kind: ExternKind
  /** For functions and tags: the signature. */
  type?: FunctionType
}

export interface ExportDescriptor {
  name: string
  kind: ExternKind
  /** For functions (empty for other kinds): wasm value types ({@link ValueTypeName}), or WIT types for a component. */
  params: string[]
  results: string[]
  /** Core functions: the parameters' names, when the name section names every one (`(param $a i32)`). */
  paramNames?: string[]
  /** Components: the function's signature (WIT for world functions, jco's TypeScript for interface functions). */
  signature?: string
}

/** What the meter learned about a module while rewriting it. */
export interface ModuleInfo {
  imports: ImportDescriptor[]
  /** Components: the interfaces imported (unversioned, e.g. `wasi:cli/stdout`). */
  interfaces?: string[]
  exports: ExportDescriptor[]
  /** Initial size of memory 0 in bytes, or null without a memory. */
  memoryInitialBytes: number | null
  /** Whether the module has a start function. */
  hasStart: boolean
  /** Whether a memory it defines or imports is shared (threads). */
  sharedMemory?: boolean
  /** Function names by index: from the name section, else the first export name. */
  functionNames: Map<number, string>
}

export const EXTERN_KINDS: readonly ExternKind[] = ['function', 'table', 'memory', 'global', 'tag']

export function valueTypeName(byte: number): ValueTypeName {
  switch (byte) {
    case 0x7f: return 'i32'
    case 0x7e: return 'i64'
    case 0x7d: return 'f32'
    case 0x7c: return 'f64'
    case 0x7b: return 'v128'
    case 0x70: return 'funcref'
    case 0x6f: return 'externref'
    case 0x69: return 'exnref'
    default: return 'ref'
  }
}

/** What the rewriter needs to know of one function body. */
export interface FunctionInfo {
  /** Function index (imports first), for error messages. */
  index: number
  /** Number of parameters (locals are numbered after them). */
  params: number
  /** Block type bytes for the function's results (used to wrap the body for depth counting). */
  resultBlockType: number[]
  /** Profile counter globals of this function, when profiling. */
  profile: { calls: number; fuel: number } | null
  /** It takes and returns the fuel counter (`fuel-passing.ts`). */
  passing: boolean
}

/** What the rewriter needs to know about the module whose bodies it rewrites. */
export interface RewriterOptions {
  /** Maximum call depth, or null when depth is not limited. */
  stackDepth: number | null
  /** Fast metering: the counter is not stored before instructions that can only trap (see `fuel-observers.ts`). */
  fast: boolean
  /** Per function index: 1 when it takes and returns the counter (`fuel-passing.ts`); null when none does. */
  passing: Uint8Array | null
  /** Global indices from here on move up one (the module's own, after an imported counter: `sharedFuel`). */
  globalsFrom: number
  /** Function indices below this are imports (host code). */
  importedFuncs: number
}
