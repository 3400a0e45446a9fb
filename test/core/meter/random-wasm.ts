/**
 * A seeded generator of random modules written byte by byte, for differential tests of the
 * meter's two body rewriters (native/rewrite.c against the TypeScript one). Unlike
 * `generate.ts` (wat text, programs that terminate and can be run), it aims at the decoder:
 * every opcode class the rewriter decodes (numeric, memory, bulk, SIMD and relaxed SIMD,
 * atomics, reference and table instructions, legacy exceptions and try_table, tail calls,
 * call_ref), multi-value blocks with parameters, dead code after every kind of branch,
 * br_tables large and small, deep nesting, many locals and globals (indices of two and
 * three LEB bytes), thousands of types, and, on request, non-minimal LEB128 encodings of
 * every immediate the engine accepts padded.
 *
 * Operand types are tracked, so with the features Node's engine has (`ENGINE_FEATURES`) the
 * modules validate; `tryTable` and `typedRefs` produce modules only the body rewriters (not
 * this engine) understand, for tests that drive the code section directly. Loops need not
 * terminate: these modules are metered and validated, not run.
 */
import { prng } from './helpers.js'

export interface Features {
  simd: boolean
  relaxedSimd: boolean
  atomics: boolean
  /** legacy try/catch/catch_all/delegate/rethrow, throw */
  exceptions: boolean
  /** try_table, throw_ref (exnref): not in this engine */
  tryTable: boolean
  tailCalls: boolean
  /** call_ref / return_call_ref on `ref.func` (this engine with --experimental-wasm-typed-funcref) */
  callRef: boolean
  /** (ref null? ht) value types, br_on_null/br_on_non_null, ref.as_non_null in their final encoding: not in this engine */
  typedRefs: boolean
  bulk: boolean
  refTypes: boolean
}

/** What Node 20's engine validates without flags (call_ref needs one: see the test). */
export const ENGINE_FEATURES: Features = {
  simd: true, relaxedSimd: false, atomics: true, exceptions: true, tryTable: false, tailCalls: true, callRef: false,
  typedRefs: false, bulk: true, refTypes: true,
}

export interface Shape {
  /** Types before the module's own (so theirs have multi-byte indices). */
  paddingTypes: number
  importedFuncs: number
  definedFuncs: number
  importedGlobals: number
  definedGlobals: number
  /** Most declared locals of a function beyond a few. */
  extraLocals: number
  /** Instructions (roughly) per body. */
  budget: number
  /** Probability that an immediate is written non-minimally. */
  padding: number
  /** Most nested control depth. */
  maxDepth: number
  /** Most br_table targets. */
  maxTable: number
  startFunction: boolean
  sharedMemory: boolean
}

export interface RandomModule {
  bytes: Uint8Array
  seed: number
  shape: Shape
}

const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b, FUNCREF = 0x70, EXTERNREF = 0x6f, EXNREF = 0x69
/** A value type: its bytes (one byte, or 0x63/0x64 and a heap type). */
type Val = readonly number[]
const T = { i32: [I32], i64: [I64], f32: [F32], f64: [F64], v128: [V128], funcref: [FUNCREF], externref: [EXTERNREF] } as const
const NULL_FUNCREF: Val = [0x63, FUNCREF]
const same = (a: Val, b: Val) => a.length === b.length && a.every((x, i) => x === b[i])
const sameList = (a: readonly Val[], b: readonly Val[]) => a.length === b.length && a.every((x, i) => same(x, b[i]!))

interface FuncType { params: Val[]; results: Val[] }
interface Frame {
  /** What a branch to this label carries. */
  label: Val[]
  kind: 'block' | 'loop' | 'if' | 'try' | 'catch' | 'func'
}

