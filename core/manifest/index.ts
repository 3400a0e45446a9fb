export { parseManifest } from './plugin-manifest.js'
export type { PluginManifest } from './plugin-manifest.js'
export { loadManifest } from './load-manifest.js'
