import { defineConfig } from 'vite'

// Builds the conformance page exactly as an app would: `wasm-sandbox` resolves through the
// package's exports with the browser condition.
export default defineConfig({
  root: import.meta.dirname,
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
})
