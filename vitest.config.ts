import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each sandbox is a real worker thread; two cores run two test files at a time.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/support/plain-summary.ts'],
  },
})
