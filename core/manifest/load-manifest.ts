import { SandboxError } from '../errors/index.js'
import { sourceHash } from '../sandbox/module-cache.js'
import type { Platform } from '../sandbox/platform.js'
import { encodeUtf8 } from '../text/index.js'
import { parseManifest, type PluginManifest } from './plugin-manifest.js'

/**
 * A plugin manifest checked, and its module loaded and verified against its SHA-256 (a
 * mismatch is SECURITY_VIOLATION) before anything runs: what `Sandbox.fromManifest` runs,
 * for whoever builds something else from a manifest (a pool, the MCP server). Where the
 * platform reads files (Node), `manifest` may also be the path of a manifest file, whose
 * module path is then relative to it.
 */
export async function loadManifest(platform: Platform, manifest: PluginManifest | string): Promise<{ manifest: PluginManifest; source: Uint8Array | string }> {
  const isPath = typeof manifest === 'string' && !manifest.trimStart().startsWith('{') && platform.readManifestFile
  const m = isPath ? await platform.readManifestFile!(manifest as string) : parseManifest(manifest)
  const loaded = await platform.loadSource(m.module.path ?? m.module.url!) // a URL string is fetched
  if (loaded.kind === 'module') throw new SandboxError('CONFIG', 'manifest.module must name a file or URL', { field: 'manifest.module' })
  const bytes = loaded.kind === 'text' ? encodeUtf8(loaded.text) : loaded.bytes
  const actual = await sourceHash(bytes)
  if (actual === null) throw new SandboxError('CONFIG', 'cannot verify manifest.module.sha256: this runtime has no Web Crypto (an insecure page?)', { field: 'manifest.module.sha256' })
  if (actual !== m.module.sha256) {
    throw new SandboxError('SECURITY_VIOLATION', `plugin ${m.id}: the module's SHA-256 is ${actual}, the manifest says ${m.module.sha256}`, {
      capability: 'integrity', suggestion: 'the module changed since the manifest was written: check where it came from, then update the digest',
    })
  }
  return { manifest: m, source: loaded.kind === 'text' ? loaded.text : bytes }
}
