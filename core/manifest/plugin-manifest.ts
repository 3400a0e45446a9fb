import { configError } from '../policy/normalize.js'
import type { SandboxOptions } from '../policy/options.js'

/**
 * A plugin manifest: what a module is, where it is, its digest, what it may do, and which
 * exports callers may use.
 *
 * ```json
 * { "id": "acme.thumbnailer", "name": "Thumbnailer", "version": "1.2.0",
 *   "description": "Makes thumbnails",
 *   "module": { "path": "./thumbnailer.wasm", "sha256": "9f86d0…" },
 *   "permissions": { "policy": "standard", "memory": "128MB", "timeout": "2s" },
 *   "entryPoints": ["thumbnail"] }
 * ```
 */
export interface PluginManifest {
  id: string
  name: string
  version: string
  description?: string
  /** Where the module is (`path` in Node, or `url`) and its SHA-256, checked before it runs. */
  module: { path?: string; url?: string; sha256: string }
  /** Sandbox options (the policy fields); JSON-friendly: no host functions or handlers. */
  permissions?: SandboxOptions
  /** The exports callers may call; others are hidden. Default: all. */
  entryPoints?: string[]
  /**
   * How to present exports as tools (the MCP server): a description and a JSON Schema of the
   * arguments, by export name.
   */
  tools?: Record<string, { description?: string; inputSchema?: Record<string, unknown> }>
}

const ID = /^[a-z0-9][a-z0-9._-]*$/i
const SEMVER = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/
const SHA256 = /^[0-9a-f]{64}$/i
const PERMISSION_KEYS = ['policy', 'fuel', 'memory', 'timeout', 'stackDepth', 'tableElements', 'maxReplyBytes', 'wasi', 'network', 'profile']

/** Checks a manifest (an object or JSON text), failing with CONFIG naming `manifest.<field>`. */
export function parseManifest(input: unknown): PluginManifest {
  let value = input
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input)
    } catch (error) {
      throw configError('manifest', `not valid JSON: ${(error as Error).message}`)
    }
  }
  const m = value as Record<string, unknown>
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw configError('manifest', 'expected an object')
  const string = (field: string, pattern?: RegExp, hint?: string): string => {
    const v = m[field]
    if (typeof v !== 'string' || v === '') throw configError(`manifest.${field}`, 'expected a non-empty string')
    if (pattern && !pattern.test(v)) throw configError(`manifest.${field}`, `${JSON.stringify(v)} is not valid`, hint)
    return v
  }
  const known = ['id', 'name', 'version', 'description', 'module', 'permissions', 'entryPoints', 'tools']
  const extra = Object.keys(m).find((k) => !known.includes(k))
  if (extra) throw configError(`manifest.${extra}`, 'unknown field', `known fields: ${known.join(', ')}`)
  const manifest: PluginManifest = {
    id: string('id', ID, 'use letters, digits, dots, dashes and underscores, e.g. "acme.thumbnailer"'),
    name: string('name'),
    version: string('version', SEMVER, 'use a semantic version such as "1.2.0"'),
    module: { sha256: '' },
  }
  if (m.description !== undefined) manifest.description = string('description')
  const mod = m.module as Record<string, unknown>
  if (typeof mod !== 'object' || mod === null) throw configError('manifest.module', 'expected { path | url, sha256 }')
  if ((mod.path === undefined) === (mod.url === undefined)) throw configError('manifest.module', 'give exactly one of `path` and `url`')
  if (mod.path !== undefined && (typeof mod.path !== 'string' || mod.path === '')) throw configError('manifest.module.path', 'expected a file path')
  if (mod.url !== undefined && (typeof mod.url !== 'string' || !URL.canParse?.(mod.url))) throw configError('manifest.module.url', 'expected an absolute URL')
  if (typeof mod.sha256 !== 'string' || !SHA256.test(mod.sha256)) throw configError('manifest.module.sha256', 'expected 64 hexadecimal digits', 'sha256sum module.wasm')
  manifest.module = { sha256: mod.sha256.toLowerCase(), ...(mod.path !== undefined ? { path: mod.path as string } : { url: mod.url as string }) }
  if (m.permissions !== undefined) {
    const p = m.permissions as Record<string, unknown>
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw configError('manifest.permissions', 'expected an object of sandbox options')
    const bad = Object.keys(p).find((k) => !PERMISSION_KEYS.includes(k))
    if (bad) throw configError(`manifest.permissions.${bad}`, 'not a permission a manifest can grant', `allowed: ${PERMISSION_KEYS.join(', ')}`)
    manifest.permissions = p as SandboxOptions
  }
  if (m.entryPoints !== undefined) {
    if (!Array.isArray(m.entryPoints) || m.entryPoints.length === 0 || !m.entryPoints.every((e) => typeof e === 'string' && e !== '')) {
      throw configError('manifest.entryPoints', 'expected a non-empty array of export names')
    }
    manifest.entryPoints = [...new Set(m.entryPoints as string[])]
  }
  if (m.tools !== undefined) manifest.tools = parseTools(m.tools)
  return manifest
}

function parseTools(value: unknown): NonNullable<PluginManifest['tools']> {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (!isObject(value)) throw configError('manifest.tools', 'expected { "<export>": { description?, inputSchema? } }')
  for (const [name, tool] of Object.entries(value)) {
    const field = `manifest.tools.${name}`
    if (!isObject(tool)) throw configError(field, 'expected { description?, inputSchema? }')
    const extra = Object.keys(tool).find((k) => k !== 'description' && k !== 'inputSchema')
    if (extra) throw configError(`${field}.${extra}`, 'unknown field', 'known fields: description, inputSchema')
    if (tool.description !== undefined && typeof tool.description !== 'string') throw configError(`${field}.description`, 'expected a string')
    if (tool.inputSchema !== undefined && (!isObject(tool.inputSchema) || tool.inputSchema.type !== 'object')) {
      throw configError(`${field}.inputSchema`, 'expected a JSON Schema of an object', '{ "type": "object", "properties": { ... } }')
    }
  }
  return value as NonNullable<PluginManifest['tools']>
}

declare const URL: { canParse?(url: string): boolean }
