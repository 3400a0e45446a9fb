import type { ExportDescriptor, PoolOptions, SandboxOptions } from '../../core/index.js'
import { SandboxError } from '../../core/index.js'
import { Sandbox, SandboxPool } from '../sandbox.js'

/** One guest export offered as an MCP tool. */
export interface McpToolSpec {
  /** The tool's name (what clients call). */
  name: string
  /** The module: a path, bytes, text or URL (see Sources); or give `manifest` instead. */
  source?: unknown
  /** A plugin manifest (object, JSON text or path to a .json file): module, digest, permissions, tool descriptions. */
  manifest?: unknown
  /** The export to call. Default: the tool's name. */
  export?: string
  description?: string
  /** JSON Schema of the arguments (an object). Default: derived from the export's signature. */
  inputSchema?: Record<string, unknown>
  /** The sandbox policy for every call of this tool (a manifest's permissions come first). */
  options?: SandboxOptions & Pick<PoolOptions, 'max'>
}

type JsonSchema = Record<string, unknown>

/** How a tool's arguments reach the export. */
type Calling =
  | { kind: 'json' }                                 // the bytes ABI: the arguments object as JSON in, JSON out
  | { kind: 'positional'; names: string[]; bigint: boolean[] } // numbers (core) or WIT values (component), in order

/** A tool ready to serve: its pool (every call on a fresh instance) and how to call it. */
export class WasmTool {
  private constructor(
    readonly name: string,
    readonly description: string,
    readonly inputSchema: JsonSchema,
    private readonly pool: SandboxPool,
    private readonly exportName: string,
    private readonly calling: Calling,
  ) {}

  static async create(spec: McpToolSpec): Promise<WasmTool> {
    let source = spec.source
    let options: SandboxOptions = spec.options ?? {}
    let description = spec.description
    let inputSchema = spec.inputSchema
    const exportName = spec.export ?? spec.name
    if (spec.manifest !== undefined) {
      const text = typeof spec.manifest === 'string' && spec.manifest.trim().endsWith('.json') && !spec.manifest.trim().startsWith('{')
        ? await import('node:fs/promises').then((fs) => fs.readFile(spec.manifest as string, 'utf8')) : spec.manifest
      const loaded = await Sandbox.loadManifest(text as never)
      source = loaded.source
      options = { ...loaded.manifest.permissions, ...spec.options }
      if (loaded.manifest.entryPoints && !loaded.manifest.entryPoints.includes(exportName)) {
        throw new SandboxError('CONFIG', `tool ${spec.name}: ${exportName} is not an entry point of plugin ${loaded.manifest.id}`, { field: 'export' })
      }
      description ??= loaded.manifest.tools?.[exportName]?.description ?? loaded.manifest.description
      inputSchema ??= loaded.manifest.tools?.[exportName]?.inputSchema
    }
    if (source === undefined) throw new SandboxError('CONFIG', `tool ${spec.name}: give a source or a manifest`, { field: 'source' })
    const { max = 2, ...sandboxOptions } = options as SandboxOptions & { max?: number }
    const pool = await SandboxPool.create(source, { ...sandboxOptions, min: 1, max, reuse: 'fresh' })
    try {
      const exports = pool.exports()
      const exp = exports.find((e) => e.name === exportName && e.kind === 'function')
      if (!exp) {
        throw new SandboxError('NO_SUCH_EXPORT', `tool ${spec.name}: the module has no exported function ${JSON.stringify(exportName)}`, {
          export: exportName, suggestion: `exported functions: ${exports.filter((e) => e.kind === 'function').map((e) => e.name).join(', ')}`,
        })
      }
      const calling = callingOf(exp, exports)
      return new WasmTool(spec.name, description ?? describeTool(exportName, exp, calling), inputSchema ?? schemaOf(calling, exp), pool, exportName, calling)
    } catch (error) {
      await pool.close()
      throw error
    }
  }

