import { defineConfig } from 'vite'

// COOP/COEP make the page cross-origin isolated, which gives workers SharedArrayBuffer:
// needed for host functions and the fast call path (plain sandboxes work without).
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }

export default defineConfig({
  root: import.meta.dirname,
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation },
})
