import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseManifest, SandboxError, type PluginManifest } from '../core/index.js'

/** A manifest file, checked, with its module path made relative to the file. */
export async function readManifestFile(path: string): Promise<PluginManifest> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new SandboxError('CONFIG', `manifest: cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { field: 'manifest', suggestion: 'give a manifest object, its JSON text, or the path of a .json file' })
  })
  const parsed = parseManifest(text)
  return parsed.module.path !== undefined ? { ...parsed, module: { ...parsed.module, path: resolve(dirname(path), parsed.module.path) } } : parsed
}