// ---- numeric instruction tables: [opcode bytes, operands, result] ----
type Op = [number[], Val[], Val | null]
const un = (ops: number[], a: Val, r: Val): Op[] => ops.map((o) => [[o], [a], r])
const bin = (ops: number[], a: Val, r: Val): Op[] => ops.map((o) => [[o], [a, a], r])
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const NUMERIC: Op[] = [
  ...un([0x45], T.i32, T.i32), ...bin(range(0x46, 0x4f), T.i32, T.i32),
  ...un([0x50], T.i64, T.i32), ...bin(range(0x51, 0x5a), T.i64, T.i32),
  ...bin(range(0x5b, 0x60), T.f32, T.i32), ...bin(range(0x61, 0x66), T.f64, T.i32),
  ...un(range(0x67, 0x69), T.i32, T.i32), ...bin(range(0x6a, 0x78), T.i32, T.i32),
  ...un(range(0x79, 0x7b), T.i64, T.i64), ...bin(range(0x7c, 0x8a), T.i64, T.i64),
  ...un(range(0x8b, 0x91), T.f32, T.f32), ...bin(range(0x92, 0x98), T.f32, T.f32),
  ...un(range(0x99, 0x9f), T.f64, T.f64), ...bin(range(0xa0, 0xa6), T.f64, T.f64),
  [[0xa7], [T.i64], T.i32], [[0xa8], [T.f32], T.i32], [[0xa9], [T.f32], T.i32], [[0xaa], [T.f64], T.i32], [[0xab], [T.f64], T.i32],
  [[0xac], [T.i32], T.i64], [[0xad], [T.i32], T.i64],
  [[0xae], [T.f32], T.i64], [[0xaf], [T.f32], T.i64], [[0xb0], [T.f64], T.i64], [[0xb1], [T.f64], T.i64],
  [[0xb2], [T.i32], T.f32], [[0xb3], [T.i32], T.f32], [[0xb4], [T.i64], T.f32], [[0xb5], [T.i64], T.f32], [[0xb6], [T.f64], T.f32],
  [[0xb7], [T.i32], T.f64], [[0xb8], [T.i32], T.f64], [[0xb9], [T.i64], T.f64], [[0xba], [T.i64], T.f64], [[0xbb], [T.f32], T.f64],
  [[0xbc], [T.f32], T.i32], [[0xbd], [T.f64], T.i64], [[0xbe], [T.i32], T.f32], [[0xbf], [T.i64], T.f64],
  [[0xc0], [T.i32], T.i32], [[0xc1], [T.i32], T.i32], [[0xc2], [T.i64], T.i64], [[0xc3], [T.i64], T.i64], [[0xc4], [T.i64], T.i64],
  // saturating truncations (0xfc 0-7)
  [[0xfc, 0], [T.f32], T.i32], [[0xfc, 1], [T.f32], T.i32], [[0xfc, 2], [T.f64], T.i32], [[0xfc, 3], [T.f64], T.i32],
  [[0xfc, 4], [T.f32], T.i64], [[0xfc, 5], [T.f32], T.i64], [[0xfc, 6], [T.f64], T.i64], [[0xfc, 7], [T.f64], T.i64],
]
/** SIMD without immediates (sub-opcode, operands, result). */
const SIMD_PLAIN: [number, Val[], Val][] = [
  [14, [T.v128, T.v128], T.v128], [15, [T.i32], T.v128], [16, [T.i32], T.v128], [17, [T.i32], T.v128], [18, [T.i64], T.v128],
  [19, [T.f32], T.v128], [20, [T.f64], T.v128], [35, [T.v128, T.v128], T.v128], [64, [T.v128, T.v128], T.v128],
  [77, [T.v128], T.v128], [78, [T.v128, T.v128], T.v128], [81, [T.v128, T.v128], T.v128], [82, [T.v128, T.v128, T.v128], T.v128],
  [83, [T.v128], T.i32], [95, [T.v128], T.v128], [96, [T.v128], T.v128], [99, [T.v128], T.i32], [100, [T.v128], T.i32],
  [110, [T.v128, T.v128], T.v128], [142, [T.v128, T.v128], T.v128], [163, [T.v128], T.i32], [174, [T.v128, T.v128], T.v128],
  [181, [T.v128, T.v128], T.v128], [206, [T.v128, T.v128], T.v128], [227, [T.v128], T.v128], [228, [T.v128, T.v128], T.v128],
  [239, [T.v128], T.v128], [240, [T.v128, T.v128], T.v128], [248, [T.v128], T.v128], [255, [T.v128], T.v128],
]
const RELAXED: [number, Val[], Val][] = [
  [0x100, [T.v128, T.v128], T.v128], [0x101, [T.v128], T.v128], [0x105, [T.v128, T.v128, T.v128], T.v128],
  [0x109, [T.v128, T.v128, T.v128], T.v128], [0x10d, [T.v128, T.v128], T.v128], [0x113, [T.v128, T.v128, T.v128], T.v128],
]
/** Loads: opcode, natural alignment (log2), result. */
const LOADS: [number, number, Val][] = [
  [0x28, 2, T.i32], [0x29, 3, T.i64], [0x2a, 2, T.f32], [0x2b, 3, T.f64], [0x2c, 0, T.i32], [0x2d, 0, T.i32], [0x2e, 1, T.i32],
  [0x2f, 1, T.i32], [0x30, 0, T.i64], [0x31, 0, T.i64], [0x32, 1, T.i64], [0x33, 1, T.i64], [0x34, 2, T.i64], [0x35, 2, T.i64],
]
const STORES: [number, number, Val][] = [
  [0x36, 2, T.i32], [0x37, 3, T.i64], [0x38, 2, T.f32], [0x39, 3, T.f64], [0x3a, 0, T.i32], [0x3b, 1, T.i32], [0x3c, 0, T.i64],
  [0x3d, 1, T.i64], [0x3e, 2, T.i64],
]
/** SIMD loads (sub, max alignment log2). */
const SIMD_LOADS: [number, number][] = [[0, 4], [1, 3], [2, 3], [3, 3], [4, 3], [5, 3], [6, 3], [7, 0], [8, 1], [9, 2], [10, 3], [92, 2], [93, 3]]
/** Atomic loads / stores / read-modify-writes: (sub, alignment log2, value type). */
const ATOMIC_LOADS: [number, number, Val][] = [[0x10, 2, T.i32], [0x11, 3, T.i64], [0x12, 0, T.i32], [0x13, 1, T.i32], [0x14, 0, T.i64], [0x15, 1, T.i64], [0x16, 2, T.i64]]
const ATOMIC_WIDTHS: [number, Val][] = [[2, T.i32], [3, T.i64], [0, T.i32], [1, T.i32], [0, T.i64], [1, T.i64], [2, T.i64]]

export function randomShape(seed: number): Shape {
  const rand = prng(seed ^ 0x5eed)
  const int = (n: number) => Math.floor(rand() * n)
  const chance = (p: number) => rand() < p
  return {
    paddingTypes: chance(0.15) ? pickOf(rand, [127, 128, 200, 3000, 16384, 20000]) : 0,
    importedFuncs: int(3),
    definedFuncs: 1 + int(7),
    importedGlobals: chance(0.4) ? 1 + int(3) : 0,
    definedGlobals: chance(0.2) ? 120 + int(150) : int(6),
    extraLocals: chance(0.2) ? 120 + int(40) : int(6),
    budget: chance(0.1) ? 1500 + int(2500) : 20 + int(250),
    padding: chance(0.3) ? 0.3 : 0,
    maxDepth: chance(0.1) ? 40 : 6,
    maxTable: chance(0.1) ? 2000 : 8,
    startFunction: chance(0.3),
    sharedMemory: chance(0.3),
  }
}

function pickOf<X>(rand: () => number, xs: readonly X[]): X {
  return xs[Math.floor(rand() * xs.length)]!
}

export function randomModule(seed: number, features: Features = ENGINE_FEATURES, shape: Shape = randomShape(seed)): RandomModule {
  return { bytes: new ModuleBuilder(seed, features, shape).build(), seed, shape }
}

class ModuleBuilder {
  private readonly rand: () => number
  private readonly types: FuncType[] = []
  /** Type index of the first of our own types (after the padding). */
  private readonly base: number
  private readonly funcTypes: number[] = [] // per function index
  private readonly globals: { type: Val; mutable: boolean }[] = []
  private readonly tags: number[] = [] // type index per tag
  /** Functions in the table (and declared for ref.func), exported ones, and internal ones (none of these). */
  private readonly tableFuncs: number[] = []
  private readonly exported = new Set<number>()
  private readonly valueTypes: Val[]

