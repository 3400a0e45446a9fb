import { decodeUtf8 } from '../text/index.js'
import type { TranspiledComponent } from './component-tools.js'

/** One exported function of a component, as `sb.exports()` lists it and the worker finds it. */
export interface ComponentExport {
  /** The WIT name: `greet`, or `ns:pkg/iface#fn` for a function of an exported interface. */
  name: string
  /** Where jco's exports object has it: `[fn]` or `[interface, fn]`. */
  path: string[]
  /** `func(name: string) -> string` (WIT) for world functions; jco's TypeScript for interface functions. */
  signature: string
  params: string[]
  results: string[]
  /** The WIT result is a `result<...>`: jco throws its `err`; the sandbox returns `{ tag, val }`. */
  returnsResult: boolean
}

/**
 * The exported functions of a component: names and WIT signatures of world-level functions
 * from the component's WIT, interface functions from jco's declarations of them (jco's
 * JavaScript mapping is what callers pass and get back).
 */
export function describeExports(wit: string, transpiled: TranspiledComponent): ComponentExport[] {
  const out: ComponentExport[] = []
  const exported = /^\s*export\s+([^\s:;]+(?::[^\s;]+)?)\s*(?::\s*func\s*\(([^)]*)\)\s*(?:->\s*([^;]+))?)?;/gm
  for (const [, name, params, result] of wit.matchAll(exported)) {
    if (params !== undefined) {
      const results = result ? [result.trim()] : []
      out.push({
        name: name!, path: [camelCase(name!)], signature: `func(${(params ?? '').trim()})${results.length ? ` -> ${results[0]}` : ''}`,
        params: splitTopLevel(params ?? ''), results, returnsResult: results[0]?.startsWith('result') ?? false,
      })
    } else {
      out.push(...interfaceFunctions(name!, transpiled))
    }
  }
  return out
}

/** `versioned` as the WIT names it (`wasi:http/incoming-handler@0.2.10`); calls use the unversioned name. */
function interfaceFunctions(versioned: string, transpiled: TranspiledComponent): ComponentExport[] {
  const iface = unversionedName(versioned)
  const key = transpiled.exports.find(([n, kind]) => kind === 'instance' && unversionedName(n) === iface)?.[0] ?? iface
  const headers = [`/** @module Interface ${iface} **/`, `/** @module Interface ${versioned} **/`]
  const declarations = Object.entries(transpiled.files).find(([file, data]) => file.endsWith('.d.ts') && headers.some((h) => decodeUtf8(data.subarray(0, 200)).startsWith(h)))
  if (!declarations) return []
  const out: ComponentExport[] = []
  const text = decodeUtf8(declarations[1])
  for (const [, fn, params, result] of text.matchAll(/^export function (\w+)\(([^)]*)\): ([^;]+);$/gm)) {
    const results = result === 'void' ? [] : [result!]
    out.push({ name: `${iface}#${kebabCase(fn!)}`, path: [key, fn!], signature: `(${params}) => ${result}`, params: splitTopLevel(params!), results, returnsResult: false })
  }
  return out
}

function unversionedName(name: string): string {
  return name.replace(/@[^@/]*$/, '')
}

/** WIT `parse-int` -> jco `parseInt`. */
export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

/** `a: u32, b: list<tuple<u8, u8>>` -> two items: commas inside <> or () do not split. */
function splitTopLevel(list: string): string[] {
  const out: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < list.length; i++) {
    const c = list[i]
    if (c === '<' || c === '(' || c === '{') depth++
    else if (c === '>' || c === ')' || c === '}') depth--
    else if (c === ',' && depth === 0) {
      out.push(list.slice(start, i).trim())
      start = i + 1
    }
  }
  const last = list.slice(start).trim()
  if (last) out.push(last)
  return out
}
