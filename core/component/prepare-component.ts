import { SandboxError } from '../errors/index.js'
import type { ModuleInfo } from '../meter/module-types.js'
import type { NormalizedPolicy } from '../policy/options.js'
import type { GuestSettings } from '../protocol/messages.js'
import { ModuleCache, sourceHash } from '../sandbox/module-cache.js'
import type { Platform } from '../sandbox/platform.js'
import { compileMetered, meterOptionsKey, meterOptionsOf, type PreparedModule } from '../sandbox/compile-metered.js'
import { decodeUtf8 } from '../text/index.js'
import { describeExports } from './component-exports.js'
import { meteredComponentCodec, type ComponentGlue, type MeteredComponent } from './cached-component-entry.js'
import { throughCompileCache } from '../sandbox/compile-cache.js'
import type { ComponentTools } from './component-tools.js'
import { unversioned } from './component-policy.js'

/** The transpiled component: what does not depend on the policy. */
interface Transpiled extends ComponentGlue {
  wasmFiles: Record<string, Uint8Array>
}

const TRANSPILED = new ModuleCache<Transpiled>()
const METERED = new ModuleCache<Omit<MeteredComponent, 'meteredFiles'>>()

/**
 * Component bytes -> jco's glue plus every core module metered and compiled, ready for the
 * worker. Transpiling is cached by the component's SHA-256, the metered modules by hash and
 * meter settings, as for core modules.
 */
export async function prepareComponent(platform: Platform, bytes: Uint8Array, policy: NormalizedPolicy, settings: GuestSettings): Promise<PreparedModule> {
  if (settings.wasi?.preopens.some((p) => p.host !== undefined)) {
    throw new SandboxError('CONFIG', 'wasi.preopens: components get in-memory preopens only; host directories are for core modules', {
      field: 'wasi.preopens', suggestion: 'give the files with `files: { ... }`',
    })
  }
  if (!platform.componentTools) throw new SandboxError('CONFIG', 'source: this runtime cannot run components', { field: 'source' })
  const hash = (await sourceHash(bytes)) ?? ''
  // One counter for every core instance (the worker links them all to one global): the
  // budget bounds the work of the whole component, not of each instance.
  const meterOptions = { ...meterOptionsOf(policy), sharedFuel: true }
  const meterAll = async (): Promise<MeteredComponent> => {
    const tools = await platform.componentTools!() // loaded only when there is something to transpile
    const transpile = () => transpileComponent(tools, bytes)
    const transpiled = hash ? await TRANSPILED.get(hash, transpile) : await transpile()
    const modules: Record<string, unknown> = {}
    const meteredFiles: Record<string, Uint8Array> = {}
    for (const [file, data] of Object.entries(transpiled.wasmFiles)) {
      const metered = await compileMetered(platform, data, meterOptions)
      modules[file] = metered.module
      meteredFiles[file] = metered.bytes
    }
    return { transpiled, modules, meteredFiles }
  }
  const meterKey = meterOptionsKey(meterOptions)
  const cached = () => throughCompileCache(platform, policy, { sourceKind: 'component', sourceHash: hash || null, meterKey }, meteredComponentCodec(), meterAll)
    .then(({ transpiled, modules }) => ({ transpiled, modules })) // the bytes are not kept
  const { transpiled, modules } = hash ? await METERED.get(`${hash}:${meterKey}`, cached) : await meterAll()
  settings.component = {
    glue: transpiled.glue, imports: transpiled.imports, run: transpiled.run, networkAllow: policy.networkAllow,
    exports: transpiled.exports.map(({ name, path, returnsResult }) => ({ name, path, returnsResult })),
  }
  const info: ModuleInfo = {
    imports: [],
    interfaces: transpiled.imports,
    exports: transpiled.exports.map((e) => ({ name: e.name, kind: 'function', params: e.params, results: e.results, signature: e.signature })),
    memoryInitialBytes: null,
    hasStart: false,
    functionNames: new Map(),
  }
  return { module: modules, info, settings, signaturesKnown: false }
}

async function transpileComponent(tools: ComponentTools, bytes: Uint8Array): Promise<Transpiled> {
  let files: Record<string, Uint8Array>
  let jcoExports: [string, 'function' | 'instance'][]
  let wit: string
  try {
    ;({ files, exports: jcoExports } = await tools.transpile(bytes, 'component'))
    wit = await tools.wit(bytes)
  } catch (error) {
    throw new SandboxError('INVALID_MODULE', `invalid component: ${errorText(error)}`, { cause: error })
  }
  const exports = describeExports(wit, { files, exports: jcoExports })
  const imports = [...wit.matchAll(/^\s*import\s+([^\s:;]+:[^\s;]+);/gm)].map((m) => unversioned(m[1]!))
  const runInterface = jcoExports.find(([name, kind]) => kind === 'instance' && unversioned(name) === 'wasi:cli/run')
  return {
    glue: decodeUtf8(files['component.js']!),
    wasmFiles: Object.fromEntries(Object.entries(files).filter(([file]) => file.endsWith('.wasm'))),
    exports: exports.filter((e) => !e.name.startsWith('wasi:cli/run#')),
    imports,
    run: runInterface ? [runInterface[0], 'run'] : null,
  }
}

/** jco reports errors as objects with a `payload`; find the words. */
function errorText(error: unknown): string {
  const payload = (error as { payload?: unknown })?.payload
  const text = typeof payload === 'string' ? payload : payload !== undefined ? JSON.stringify(payload) : error instanceof Error ? error.message : String(error)
  return text.length > 500 ? `${text.slice(0, 500)}...` : text
}