  constructor(seed: number, private readonly f: Features, private readonly shape: Shape) {
    this.rand = prng(seed * 2654435761 + 1)
    this.base = shape.paddingTypes
    this.valueTypes = [T.i32, T.i64, T.f32, T.f64, ...(f.simd ? [T.v128] : []), ...(f.refTypes ? [T.funcref, T.externref] : []), ...(f.typedRefs ? [NULL_FUNCREF] : [])]
  }

  private int(n: number): number { return Math.floor(this.rand() * n) }
  private chance(p: number): boolean { return this.rand() < p }
  private pick<X>(xs: readonly X[]): X { return xs[this.int(xs.length)]! }
  private numType(): Val { return this.pick([T.i32, T.i64, T.f32, T.f64]) }
  private anyType(): Val { return this.chance(0.6) ? this.numType() : this.pick(this.valueTypes) }

  build(): Uint8Array {
    const { shape, f } = this
    // Our types: 0 [] -> [], 1 [i32] -> [] (tags), then random signatures (multi-value, params).
    this.types.push({ params: [], results: [] }, { params: [T.i32], results: [] }, { params: [T.i64, T.f64], results: [] })
    for (let n = 4 + this.int(10); n > 0; n--) {
      const params = Array.from({ length: this.int(4) }, () => this.anyType())
      const results = Array.from({ length: this.chance(0.3) ? 2 + this.int(2) : this.int(2) }, () => this.anyType())
      this.types.push({ params, results })
    }
    const funcCount = shape.importedFuncs + shape.definedFuncs
    for (let i = 0; i < funcCount; i++) this.funcTypes.push(this.base + this.int(this.types.length))
    if (shape.startFunction) this.funcTypes[shape.importedFuncs] = this.base // [] -> []
    for (let i = 0; i < shape.importedGlobals; i++) this.globals.push({ type: this.numType(), mutable: this.chance(0.5) })
    for (let i = 0; i < shape.definedGlobals; i++) this.globals.push({ type: this.chance(0.1) && f.simd ? T.v128 : this.numType(), mutable: this.chance(0.7) })
    if (f.exceptions || f.tryTable) this.tags.push(this.base, this.base + 1, this.base + 2)
    for (let i = shape.importedFuncs; i < funcCount; i++) {
      const r = this.rand()
      if (r < 0.3) this.exported.add(i)
      else if (r < 0.55) this.tableFuncs.push(i)
      // else internal: the meter may pass it the counter
    }
    if (this.tableFuncs.length === 0) this.tableFuncs.push(funcCount - 1)

    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
    // type
    const types: number[] = []
    u32(types, shape.paddingTypes + this.types.length)
    for (let i = 0; i < shape.paddingTypes; i++) types.push(0x60, 0x01, I32, 0x00)
    for (const t of this.types) { types.push(0x60); vecTypes(types, t.params); vecTypes(types, t.results) }
    section(out, 1, types)
    // import
    const imports: number[] = []
    u32(imports, shape.importedFuncs + shape.importedGlobals)
    for (let i = 0; i < shape.importedFuncs; i++) { name(imports, 'env'); name(imports, `f${i}`); imports.push(0x00); u32(imports, this.funcTypes[i]!) }
    for (let i = 0; i < shape.importedGlobals; i++) { name(imports, 'env'); name(imports, `g${i}`); imports.push(0x03, ...this.globals[i]!.type, this.globals[i]!.mutable ? 1 : 0) }
    if (imports[0]! > 0) section(out, 2, imports)
    // function
    const funcs: number[] = []
    u32(funcs, shape.definedFuncs)
    for (let i = shape.importedFuncs; i < funcCount; i++) u32(funcs, this.funcTypes[i]!)
    section(out, 3, funcs)
    // table: 0 funcref (the table functions), 1 externref
    const tables: number[] = []
    u32(tables, f.refTypes ? 2 : 1)
    tables.push(FUNCREF, 0x00); u32(tables, this.tableFuncs.length)
    if (f.refTypes) tables.push(EXTERNREF, 0x01, 0x02, 0x10)
    section(out, 4, tables)
    // memory
    section(out, 5, shape.sharedMemory && f.atomics ? [0x01, 0x03, 0x01, 0x04] : [0x01, 0x01, 0x01, 0x04])
    // tag
    if (this.tags.length) { const tags: number[] = []; u32(tags, this.tags.length); for (const t of this.tags) { tags.push(0x00); u32(tags, t) } section(out, 13, tags) }
    // global
    if (shape.definedGlobals > 0) {
      const globals: number[] = []
      u32(globals, shape.definedGlobals)
      for (const g of this.globals.slice(shape.importedGlobals)) { globals.push(...g.type, g.mutable ? 1 : 0); constant(globals, g.type, this.int(1000)); globals.push(0x0b) }
      section(out, 6, globals)
    }
    // export
    const exports: number[] = []
    u32(exports, this.exported.size + 1)
    name(exports, 'mem'); exports.push(0x02, 0x00)
    for (const i of this.exported) { name(exports, `f${i}`); exports.push(0x00); u32(exports, i) }
    section(out, 7, exports)
    if (shape.startFunction) { const start: number[] = []; u32(start, shape.importedFuncs); section(out, 8, start) }
    // element: active (table 0), passive, declarative (everything ref.func may name)
    const elems: number[] = [0x03]
    elems.push(0x00, 0x41, 0x00, 0x0b); u32(elems, this.tableFuncs.length); for (const i of this.tableFuncs) u32(elems, i)
    elems.push(0x01, 0x00); u32(elems, this.tableFuncs.length); for (const i of this.tableFuncs) u32(elems, i)
    elems.push(0x03, 0x00); u32(elems, this.tableFuncs.length); for (const i of this.tableFuncs) u32(elems, i)
    section(out, 9, elems)
    section(out, 12, [0x02]) // data count
    // code
    const code: number[] = []
    u32(code, shape.definedFuncs)
    for (let i = shape.importedFuncs; i < funcCount; i++) {
      const body = this.body(i)
      u32(code, body.length, this.chance(shape.padding) ? 1 + this.int(3) : 0)
      pushAll(code, body)
    }
    section(out, 10, code)
    // data: passive, active
    section(out, 11, [0x02, 0x01, 0x04, 1, 2, 3, 4, 0x00, 0x41, 0x10, 0x0b, 0x03, 7, 8, 9])
    return new Uint8Array(out)
  }

