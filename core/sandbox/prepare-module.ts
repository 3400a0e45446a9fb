import { SandboxError } from '../errors/index.js'
import { ModuleCache, sourceHash } from './module-cache.js'
import { METER_EXPORTS } from '../meter/meter-control.js'
import type { ModuleInfo } from '../meter/module-types.js'
import type { NormalizedPolicy } from '../policy/options.js'
import type { GuestSettings } from '../protocol/messages.js'
import type { Platform } from './platform.js'
import { WASI_MODULE } from './check-imports.js'
import { wasiSettings } from '../wasi/wasi-settings-from-options.js'
import { isComponent, isComponentText } from '../component/component-binary.js'
import { prepareComponent } from '../component/prepare-component.js'
import type { ComponentTools } from '../component/component-tools.js'
import { throughCompileCache, warmCompileCache } from './compile-cache.js'
import { compileMetered, meterOptionsKey, meterOptionsOf, type PreparedModule } from './compile-metered.js'
import { meteredModuleCodec } from './cached-module-entry.js'

/**
 * Source -> metered, compiled module. Errors are SandboxErrors: text errors carry the line,
 * binary errors the byte offset in the caller's binary (not the rewritten one).
 */
export async function prepareModule(platform: Platform, source: unknown, policy: NormalizedPolicy): Promise<PreparedModule> {
  const settings: GuestSettings = {
    fuel: policy.fuel, stackDepth: policy.stackDepth, memoryBytes: policy.memoryBytes, tableElements: policy.tableElements, maxReplyBytes: policy.maxReplyBytes, hostImports: [], exportNames: [],
    wasi: wasiSettings(policy.wasi, platform.hostMounts),
    component: null,
  }
  warmCompileCache(platform, policy)
  const loaded = await platform.loadSource(source)
  if (loaded.kind === 'module') return prepareCompiled(platform, loaded.module, settings)
  if (loaded.kind === 'bytes' && isComponent(loaded.bytes)) return prepareComponent(platform, loaded.bytes, policy, settings)
  if (loaded.kind === 'text' && isComponentText(loaded.text)) {
    const tools = await platform.componentTools?.()
    if (tools) return prepareComponent(platform, await parseComponentText(tools, loaded.text), policy, settings)
  }
  const meterOptions = meterOptionsOf(policy)
  const input = loaded.kind === 'text' ? loaded.text : loaded.bytes
  const hash = await sourceHash(input)
  const compile = () => throughCompileCache(platform, policy, { sourceKind: loaded.kind, sourceHash: hash, meterKey: meterOptionsKey(meterOptions) },
    meteredModuleCodec(), () => compileMetered(platform, input, meterOptions)).then(({ module, info }) => ({ module, info })) // the bytes are not kept
  const { module, info } = hash === null ? await compile()
    : await MODULES.get(`${loaded.kind}:${hash}:${meterOptionsKey(meterOptions)}`, compile)
  // Host functions, numbered in import order (checkImports has made sure they are granted).
  settings.hostImports = info.imports
    .filter((i) => i.kind === 'function' && !(settings.wasi && i.module === WASI_MODULE))
    .map((i) => ({ module: i.module, name: i.name, params: i.type!.params, results: i.type!.results }))
  settings.exportNames = info.exports.filter((e) => e.kind === 'function').map((e) => e.name)
  return { module, info, settings, signaturesKnown: true }
}

async function parseComponentText(tools: ComponentTools, text: string): Promise<Uint8Array> {
  try {
    return await tools.parse(text)
  } catch (error) {
    const message = String((error as { payload?: unknown }).payload ?? (error as Error).message)
    const line = /line: (\d+)/.exec(message) // wasm-tools counts lines from 0
    throw new SandboxError('INVALID_MODULE', `invalid component text${line ? ` at line ${Number(line[1]) + 1}` : ''}: ${message.slice(0, 500)}`, { line: line ? Number(line[1]) + 1 : undefined, cause: error })
  }
}

/** Compiled modules shared by every sandbox of this process or page. */
const MODULES = new ModuleCache<{ module: unknown; info: ModuleInfo }>()

/** A module the caller compiled: only accepted when it was compiled from `meter()` output. */
function prepareCompiled(platform: Platform, module: unknown, settings: GuestSettings): PreparedModule {
  const exports = platform.moduleExports(module)
  // The code of a compiled module cannot be read back, so it is taken on trust as meter() output
  // (see README, Sources); what can be checked is that its limits are switched on.
  if (settings.stackDepth !== null && exports.some((e) => e.name === METER_EXPORTS.fuel) && !exports.some((e) => e.name === METER_EXPORTS.depth)) {
    throw new SandboxError('CONFIG', 'source: this WebAssembly.Module was metered without `stackDepth`, which the policy sets', {
      field: 'source', suggestion: 'meter it with the same stackDepth as the policy, or pass the bytes',
    })
  }
  if (!exports.some((e) => e.name === METER_EXPORTS.fuel)) {
    throw new SandboxError('CONFIG', 'source: a WebAssembly.Module compiled from unmetered bytes cannot be limited', {
      field: 'source', suggestion: "pass the bytes instead, or compile the output of meter() from 'wasm-sandbox/core'",
    })
  }
  return {
    module,
    settings,
    signaturesKnown: false,
    info: {
      imports: [],
      exports: exports.filter((e) => !e.name.startsWith(METER_EXPORTS.prefix)).map((e) => ({ name: e.name, kind: e.kind as 'function', params: [], results: [] })),
      memoryInitialBytes: null,
      hasStart: false,
      functionNames: new Map(),
    },
  }
}

export type { PreparedModule } from './compile-metered.js'
