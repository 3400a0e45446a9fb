import { REWRITE_WASM } from './native/rewrite-wasm.js'
import { ENGINE_LIMITS } from './engine-limits.js'
import type { InjectionGlobals } from './injection.js'

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
  reserve_output(size: number): void
  output(): number
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
 * The section goes into wasm memory a window at a time. The output stays there until the
 * section is done (`meter()` then copies it once, into its result), in room reserved up
 * front for twice the section: metered code grows 1.4-2.2x, and the pages are touched only
 * as they fill. The memory is kept from module to module, sparing the page faults (and the
 * kernel's zeroing) of fresh pages: 15% of `meter()`'s time over the corpus bench. Past
 * KEEP_MEMORY, it is kept only while `meter()` is in use, and let go after RELEASE_AFTER_MS
 * without a module.
 */
const WINDOW = 1 << 20, KEEP_MEMORY = 16 << 20, RELEASE_AFTER_MS = 2000
const outputRoom = (sectionBytes: number): number => 2 * sectionBytes + (1 << 16)

let enabled = true
let compiled: object | undefined
let instance: NativeExports | null = null

/** Tests and benches: whether `meter()` may use the native rewriter (on by default). */
export function useNativeRewriter(on: boolean): void {
  enabled = on
}

let fixedOutputRoom: number | null = null

/** Tests: the output room to reserve whatever a section's size (null: twice the section), to place where the output outgrows it. */
export function setNativeOutputRoom(bytes: number | null): void {
  fixedOutputRoom = bytes
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

/** Bodies of one code section, rewritten natively; their output is handed over as views of wasm memory. */
export class NativeBodies {
  /** The window: where it is in wasm memory, its capacity, and the section range [from, to) in it. */
  private window = 0
  private windowSize = 0
  private from = 0
  private to = 0
  /** The output's length, and how much of it is already placed in the caller's pieces. */
  private length = 0
  private placed = 0
  /** Per native run in the caller's pieces: its index there and its range of the output. */
  private readonly runs: [number, number, number][] = []
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
    try {
      wasm.reset()
      const { globals, stackDepth, passing } = settings
      const passingAt = passing ? bodies.copyIn(passing) : 0
      const all = 0xffffffff
      wasm.configure(globals.fuel, globals.depth, globals.growDenied, globals.tableGrowDenied, stackDepth ?? -1, settings.fast ? 1 : 0,
        Math.min(settings.globalsFrom, all), settings.importedFuncs, passingAt, ENGINE_LIMITS.functionLocals, ENGINE_LIMITS.functionBodyBytes)
      wasm.reserve_output(fixedOutputRoom ?? outputRoom(code.length))
      return bodies
    } catch (error) {
      throw failed(error)
    }
  }

  /**
   * Rewrites the body at [start, end) of the section (at its local declarations) into the
   * output. 'failed': another rewriter must redo it (and say what is wrong with it), after
   * `place` has placed what is before it.
   */
  rewrite(start: number, end: number, params: number, passing: boolean, typeIndex: number, profile: { calls: number; fuel: number } | null): 'done' | 'failed' | 'passing not possible' {
    let result: number
    try {
      if (start < this.from || end > this.to) this.moveWindow(start, end)
      const blockType = this.settings.resultBlockTypes[typeIndex]!
      const blockTypeAt = this.blockTypeAt[typeIndex] || (this.blockTypeAt[typeIndex] = this.copyIn(blockType))
      result = this.wasm.rewrite_body(this.window, start - this.from, end - this.from, params, passing ? 1 : 0, blockTypeAt, blockType.length, profile?.calls ?? -1, profile?.fuel ?? -1)
    } catch (error) {
      throw failed(error)
    }
    if (result === PASSING_NOT_POSSIBLE) return 'passing not possible'
    if (result === FAILED) return 'failed'
    if (result < 0) throw failed(new RangeError('the output passed 2 GiB')) // (an i32 to JavaScript)
    this.length = result
    return 'done'
  }

  /** Places the output not yet placed at the end of `pieces` (before a body rewritten otherwise, and at the section's end). */
  place(pieces: Uint8Array[]): void {
    if (this.length === this.placed) return
    this.runs.push([pieces.length, this.placed, this.length])
    pieces.push(new Uint8Array(0)) // filled in by `finish`: the output may still move as it grows
    this.placed = this.length
  }

  /**
   * After the last body: fills in the native runs of `pieces` with views of the output, valid
   * until the native rewriter is next used (so copy them first).
   */
  finish(pieces: Uint8Array[]): void {
    this.place(pieces)
    const base = this.wasm.output() >>> 0 // wasm pointers are unsigned; an i32 to JavaScript
    for (const [index, from, to] of this.runs) pieces[index] = new Uint8Array(this.wasm.memory.buffer, base + from, to - from)
  }

  /** Ends the section, however it ended. */
  close(): void {
    if (this.wasm.memory.buffer.byteLength > KEEP_MEMORY) releaseLater()
  }

  /** Copies the section from `start` into the window (grown to hold [start, end) if need be). */
  private moveWindow(start: number, end: number): void {
    if (end - start > this.windowSize) {
      this.windowSize = Math.max(WINDOW, end - start)
      this.window = this.wasm.allocate(this.windowSize + 16) >>> 0 // slack: the decoder may look a byte past a malformed end
    }
    this.from = start
    this.to = Math.min(this.code.length, start + this.windowSize)
    new Uint8Array(this.wasm.memory.buffer, this.window, this.to - start).set(this.code.subarray(start, this.to))
  }

  private copyIn(bytes: ArrayLike<number>): number {
    const at = this.wasm.allocate(bytes.length) >>> 0
    new Uint8Array(this.wasm.memory.buffer, at, bytes.length).set(bytes)
    return at
  }
}

interface Timers {
  setTimeout?(f: () => void, ms: number): { unref?(): void }
  clearTimeout?(timer: unknown): void
}
let releaseTimer: unknown

/** Lets the memory go RELEASE_AFTER_MS after this, unless `meter()` is used again (at once where there are no timers). */
function releaseLater(): void {
  const timers = globalThis as unknown as Timers
  if (!timers.setTimeout || !timers.clearTimeout) { instance = null; return }
  timers.clearTimeout(releaseTimer)
  const timer = timers.setTimeout(() => { instance = null }, RELEASE_AFTER_MS)
  timer.unref?.() // a Node.js process does not wait for it
  releaseTimer = timer
}

/** A trap in the native rewriter (out of memory, or worse): a fresh instance next time, and the module redone in TypeScript. */
function failed(error: unknown): NativeRewriterFailed {
  instance = null
  return new NativeRewriterFailed(String(error))
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
 * to do it synchronously (browsers have limited that on their main thread): `meter()` then
 * uses it there too, until its memory is let go (see KEEP_MEMORY). `compileMetered` awaits
 * this before every `meter()`; resolves either way.
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
