import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
    // The CLI caches compiled modules under the user's cache directory by default: tests
    // that spawn it keep theirs in a temporary one instead.
    env: { XDG_CACHE_HOME: join(tmpdir(), 'wasm-sandbox-test-cache') },
  },
})