  // ---- bodies ----
  private code: number[] = []
  private locals: Val[] = []
  private frames: Frame[] = []
  private budget = 0

  private body(index: number): number[] {
    const type = this.types[this.funcTypes[index]! - this.base]!
    this.code = []
    this.locals = [...type.params]
    const decl: [number, Val][] = []
    for (let n = this.int(4); n > 0; n--) decl.push([1 + this.int(3), this.anyType()])
    if (this.shape.extraLocals > 10 && this.chance(0.7)) decl.push([this.shape.extraLocals, this.numType()])
    else if (this.chance(0.3)) decl.push([this.int(this.shape.extraLocals + 1), this.numType()])
    for (const [n, t] of decl) for (let k = 0; k < n; k++) this.locals.push(t)
    const head: number[] = []
    u32(head, decl.length, this.pad())
    for (const [n, t] of decl) { u32(head, n, this.pad()); head.push(...t) }
    this.budget = this.shape.budget
    this.frames = [{ label: type.results, kind: 'func' }]
    this.seq(type.results, this.shape.maxDepth)
    this.code.push(0x0b)
    return [...head, ...this.code]
  }

  private pad(): number {
    return this.chance(this.shape.padding) ? 1 + this.int(3) : 0
  }

  /** An unsigned immediate, sometimes padded (the engine accepts up to 5 bytes). */
  private imm(v: number): void {
    u32(this.code, v, this.pad())
  }

  private op(...bytes: number[]): void {
    pushAll(this.code, bytes)
  }

  /** A sequence leaving `results` on the stack: statements, maybe a branch and dead code, then the values. */
  private seq(results: Val[], depth: number): void {
    for (let n = this.int(depth > 0 ? 5 : 2); n > 0 && this.budget > 0; n--) this.stmt(depth - 1)
    if (this.chance(0.25)) {
      this.terminator(depth - 1)
      for (let n = this.int(3); n > 0; n--) this.stmt(depth - 1) // dead code: validated, not run
    }
    for (const t of results) this.value(t, depth - 1)
  }

  private block(kind: 'block' | 'loop' | 'if' | 'try', bt: FuncType, depth: number, emitHead: () => void): void {
    for (const p of bt.params) this.value(p, depth)
    emitHead()
    this.blockType(bt)
    this.frames.push({ label: kind === 'loop' ? bt.params : bt.results, kind })
    const arm = () => {
      for (let i = 0; i < bt.params.length; i++) this.op(0x1a) // drop the parameters
      this.seq(bt.results, depth)
    }
    arm()
    if (kind === 'if' && (this.chance(0.7) || !sameList(bt.params, bt.results))) { this.op(0x05); arm() }
    if (kind === 'try') {
      const top = this.frames[this.frames.length - 1]!
      if (this.chance(0.2)) { // try ... delegate l (to a label outside the try)
        this.frames.pop()
        this.op(0x18); this.imm(this.int(this.frames.length))
        return
      }
      top.kind = 'catch'
      for (let n = this.int(3); n > 0; n--) {
        const tag = this.int(this.tags.length)
        this.op(0x07); this.imm(tag)
        for (let i = 0; i < this.types[this.tags[tag]! - this.base]!.params.length; i++) this.op(0x1a)
        this.seq(bt.results, depth)
      }
      if (this.chance(0.5)) { this.op(0x19); this.seq(bt.results, depth) }
    }
    this.frames.pop()
    this.op(0x0b)
  }

  /** A block type: empty, one value type, or a type index (multi-value, with parameters). */
  private randomBlockType(): FuncType {
    const r = this.rand()
    if (r < 0.35) return { params: [], results: [] }
    if (r < 0.7) return { params: [], results: [this.anyType()] }
    return this.types[this.int(this.types.length)]!
  }

  private blockType(bt: FuncType): void {
    const index = this.types.indexOf(bt)
    if (index >= 0) { s64(this.code, BigInt(this.base + index), this.pad()); return }
    if (bt.results.length === 0) this.op(0x40)
    else this.op(...bt.results[0]!)
  }

