import { describe, expect, it } from 'vitest'
import * as api from 'wasm-sandbox'
import { cases } from './suite.js'

// The shared suite against the Node adapter, with the facts it must show spelled out;
// test/browser/conformance.test.ts checks the browser adapter gives the same.
describe('conformance suite (Node adapter)', () => {
  it('runs every case without a harness failure', async () => {
    for (const [name, run] of Object.entries(cases)) {
      const result = await run(api)
      expect(JSON.stringify(result), name).not.toMatch(/"threw"|"unexpected"/)
    }
  })

  it('reports limits as typed errors with the sandbox still serving', async () => {
    const results = (await cases['limits end in typed errors and the sandbox keeps serving']!(api)) as unknown[]
    expect(results).toEqual([
      'spin', { error: { code: 'FUEL_EXHAUSTED', kind: 'fuel', limit: '1000000n', used: '1000000n', export: 'spin' } }, { value: 6 },
      'boom', { error: { code: 'TRAP', trap: 'unreachable', export: 'boom' } }, { value: 6 },
      'recurse', { error: { code: 'STACK_OVERFLOW', kind: 'stack', limit: 100, used: 101, export: 'recurse' } }, { value: 6 },
      'growForever', { error: expect.objectContaining({ code: 'MEMORY_LIMIT', kind: 'memory', limit: 2 * 2 ** 20 }) }, { value: 6 },
      'missing', { error: { code: 'NO_SUCH_EXPORT', export: 'missing' } }, { value: 6 },
    ])
  })

  it('runs a WASI command under the policy', async () => {
    const result = await cases['WASI command with an in-memory preopen, under the policy']!(api)
    expect(result).toMatchObject({
      exitCode: 7, stdout: 'from a virtual file\n', stderr: [76, 76],
      audit: [
        { capability: 'filesystem', operation: 'path_open', path: '../secret', detail: 'the path leaves the preopened directory' },
        { capability: 'random', operation: 'random_get', detail: 'randomness is not granted (wasi.random)' },
      ],
    })
  })

  it('runs WASI testsuite programs on in-memory preopens', async () => {
    const results = (await cases['WASI testsuite programs on in-memory preopens']!(api)) as unknown[]
    for (let i = 0; i < results.length; i += 2) {
      const name = results[i] as string
      const expected = name === 'proc_exit-failure' ? 33 : 0
      expect(results[i + 1], name).toMatchObject({ value: { exitCode: expected } })
    }
    expect(results[1]).toMatchObject({ value: { stdout: '' } })
  })

  it('keeps what a failed WASI command wrote on its error', async () => {
    const result = await cases['a failed WASI command keeps what it wrote']!(api)
    expect(result).toEqual({
      trapped: { error: { code: 'TRAP', trap: 'unreachable', export: '_start', stdout: 'partial output\n', stderr: 'panicked: the reason\n' } },
      bytes: [15, 21],
    })
  })
})
