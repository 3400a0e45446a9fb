import { REWRITE_WASM } from './native/rewrite-wasm.js'
import { ENGINE_LIMITS } from './engine-limits.js'
import type { InjectionGlobals } from './injection.js'
import type { Writer } from './writer.js'

/**
 * The body rewrite in wasm (`native/rewrite.c`): the TypeScript rewriter's decisions, byte for
 * byte, at twice its speed (no JIT warm-up, no bounds checks in JavaScript). Used wherever
 * the engine compiles and instantiates it synchronously, or `prepareNativeRewriter` did it
 * beforehand (browsers may refuse large synchronous compiles on their main thread); elsewhere the
 * TypeScript rewriter runs.
 */
interface NativeExports {
  memory: { buffer: ArrayBuffer }
  reset(): void
  allocate(size: number): number
  configure(fuel: number, depth: number, growDenied: number, tableGrowDenied: number, stackDepth: number, fast: number,
    globalsFrom: number, importedFuncs: number, passing: number, maxLocals: number, maxBodyBytes: number): void
  output(): number
  drain(): void
  rewrite_body(section: number, start: number, end: number, params: number, passing: number, blockType: number,
    blockTypeLength: number, profileCalls: number, profileFuel: number): number
}

interface EngineGlobals {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object
    Instance: new (module: object, imports: object) => { exports: unknown }
    compile(bytes: Uint8Array): Promise<object>
    instantiate(module: object, imports: object): Promise<{ exports: unknown }>
  }
}
const engine = (globalThis as unknown as EngineGlobals).WebAssembly

/** What `rewrite_body` returns besides the output's length. */
const PASSING_NOT_POSSIBLE = -1, FAILED = -2
/**
 * The section goes into wasm memory a window at a time, and the output comes out past a
 * megabyte, so the memory stays small whatever the module's size: it is kept from module to
 * module (up to KEEP_MEMORY, which only a huge body's edit lists cross), and a first rewrite
 * does not pay the page faults of fresh memory for all of a module (8 ms of 140 for 10 MB).
 */
const WINDOW = 1 << 20, DRAIN_AT = 1 << 20, KEEP_MEMORY = 16 << 20

let enabled = true
let compiled: object | undefined
let instance: NativeExports | null = null

/** Tests and benches: whether `meter()` may use the native rewriter (on by default). */
export function useNativeRewriter(on: boolean): void {
  enabled = on
}

/** Whether the native rewriter is loaded (for tests). */
export function nativeRewriterLoaded(): boolean {
  return instance !== null
}

/** The native rewrite failed in a way the TypeScript one may not (out of memory): `meter()` redoes the module. */
export class NativeRewriterFailed extends Error {}

export interface NativeModuleSettings {
  globals: InjectionGlobals
  stackDepth: number | null
  fast: boolean
  /** Global indices from here on move up one (see `RewriterOptions.globalsFrom`). */
  globalsFrom: number
  importedFuncs: number
  passing: Uint8Array | null
  /** Per type index: the block type wrapping a body of that type. */
  resultBlockTypes: number[][]
}

/** Bodies of one code section, rewritten natively into the section's output. */
export class NativeBodies {
  /** The window: where it is in wasm memory, its capacity, and the section range [from, to) in it. */
  private window = 0
  private windowSize = 0
  private from = 0
  private to = 0
  /** Output bytes not yet drained. */
  private pending = 0
  /** Per type index: where its block type bytes are in wasm memory (0: not written yet). */
  private readonly blockTypeAt: Int32Array

  private constructor(private readonly wasm: NativeExports, private readonly code: Uint8Array, private readonly settings: NativeModuleSettings) {
    this.blockTypeAt = new Int32Array(settings.resultBlockTypes.length)
  }

  /** @returns null when the native rewriter is off or the engine will not compile it here */
  static open(code: Uint8Array, settings: NativeModuleSettings): NativeBodies | null {
    const wasm = load()
    if (!wasm) return null
    const bodies = new NativeBodies(wasm, code, settings)
    return bodies.call(() => {
      wasm.reset()
      const { globals, stackDepth, passing } = settings
      const passingAt = passing ? bodies.copyIn(passing) : 0
      const all = 0xffffffff
      wasm.configure(globals.fuel, globals.depth, globals.growDenied, globals.tableGrowDenied, stackDepth ?? -1, settings.fast ? 1 : 0,
        Math.min(settings.globalsFrom, all), settings.importedFuncs, passingAt, ENGINE_LIMITS.functionLocals, ENGINE_LIMITS.functionBodyBytes)
      return bodies
    })
  }