  private stmt(depth: number): void {
    this.budget--
    if (this.budget <= 0 || depth < 0) { this.op(0x01); return }
    const f = this.f
    switch (this.int(22)) {
      case 0: case 1: { const i = this.int(this.locals.length); if (i < this.locals.length) { this.value(this.locals[i]!, depth); this.op(0x21); this.imm(i) } break }
      case 2: {
        const g = this.mutableGlobal()
        if (g >= 0) { this.value(this.globals[g]!.type, depth); this.op(0x24); this.imm(g) }
        break
      }
      case 3: { const [op, align, t] = this.pick(STORES); this.value(T.i32, depth); this.value(t, depth); this.op(op); this.memarg(align); break }
      case 4: { const t = this.anyType(); this.value(t, depth); this.op(0x1a); break }
      case 5: { const bt = this.randomBlockType(); this.block('block', bt, depth, () => this.op(0x02)); this.dropAll(bt.results); break }
      case 6: { const bt = this.randomBlockType(); this.block('loop', bt, depth, () => this.op(0x03)); this.dropAll(bt.results); break }
      case 7: { const bt = this.randomBlockType(); this.block('if', bt, depth, () => { this.value(T.i32, depth); this.op(0x04) }); this.dropAll(bt.results); break }
      case 8: if (f.exceptions) { const bt = this.randomBlockType(); this.block('try', bt, depth, () => this.op(0x06)); this.dropAll(bt.results) } break
      case 9: if (f.tryTable) this.tryTable(depth); break
      case 10: this.branchIf(depth); break
      case 11: { // a call, its results dropped
        const callee = this.int(this.funcTypes.length)
        const t = this.types[this.funcTypes[callee]! - this.base]!
        for (const p of t.params) this.value(p, depth)
        if (this.chance(0.2) && this.tableFuncs.length) { this.value(T.i32, depth); this.op(0x11); this.imm(this.funcTypes[callee]!); this.imm(0) }
        else if (f.callRef && this.chance(0.2)) { // call_ref on ref.func of a table function
          this.dropAll(t.params)
          const g = this.pick(this.tableFuncs), gt = this.funcTypes[g]!
          for (const p of this.types[gt - this.base]!.params) this.value(p, depth)
          this.op(0xd2); this.imm(g); this.op(0x14); this.imm(gt)
          this.dropAll(this.types[gt - this.base]!.results)
          break
        }
        else { this.op(0x10); this.imm(callee) }
        this.dropAll(t.results)
        break
      }
      case 12: if (f.bulk) this.bulk(depth); break
      case 13: // v128.store, v128.storeN_lane
        if (f.simd) {
          this.value(T.i32, depth); this.value(T.v128, depth)
          if (this.chance(0.5)) { this.op(0xfd); this.imm(11); this.memarg(4) }
          else { const kind = this.int(4); this.op(0xfd); this.imm(88 + kind); this.memargLane(kind) }
        }
        break
      case 14: if (f.atomics) this.atomicStmt(depth); break
      case 15: if (f.refTypes) this.tableStmt(depth); break
      case 16: this.op(0x01); break
      case 17: { // memory.grow, dropped
        this.value(T.i32, depth); this.op(0x40, 0x00, 0x1a); break
      }
      case 18: { // select / select t
        const t = this.anyType()
        this.value(t, depth); this.value(t, depth); this.value(T.i32, depth)
        if (t.length === 1 && t[0]! >= F64 && t[0]! <= I32 && this.chance(0.5)) this.op(0x1b)
        else { this.op(0x1c); this.imm(1); this.op(...t) }
        this.op(0x1a)
        break
      }
      case 19: if (f.typedRefs) this.typedRefStmt(depth); break
      case 20: { const i = this.int(this.locals.length); if (i < this.locals.length) { this.value(this.locals[i]!, depth); this.op(0x22); this.imm(i); this.op(0x1a) } break }
      default: this.op(0x01)
    }
  }

  private dropAll(types: readonly Val[]): void {
    for (let i = 0; i < types.length; i++) this.op(0x1a)
  }

  private mutableGlobal(): number {
    const candidates = this.globals.map((g, i) => (g.mutable ? i : -1)).filter((i) => i >= 0)
    return candidates.length ? this.pick(candidates) : -1
  }

  /** A branch that may not be taken: br_if, br_on_null. */
  private branchIf(depth: number): void {
    const d = this.int(this.frames.length)
    const label = this.frames[this.frames.length - 1 - d]!.label
    for (const t of label) this.value(t, depth)
    this.value(T.i32, depth)
    this.op(0x0d); this.imm(d)
    this.dropAll(label)
  }

  /** An unconditional transfer: what follows is dead up to the end of the frame. */
  private terminator(depth: number): void {
    const f = this.f
    const fnResults = this.frames[0]!.label
    switch (this.int(f.exceptions ? 9 : 7)) {
      case 0: case 1: { // br
        const d = this.int(this.frames.length)
        for (const t of this.frames[this.frames.length - 1 - d]!.label) this.value(t, depth)
        this.op(0x0c); this.imm(d)
        break
      }
      case 2: { // br_table over labels of the same type
        const d = this.int(this.frames.length)
        const label = this.frames[this.frames.length - 1 - d]!.label
        const fits = this.frames.map((fr, i) => (sameList(fr.label, label) ? this.frames.length - 1 - i : -1)).filter((x) => x >= 0)
        for (const t of label) this.value(t, depth)
        this.value(T.i32, depth)
        const n = this.chance(0.1) ? this.int(this.shape.maxTable + 1) : this.int(5)
        this.op(0x0e); this.imm(n)
        for (let i = 0; i < n; i++) this.imm(this.pick(fits))
        this.imm(this.pick(fits))
        break
      }
      case 3: for (const t of fnResults) this.value(t, depth); this.op(0x0f); break // return
      case 4: this.op(0x00); break // unreachable
      case 5: { // a tail call with the function's own results
        if (!f.tailCalls) { this.op(0x00); break }
        const callees = this.funcTypes.map((t, i) => (sameList(this.types[t - this.base]!.results, fnResults) ? i : -1)).filter((i) => i >= 0)
        const callee = this.pick(callees)
        const t = this.types[this.funcTypes[callee]! - this.base]!
        for (const p of t.params) this.value(p, depth)
        const how = this.int(f.callRef ? 3 : 2)
        if (how === 0) { this.op(0x12); this.imm(callee) }
        else if (how === 1) { this.value(T.i32, depth); this.op(0x13); this.imm(this.funcTypes[callee]!); this.imm(0) }
        else {
          const g = this.tableFuncs.find((i) => sameList(this.types[this.funcTypes[i]! - this.base]!.results, fnResults))
          if (g === undefined) { this.op(0x00); break }
          for (let i = 0; i < t.params.length; i++) this.op(0x1a)
          const gt = this.types[this.funcTypes[g]! - this.base]!
          for (const p of gt.params) this.value(p, depth)
          this.op(0xd2); this.imm(g); this.op(0x15); this.imm(this.funcTypes[g]!)
        }
        break
      }
      case 6: { // a value-carrying br through a deep stack of blocks
        const d = this.int(this.frames.length)
        for (const t of this.frames[this.frames.length - 1 - d]!.label) this.value(t, depth)
        this.op(0x0c); this.imm(d)
        break
      }
      case 7: { // throw
        const tag = this.int(this.tags.length)
        for (const p of this.types[this.tags[tag]! - this.base]!.params) this.value(p, depth)
        this.op(0x08); this.imm(tag)
        break
      }
      case 8: { // rethrow (in a catch), else throw
        const i = this.frames.map((fr) => fr.kind).lastIndexOf('catch')
        if (i < 0) { this.op(0x08); this.imm(0); break }
        this.op(0x09); this.imm(this.frames.length - 1 - i)
        break
      }
    }
  }