  /** Runs the export with the client's arguments; resolves with its result (throws SandboxError). */
  async call(args: Record<string, unknown>): Promise<unknown> {
    if (this.calling.kind === 'json') return this.pool.callJson(this.exportName, args)
    const { names, bigint } = this.calling
    const values = names.map((name, i) => {
      if (!(name in args)) throw new SandboxError('CONFIG', `tool ${this.name}: missing argument ${JSON.stringify(name)}`, { field: name })
      const v = args[name]
      return bigint[i] && (typeof v === 'number' || typeof v === 'string') ? BigInt(v) : v
    })
    return this.pool.call(this.exportName, ...values)
  }

  close(): Promise<void> {
    return this.pool.close()
  }
}

/**
 * JSON in and out when the export has the bytes ABI, else positional arguments, named as
 * the module names them (a core module's name section: `paramNames`) or `arg0`, `arg1`...
 */
function callingOf(exp: ExportDescriptor, exports: ExportDescriptor[]): Calling {
  if (exp.signature !== undefined) { // a component: WIT parameters are named
    return { kind: 'positional', names: exp.params.map((p, i) => p.split(':')[0]?.trim() || `arg${i}`), bigint: exp.params.map((p) => /:\s*[us]64$/.test(p)) }
  }
  const bytesAbi = exp.params.length === 2 && exp.params.every((t) => t === 'i32') && exp.results.length === 1 && exp.results[0] === 'i64'
    && exports.some((e) => e.name === 'alloc' && e.kind === 'function') && exports.some((e) => e.name === 'memory' && e.kind === 'memory')
  if (bytesAbi) return { kind: 'json' }
  const named = exp.params.map((_, i) => exp.paramNames?.[i])
  const usable = named.every((n, i) => n && /^[A-Za-z_][\w-]*$/.test(n) && named.indexOf(n) === i)
  return { kind: 'positional', names: exp.params.map((_, i) => usable ? named[i]! : `arg${i}`), bigint: exp.params.map((t) => t === 'i64') }
}

const WASM_TYPE_WORDS: Record<string, string> = { i32: 'a 32-bit integer', i64: 'a 64-bit integer', f32: 'a 32-bit float', f64: 'a 64-bit float' }

/** A sentence a person (or a model) can act on: what runs, what goes in, what comes out. */
function describeTool(exportName: string, exp: ExportDescriptor, calling: Calling): string {
  if (calling.kind === 'json') return `Runs the WebAssembly function ${exportName} in a sandbox: the arguments object goes in as JSON, and its JSON reply comes back.`
  if (exp.signature !== undefined) return `Runs the WebAssembly component function ${exportName} in a sandbox: ${exportName}${exp.signature.replace(/^func/, '')}.`
  const args = calling.names.map((name, i) => `${name} (${WASM_TYPE_WORDS[exp.params[i]!] ?? exp.params[i]})`)
  const results = exp.results.map((t) => WASM_TYPE_WORDS[t] ?? t)
  return `Runs the WebAssembly function ${exportName} in a sandbox${args.length ? ` with ${args.join(', ')}` : ', without arguments'}${results.length ? `; returns ${results.join(' and ')}` : ''}.`
}

const WIT_JSON_TYPES: Record<string, string> = {
  u8: 'integer', u16: 'integer', u32: 'integer', u64: 'integer', s8: 'integer', s16: 'integer', s32: 'integer', s64: 'integer',
  f32: 'number', f64: 'number', bool: 'boolean', string: 'string', char: 'string',
}

function schemaOf(calling: Calling, exp: ExportDescriptor): JsonSchema {
  if (calling.kind === 'json') return { type: 'object', description: 'passed to the guest as JSON' }
  const properties: Record<string, JsonSchema> = {}
  calling.names.forEach((name, i) => {
    const type = exp.params[i]!.split(':').slice(1).join(':').trim() || exp.params[i]!
    const json = WIT_JSON_TYPES[type] ?? (type === 'i32' || type === 'i64' ? 'integer' : type === 'f32' || type === 'f64' ? 'number' : undefined)
    const words = WASM_TYPE_WORDS[type]
    properties[name] = json ? { type: json, ...(words ? { description: `${type}: ${words}` } : {}) } : { description: `WIT ${type}, as jco maps it` }
  })
  return { type: 'object', properties, required: calling.names }
}
