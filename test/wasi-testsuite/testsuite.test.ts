/**
 * The official WASI testsuite (preview1), vendored in this folder, through the public API:
 * every program once on a host-directory mount and once on an in-memory preopen built from
 * the same files. Prints `N/72 passed` per mode, with what fails and why.
 */
import { describe, expect, it } from 'vitest'
import { listTests, runTest, summarize, type Mode, type TestResult } from './runner.js'

/** Known failures, with the reason (README, "WASI testsuite"); anything else failing is a regression. */
const EXPECTED_FAILURES: Record<Mode, Record<string, string>> = {
  host: {},
  memory: {},
}

describe.each(['host', 'memory'] as const)('WASI testsuite (%s mode)', (mode) => {
  it('passes every program but the known failures', async () => {
    const results: TestResult[] = []
    for (const test of await listTests()) results.push(await runTest(test, mode))
    console.log(summarize(mode, results))
    const failing = results.filter((r) => !r.passed).map((r) => `${r.test.language}/${r.test.name}`)
    expect(failing.sort()).toEqual(Object.keys(EXPECTED_FAILURES[mode]).sort())
  }, 600_000)
})