  private memarg(align: number): void {
    this.imm(this.int(align + 1))
    this.imm(this.chance(0.1) ? this.int(0x7fffffff) : this.int(64))
  }

  private memargLane(kind: number): void {
    this.memarg(kind)
    this.op(this.int(16 >> kind))
  }

  private bulk(depth: number): void {
    const v = (n: number) => { for (let i = 0; i < n; i++) this.value(T.i32, depth) }
    switch (this.int(8)) {
      case 0: v(3); this.op(0xfc); this.imm(8); this.imm(this.int(2)); this.op(0x00); break // memory.init
      case 1: this.op(0xfc); this.imm(9); this.imm(this.int(2)); break // data.drop
      case 2: v(3); this.op(0xfc); this.imm(10); this.op(0x00, 0x00); break // memory.copy
      case 3: v(3); this.op(0xfc); this.imm(11); this.op(0x00); break // memory.fill
      case 4: v(3); this.op(0xfc); this.imm(12); this.imm(this.int(2)); this.imm(0); break // table.init
      case 5: this.op(0xfc); this.imm(13); this.imm(this.int(3)); break // elem.drop
      case 6: v(3); this.op(0xfc); this.imm(14); this.imm(0); this.imm(0); break // table.copy
      case 7: this.value(T.funcref, depth); v(1); this.op(0xfc); this.imm(15); this.imm(0); this.op(0x1a); break // table.grow
    }
  }

  private tableStmt(depth: number): void {
    const table = this.int(2)
    const ref = table === 0 ? T.funcref : T.externref
    switch (this.int(3)) {
      case 0: this.value(T.i32, depth); this.value(ref, depth); this.op(0x26); this.imm(table); break // table.set
      case 1: this.value(T.i32, depth); this.value(ref, depth); this.value(T.i32, depth); this.op(0xfc); this.imm(17); this.imm(table); break // table.fill
      case 2: this.value(ref, depth); this.value(T.i32, depth); this.op(0xfc); this.imm(15); this.imm(table); this.op(0x1a); break // table.grow
    }
  }

  private atomicStmt(depth: number): void {
    switch (this.int(4)) {
      case 0: this.op(0xfe); this.imm(3); this.op(0x00); break // atomic.fence
      case 1: { const k = this.int(7); const [align, t] = ATOMIC_WIDTHS[k]!; this.value(T.i32, depth); this.value(t, depth); this.op(0xfe); this.imm(0x17 + k); this.imm(align); this.imm(this.int(64)); break }
      case 2: { this.value(T.i32, depth); this.value(T.i32, depth); this.op(0xfe); this.imm(0); this.imm(2); this.imm(0); this.op(0x1a); break } // notify
      case 3: { const k = this.int(7); const [align, t] = ATOMIC_WIDTHS[k]!; this.value(T.i32, depth); this.value(t, depth); this.value(t, depth); this.op(0xfe); this.imm(0x48 + k); this.imm(align); this.imm(0); this.op(0x1a); break } // cmpxchg
    }
  }

  /** try_table with random handlers: their labels need not type-check (not for this engine). */
  private tryTable(depth: number): void {
    const bt = this.randomBlockType()
    for (const p of bt.params) this.value(p, depth)
    this.op(0x1f)
    this.blockType(bt)
    const n = this.int(4)
    this.imm(n)
    for (let i = 0; i < n; i++) {
      const kind = this.int(4)
      this.op(kind)
      if (kind <= 1) this.imm(this.int(this.tags.length))
      this.imm(this.int(this.frames.length))
    }
    this.frames.push({ label: bt.results, kind: 'block' })
    this.dropAll(bt.params)
    this.seq(bt.results, depth)
    if (this.chance(0.2)) { this.op(0xd0, EXNREF, 0x0a) } // throw_ref (dead code follows)
    this.frames.pop()
    this.op(0x0b)
    this.dropAll(bt.results)
  }

  /** br_on_null / br_on_non_null / ref.as_non_null (final encodings; not for this engine). */
  private typedRefStmt(depth: number): void {
    const d = this.int(this.frames.length)
    const label = this.frames[this.frames.length - 1 - d]!.label
    for (const t of label) this.value(t, depth)
    this.value(NULL_FUNCREF, depth)
    const op = this.pick([0xd4, 0xd5, 0xd6])
    this.op(op)
    if (op !== 0xd4) this.imm(d)
    if (op !== 0xd6) this.op(0x1a)
    this.dropAll(label)
  }

