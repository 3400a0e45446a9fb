import { defineConfig } from 'vite'

// The browser compile cache's test and bench page, built as an app would build it
// ('wasm-sandbox' through the package exports). `base: './'`: served from any directory, so the
// test and the bench can serve the repository root (and fetch node_modules' wasm from it).
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
})