  /**
   * Rewrites the body at [start, end) of the section (at its local declarations) into the
   * output. 'failed': the TypeScript rewriter must redo it (and say what is wrong with it),
   * after what is pending is drained into `out`.
   */
  rewrite(start: number, end: number, params: number, passing: boolean, typeIndex: number, profile: { calls: number; fuel: number } | null, out: Writer): 'done' | 'failed' | 'passing not possible' {
    const blockType = this.settings.resultBlockTypes[typeIndex]!
    const result = this.call(() => {
      if (start < this.from || end > this.to) this.moveWindow(start, end)
      const blockTypeAt = this.blockTypeAt[typeIndex] || (this.blockTypeAt[typeIndex] = this.copyIn(blockType))
      return this.wasm.rewrite_body(this.window, start - this.from, end - this.from, params, passing ? 1 : 0, blockTypeAt, blockType.length, profile?.calls ?? -1, profile?.fuel ?? -1)
    })
    if (result === PASSING_NOT_POSSIBLE) return 'passing not possible'
    if (result === FAILED) { this.drain(out); return 'failed' }
    this.pending = result
    if (result > DRAIN_AT) this.drain(out)
    return 'done'
  }

  /** Moves the output so far to `out`; call at the end of the section and before another writer writes to it. */
  drain(out: Writer): void {
    if (this.pending === 0) return
    out.copy(new Uint8Array(this.wasm.memory.buffer, this.wasm.output(), this.pending), 0, this.pending)
    this.wasm.drain()
    this.pending = 0
  }

  /** Ends the section: a module's memory is kept for the next only if it stayed small. */
  close(): void {
    if (this.wasm.memory.buffer.byteLength > KEEP_MEMORY) instance = null
  }

  /** Copies the section from `start` into the window (grown to hold [start, end) if need be). */
  private moveWindow(start: number, end: number): void {
    if (end - start > this.windowSize) {
      this.windowSize = Math.max(WINDOW, end - start)
      this.window = this.wasm.allocate(this.windowSize + 16) // slack: the decoder may look a byte past a malformed end
    }
    this.from = start
    this.to = Math.min(this.code.length, start + this.windowSize)
    new Uint8Array(this.wasm.memory.buffer, this.window, this.to - start).set(this.code.subarray(start, this.to))
  }

  private copyIn(bytes: ArrayLike<number>): number {
    const at = this.wasm.allocate(bytes.length)
    new Uint8Array(this.wasm.memory.buffer, at, bytes.length).set(bytes)
    return at
  }

  private call<T>(f: () => T): T {
    try {
      return f()
    } catch (error) {
      instance = null // out of memory (or worse): a fresh instance next time
      throw new NativeRewriterFailed(String(error))
    }
  }
}

/** The engine refused to compile or instantiate it synchronously here: not tried again. */
let refused = false

function load(): NativeExports | null {
  if (!enabled) return null
  if (instance || refused) return instance
  try {
    compiled ??= new engine.Module(rewriterBytes())
    return (instance = new engine.Instance(compiled, {}).exports as NativeExports)
  } catch {
    refused = true // a thread that refuses synchronous compiles of this size (see prepareNativeRewriter)
    return null
  }
}

/**
 * Compiles and instantiates the native rewriter asynchronously, for a thread that may refuse
 * to do it synchronously (browsers have limited that on their main thread): `meter()` then uses it there too, until its
 * memory grows past what is kept. `compileMetered` awaits this before every `meter()`;
 * resolves either way.
 */
export async function prepareNativeRewriter(): Promise<void> {
  if (!enabled || instance) return
  try {
    compiled ??= await engine.compile(rewriterBytes())
    instance ??= (await engine.instantiate(compiled, {})).exports as NativeExports
  } catch {
    // the TypeScript rewriter, then
  }
}

/** The rewriter's bytes: `atob` is in every runtime the project targets (Node 16+, browsers, workers). */
function rewriterBytes(): Uint8Array {
  const text = (globalThis as unknown as { atob(data: string): string }).atob(REWRITE_WASM)
  return Uint8Array.from(text, (c) => c.charCodeAt(0))
}