  /** Code pushing one value of type `t`. */
  private value(t: Val, depth: number): void {
    this.budget--
    const f = this.f
    const k = t.length === 1 ? t[0]! : -1
    if (this.budget <= 0 || depth < 0) { this.constant(t); return }
    const r = this.int(24)
    switch (r) {
      case 0: case 1: this.constant(t); return
      case 2: case 3: {
        const ls = this.locals.map((l, i) => (same(l, t) ? i : -1)).filter((i) => i >= 0)
        if (ls.length) {
          const i = this.pick(ls)
          if (this.chance(0.8)) this.op(0x20) // local.get
          else { this.value(t, depth - 1); this.op(0x22) } // local.tee
          this.imm(i)
          return
        }
        break
      }
      case 4: {
        const gs = this.globals.map((g, i) => (same(g.type, t) ? i : -1)).filter((i) => i >= 0)
        if (gs.length) { this.op(0x23); this.imm(this.pick(gs)); return }
        break
      }
      case 5: case 6: case 7: { // numeric
        const ops = NUMERIC.filter(([, , res]) => res !== null && same(res, t))
        if (ops.length) {
          const [bytes, args] = this.pick(ops)
          for (const a of args) this.value(a, depth - 1)
          this.op(bytes[0]!); if (bytes.length > 1) this.imm(bytes[1]!)
          return
        }
        break
      }
      case 8: { // load
        const ls = LOADS.filter(([, , res]) => same(res, t))
        if (ls.length) { const [op, align] = this.pick(ls); this.value(T.i32, depth - 1); this.op(op); this.memarg(align); return }
        break
      }
      case 9: this.block('block', { params: [], results: [t] }, depth - 1, () => this.op(0x02)); return
      case 10: { const bt = this.chance(0.5) ? { params: [], results: [t] } : this.typeWithResult(t); if (!bt) break; this.block('if', bt, depth - 1, () => { this.value(T.i32, depth - 1); this.op(0x04) }); if (bt.results.length > 1) this.keepFirst(bt.results, t); return }
      case 11: { const bt = this.typeWithResult(t) ?? { params: [], results: [t] }; this.block('loop', bt, depth - 1, () => this.op(0x03)); this.keepFirst(bt.results, t); return }
      case 12: if (f.exceptions) { this.block('try', { params: [], results: [t] }, depth - 1, () => this.op(0x06)); return } break
      case 13: { // call
        const fs = this.funcTypes.map((ty, i) => (this.types[ty - this.base]!.results[0] && same(this.types[ty - this.base]!.results[0]!, t) ? i : -1)).filter((i) => i >= 0)
        if (!fs.length) break
        const callee = this.pick(fs)
        const ty = this.types[this.funcTypes[callee]! - this.base]!
        for (const p of ty.params) this.value(p, depth - 1)
        if (this.chance(0.3)) { this.value(T.i32, depth - 1); this.op(0x11); this.imm(this.funcTypes[callee]!); this.imm(0) }
        else { this.op(0x10); this.imm(callee) }
        this.keepFirst(ty.results, t)
        return
      }
      case 14: { // select
        this.value(t, depth - 1); this.value(t, depth - 1); this.value(T.i32, depth - 1)
        if (k >= F64 && k <= I32 && this.chance(0.5)) this.op(0x1b)
        else if (k === V128 && this.chance(0.5)) this.op(0x1b)
        else { this.op(0x1c); this.imm(1); this.op(...t) }
        return
      }
      case 15: // memory.size / memory.grow, table.size
        if (k === I32) {
          const c = this.int(4)
          if (c === 0) this.op(0x3f, 0x00)
          else if (c === 1) { this.value(T.i32, depth - 1); this.op(0x40, 0x00) }
          else if (c === 2 && f.refTypes) { this.op(0xfc); this.imm(16); this.imm(this.int(2)) }
          else if (f.refTypes) { const tb = this.int(2); this.value(tb ? T.externref : T.funcref, depth - 1); this.value(T.i32, depth - 1); this.op(0xfc); this.imm(15); this.imm(tb) }
          else this.op(0x3f, 0x00)
          return
        }
        break
      case 16: case 17: if (f.simd) { this.simdValue(t, depth - 1); return } break
      case 18: if (f.atomics && (k === I32 || k === I64)) { this.atomicValue(t, depth - 1); return } break
      case 19: // references
        if (k === I32 && f.refTypes) { this.value(this.pick([T.funcref, T.externref]), depth - 1); this.op(0xd1); return }
        if (k === FUNCREF || k === EXTERNREF) {
          if (this.chance(0.5)) { this.value(T.i32, depth - 1); this.op(0x25); this.imm(k === FUNCREF ? 0 : 1); return } // table.get
          if (k === FUNCREF) { this.op(0xd2); this.imm(this.pick(this.tableFuncs)); return }
        }
        break
      case 20: { // a br_table with a value out of two blocks
        const bt = { params: [], results: [t] }
        this.op(0x02); this.blockType(bt); this.frames.push({ label: [t], kind: 'block' })
        this.op(0x02); this.blockType(bt); this.frames.push({ label: [t], kind: 'block' })
        this.value(t, depth - 1); this.value(T.i32, depth - 1)
        const n = this.int(4)
        this.op(0x0e); this.imm(n)
        for (let i = 0; i <= n; i++) this.imm(this.int(2))
        this.frames.pop(); this.op(0x0b)
        this.frames.pop(); this.op(0x0b)
        return
      }
      case 21: if (f.tryTable) { this.tryTableValue(t, depth - 1); return } break
    }
    // a binary op, or a constant
    const ops = NUMERIC.filter(([bytes, args, res]) => bytes.length === 1 && args.length === 2 && res !== null && same(res, t) && same(args[0]!, t))
    if (ops.length && this.chance(0.7)) { const [bytes] = this.pick(ops); this.value(t, depth - 1); this.value(t, depth - 1); this.op(bytes[0]!); return }
    this.constant(t)
  }

  private tryTableValue(t: Val, depth: number): void {
    this.op(0x1f); this.blockType({ params: [], results: [t] })
    this.imm(1); this.op(0x02); this.imm(this.int(this.frames.length))
    this.frames.push({ label: [t], kind: 'block' })
    this.seq([t], depth)
    this.frames.pop()
    this.op(0x0b)
  }

  private typeWithResult(t: Val): FuncType | null {
    const ts = this.types.filter((ty) => ty.results.length > 0 && same(ty.results[0]!, t))
    return ts.length ? this.pick(ts) : null
  }

  /** Drops all but the first of `results` (the bottom one, of type `t`). */
  private keepFirst(results: readonly Val[], _t: Val): void {
    for (let i = 1; i < results.length; i++) this.op(0x1a)
  }

  private constant(t: Val): void {
    const k = t.length === 1 ? t[0]! : -1
    if (k === I32) { this.op(0x41); s64(this.code, BigInt(this.pick([0, 1, -1, 63, 64, -65, 127, 128, 0x7fffffff, -0x80000000, this.int(100000) - 50000])), this.chance(this.shape.padding) ? 1 + this.int(3) : 0, 5) }
    else if (k === I64) { this.op(0x42); s64(this.code, this.pick([0n, -1n, 64n, -65n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n, BigInt(this.int(1 << 30))]), this.chance(this.shape.padding) ? 1 + this.int(6) : 0, 10) }
    else if (k === F32) { this.op(0x43); for (let i = 0; i < 4; i++) this.op(this.int(256)) }
    else if (k === F64) { this.op(0x44); for (let i = 0; i < 8; i++) this.op(this.int(256)) }
    else if (k === V128) { this.op(0xfd); this.imm(12); for (let i = 0; i < 16; i++) this.op(this.int(256)) }
    else if (k === FUNCREF) { if (this.chance(0.5)) this.op(0xd0, FUNCREF); else { this.op(0xd2); this.imm(this.pick(this.tableFuncs)) } }
    else if (k === EXTERNREF) this.op(0xd0, EXTERNREF)
    else if (t[0] === 0x63) { this.op(0xd0); s64(this.code, -16n, this.pad()) } // ref.null func, heap type maybe padded
    else throw new Error(`no constant of type ${t}`)
  }

