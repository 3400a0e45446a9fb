import { SandboxError } from '../errors/index.js'
import type { ExportDescriptor } from '../meter/module-types.js'
import type { ReloadReport } from './sandbox-types.js'

export function compareModules(before: ExportDescriptor[], after: ExportDescriptor[]): Omit<ReloadReport, 'applied'> {
  const signature = (e: ExportDescriptor) => `${e.kind}(${e.params})->(${e.results})`
  const next = new Map(after.map((e) => [e.name, e]))
  const previous = new Set(before.map((e) => e.name))
  const removed = before.filter((e) => !next.has(e.name)).map((e) => e.name)
  const changed = before.filter((e) => next.has(e.name) && signature(next.get(e.name)!) !== signature(e)).map((e) => e.name)
  const added = after.filter((e) => !previous.has(e.name)).map((e) => e.name)
  return { compatible: removed.length === 0 && changed.length === 0, removed, changed, added }
}

export function noSuchExport(fn: string, exports: ExportDescriptor[]): SandboxError {
  const functions = exports.filter((e) => e.kind === 'function').map((e) => e.name)
  const other = exports.find((e) => e.name === fn)
  const suggestion = other ? `${fn} is a ${other.kind}, not a function` : functions.length ? `exported functions: ${functions.slice(0, 20).join(', ')}` : 'the module exports no functions'
  return new SandboxError('NO_SUCH_EXPORT', `the module has no exported function ${JSON.stringify(fn)}`, { export: fn, suggestion })
}
