import { SandboxError } from '../errors/index.js'
import { MAX_FUEL, METER_EXPORTS, METER_IMPORT, type MeterControl } from '../meter/meter-control.js'
import type { GuestSettings } from '../protocol/messages.js'
import type { CommandOptions } from '../protocol/wasi-settings.js'
import { classifyError } from '../guest/classify-error.js'
import { componentMeterControl } from './component-meter.js'
import { ComponentWasi } from './component-wasi.js'
import type { Preview2Shim } from './preview2-shim.js'
import type { HttpExchange } from './wasi-http.js'
import type { FetchRequest, FetchResult } from '../protocol/fetch.js'
import { encodeUtf8 } from '../text/index.js'

/** The engine's global constructor (core has no DOM or Node types). */
declare const WebAssembly: { Global: new (type: { value: 'i64'; mutable: boolean }, value: bigint) => unknown }

/** What a worker provides to run components. */
export interface ComponentEngine {
  /** Evaluates an ES module from source text (jco's glue) and returns its namespace. */
  importModule(source: string): Promise<Record<string, unknown>>
  /** The browser build of @bytecodealliance/preview2-shim. */
  preview2(): Promise<Preview2Shim>
  instantiate(module: unknown, imports: Record<string, Record<string, unknown>>): Promise<{ exports: object }>
}

export interface ComponentInstance {
  /** Functions by WIT name; `_start` is `wasi:cli/run#run`. */
  exports: Record<string, (...args: unknown[]) => unknown>
  control: MeterControl
  wasi: ComponentWasi
  /** The core instances, for the profile. */
  instances: { exports: object }[]
}

const glueModules = new Map<string, Promise<Record<string, unknown>>>()

/**
 * Instantiates a transpiled component: jco's glue asks for each core module by file name
 * (we hand it the metered, compiled one) and instantiates it through us, so every core
 * instance is known, its deferred start function runs under the fuel budget, and one
 * meter covers them all.
 */
export async function instantiateComponent(engine: ComponentEngine, modules: Record<string, unknown>, settings: GuestSettings, command: CommandOptions | null, fetchSync: (request: FetchRequest) => FetchResult): Promise<ComponentInstance> {
  const component = settings.component!
  let glue = glueModules.get(component.glue)
  if (!glue) glueModules.set(component.glue, (glue = engine.importModule(component.glue)))
  const { instantiate } = (await glue) as unknown as { instantiate: (get: (file: string) => unknown, imports: object, core: (m: unknown, i: Record<string, Record<string, unknown>>) => Promise<{ exports: object }>) => Promise<Record<string, any>> }
  const wasi = new ComponentWasi(settings.wasi, component.networkAllow, command, await engine.preview2(), component.imports, fetchSync)
  const instances: { exports: object }[] = []
  let control = componentMeterControl([], settings.fuel ?? MAX_FUEL, settings.stackDepth)
  const getCoreModule = (file: string) => {
    const module = modules[file]
    if (!module) throw new SandboxError('INTERNAL', `the component glue asked for a core module the host did not send: ${file}`)
    return module
  }
  // Every core module imports its fuel counter (`sharedFuel`): this one, so they share the budget.
  const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, settings.fuel ?? MAX_FUEL)
  // Without a prototype: a name looked up there finds the counter or nothing (not `constructor`).
  const counterNamespace = Object.assign(Object.create(null) as Record<string, unknown>, { [METER_IMPORT.name]: fuel })
  const instantiateCore = async (module: unknown, imports: Record<string, Record<string, unknown>>) => {
    const instance = await engine.instantiate(module, { ...imports, [METER_IMPORT.module]: counterNamespace })
    instances.push(instance)
    control = componentMeterControl(instances, settings.fuel ?? MAX_FUEL, settings.stackDepth)
    const start = (instance.exports as Record<string, unknown>)[METER_EXPORTS.start]
    if (typeof start === 'function') start()
    return instance
  }
  let root: Record<string, any>
  try {
    root = await instantiate(getCoreModule, wasi.imports, instantiateCore)
  } catch (error) {
    throw classifyError(error, control, settings, null)
  }
  // The shared counter stops the call where the budget runs out (a trap). Should jco's glue
  // swallow that trap, the call still ends in FUEL_EXHAUSTED when it returns (a plain Error:
  // the meter's state makes it that, see classifyError).
  const meter = control
  const budgeted = (fn: (...args: unknown[]) => unknown) => (...args: unknown[]) => {
    const value = fn(...args)
    if (meter.exhausted()) throw new Error('the call used more fuel than its budget across the component\'s core modules')
    return value
  }
  const exports: Record<string, (...args: unknown[]) => unknown> = {}
  for (const e of component.exports) {
    const found = lookup(root, e.path)
    if (typeof found !== 'function') continue
    const fn = budgeted(found as (...args: unknown[]) => unknown)
    exports[e.name] = e.returnsResult ? (...args) => tagResult(() => fn(...args)) : fn
  }
  // An HTTP handler takes resources no caller can make: it is called with a plain request
  // `{ method, url, headers, body }` and answers `{ status, headers, body }`.
  const handle = exports[HTTP_HANDLER]
  if (handle && wasi.serveHttp) {
    const serve = wasi.serveHttp
    exports[HTTP_HANDLER] = (request) => serve((req, out) => handle(req, out), exchangeOf(request))
  }
  if (component.run) {
    const found = lookup(root, component.run)
    const run = typeof found === 'function' ? budgeted(found as () => unknown) : null
    if (run) exports._start = () => {
      try {
        run()
      } catch (error) {
        if (wasi.exitCode === null && error === undefined) wasi.exitCode = 1 // run returned err (result<_, _>: no payload)
        else throw error
      }
    }
  }
  return { exports, control, wasi, instances }
}

/** The export name of an HTTP handler component's entry point. */
export const HTTP_HANDLER = 'wasi:http/incoming-handler#handle'

function exchangeOf(value: unknown): HttpExchange {
  const r = value as { method?: unknown; url?: unknown; headers?: unknown; body?: unknown }
  if (typeof r !== 'object' || r === null || typeof r.url !== 'string') {
    throw new SandboxError('CONFIG', `${HTTP_HANDLER}: call it with { method, url, headers, body }`, { field: 'request' })
  }
  const headers = Array.isArray(r.headers) ? r.headers as [string, string][] : Object.entries((r.headers ?? {}) as Record<string, string>)
  const body = r.body instanceof Uint8Array ? r.body : typeof r.body === 'string' ? encodeUtf8(r.body) : new Uint8Array()
  return { method: typeof r.method === 'string' ? r.method : 'GET', url: r.url, headers, body }
}

function lookup(root: Record<string, any>, path: string[]): unknown {
  let at: any = root
  for (const key of path) at = at?.[key]
  return at
}

/**
 * jco returns a `result`'s ok value and throws its err payload as it is: plain data, never
 * an Error (a trap or a host failure is one).
 */
function tagResult(call: () => unknown): { tag: 'ok' | 'err'; val: unknown } {
  try {
    return { tag: 'ok', val: call() }
  } catch (error) {
    if (isErrPayload(error)) return { tag: 'err', val: error }
    throw error
  }
}

function isErrPayload(error: unknown): boolean {
  return !(error instanceof Error)
}