  private simdValue(t: Val, depth: number): void {
    const k = t.length === 1 ? t[0]! : -1
    if (k === V128) {
      switch (this.int(6)) {
        case 0: { const [sub, align] = this.pick(SIMD_LOADS); this.value(T.i32, depth); this.op(0xfd); this.imm(sub); this.memarg(align); return }
        case 1: { this.value(T.v128, depth); this.value(T.v128, depth); this.op(0xfd); this.imm(13); for (let i = 0; i < 16; i++) this.op(this.int(32)); return } // shuffle
        case 2: { // replace lane
          const [sub, lanes, lane] = this.pick([[23, 16, T.i32], [26, 8, T.i32], [28, 4, T.i32], [30, 2, T.i64], [32, 4, T.f32], [34, 2, T.f64]] as const)
          this.value(T.v128, depth); this.value(lane, depth); this.op(0xfd); this.imm(sub); this.op(this.int(lanes)); return
        }
        case 3: { const kind = this.int(4); this.value(T.i32, depth); this.value(T.v128, depth); this.op(0xfd); this.imm(84 + kind); this.memargLane(kind); return } // load lane
        case 4: if (this.f.relaxedSimd) { const [sub, args] = this.pick(RELAXED); for (const a of args) this.value(a, depth); this.op(0xfd); this.imm(sub); return } break
      }
    }
    const ops = SIMD_PLAIN.filter(([, , res]) => same(res, t))
    if (ops.length) { const [sub, args] = this.pick(ops); for (const a of args) this.value(a, depth); this.op(0xfd); this.imm(sub); return }
    const lanes: [number, number, Val][] = [[21, 16, T.i32], [22, 16, T.i32], [24, 8, T.i32], [25, 8, T.i32], [27, 4, T.i32], [29, 2, T.i64], [31, 4, T.f32], [33, 2, T.f64]]
    const ex = lanes.filter(([, , res]) => same(res, t))
    if (ex.length) { const [sub, n] = this.pick(ex); this.value(T.v128, depth); this.op(0xfd); this.imm(sub); this.op(this.int(n)); return }
    this.constant(t)
  }

  private atomicValue(t: Val, depth: number): void {
    const k = t[0]!
    switch (this.int(3)) {
      case 0: { const ls = ATOMIC_LOADS.filter(([, , r]) => r[0] === k); const [sub, align] = this.pick(ls); this.value(T.i32, depth); this.op(0xfe); this.imm(sub); this.imm(align); this.imm(this.int(32)); return }
      case 1: { // rmw add..xchg
        const ks = ATOMIC_WIDTHS.map(([, ty], i) => (ty[0] === k ? i : -1)).filter((i) => i >= 0)
        const w = this.pick(ks)
        const group = this.int(6)
        this.value(T.i32, depth); this.value(t, depth)
        this.op(0xfe); this.imm(0x1e + group * 7 + w); this.imm(ATOMIC_WIDTHS[w]![0]); this.imm(0)
        return
      }
      case 2: { // memory.atomic.wait32/64 (i32 result), or a load
        if (k === I32) { const w64 = this.chance(0.5); this.value(T.i32, depth); this.value(w64 ? T.i64 : T.i32, depth); this.value(T.i64, depth); this.op(0xfe); this.imm(w64 ? 2 : 1); this.imm(w64 ? 3 : 2); this.imm(0); return }
        this.value(T.i32, depth); this.op(0xfe); this.imm(0x11); this.imm(3); this.imm(0); return
      }
    }
  }
}

// ---- encoding ----
function pushAll(out: number[], bytes: readonly number[]): void {
  for (const b of bytes) out.push(b)
}

/** Unsigned LEB128, padded with `pad` extra bytes (at most 5 in all). */
export function u32(out: number[], v: number, pad = 0): void {
  const bytes: number[] = []
  do { bytes.push(v & 0x7f); v >>>= 7 } while (v)
  while (pad > 0 && bytes.length < 5) { bytes.push(0); pad-- }
  for (let i = 0; i < bytes.length; i++) out.push(i < bytes.length - 1 ? bytes[i]! | 0x80 : bytes[i]!)
}

/** Signed LEB128, padded with sign bytes up to `max` bytes. */
export function s64(out: number[], v: bigint, pad = 0, max = 5): void {
  const bytes: number[] = []
  for (;;) {
    const b = Number(v & 0x7fn)
    v >>= 7n
    if ((v === 0n && !(b & 0x40)) || (v === -1n && b & 0x40)) { bytes.push(b); break }
    bytes.push(b)
  }
  const fill = bytes[bytes.length - 1]! & 0x40 ? 0x7f : 0x00
  while (pad > 0 && bytes.length < max) { bytes.push(fill); pad-- }
  for (let i = 0; i < bytes.length; i++) out.push(i < bytes.length - 1 ? bytes[i]! | 0x80 : bytes[i]!)
}

function name(out: number[], s: string): void {
  u32(out, s.length)
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i))
}

function vecTypes(out: number[], ts: readonly Val[]): void {
  u32(out, ts.length)
  for (const t of ts) pushAll(out, t)
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id)
  u32(out, body.length)
  pushAll(out, body)
}

function constant(out: number[], t: Val, v: number): void {
  const k = t[0]!
  if (k === I32) { out.push(0x41); s64(out, BigInt(v)) }
  else if (k === I64) { out.push(0x42); s64(out, BigInt(v)) }
  else if (k === F32) out.push(0x43, 0, 0, 0, 0)
  else if (k === F64) out.push(0x44, 0, 0, 0, 0, 0, 0, 0, 0)
  else if (k === V128) { out.push(0xfd, 12); for (let i = 0; i < 16; i++) out.push(v & 0xff) }
}
