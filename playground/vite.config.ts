import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineConfig, type Plugin } from 'vite'

/** Lists every file of the build in precache.json, for the service worker to fetch on install (offline use). */
function precacheList(): Plugin {
  return {
    name: 'playground-precache-list',
    apply: 'build',
    generateBundle(_, bundle) {
      const files = ['./', ...Object.keys(bundle).map((f) => `./${f}`)]
      this.emitFile({ type: 'asset', fileName: 'precache.json', source: JSON.stringify(files) })
    },
  }
}

// The playground is a static site; the dev and preview servers send the headers that make
// the page cross-origin isolated (see README: static hosting).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
}

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [svelte(), precacheList()],
  logLevel: 'warn',
  build: {
    outDir: 'dist', emptyOutDir: true, target: 'es2022',
    chunkSizeWarningLimit: 1000, // wabt (800 kB) is loaded on demand
    rollupOptions: {
      // jco's generated bindings start with a "use components" directive bundlers drop; harmless.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning)
      },
    },
  },
  worker: { format: 'es' },
  server: { headers: isolation, host: '127.0.0.1' },
  preview: { headers: isolation, host: '127.0.0.1', port: 5173 },
})
