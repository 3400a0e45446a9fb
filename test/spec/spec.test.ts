/**
 * The official WebAssembly spec testsuite through `meter()`: every command of every script runs
 * on the original module and on its metered form, and must give the same outcome. See
 * spec-runner.ts for what an outcome is and what is counted apart.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runSpecSuite, type SpecCounts } from './spec-runner.js'

const cacheDir = mkdtempSync(join(tmpdir(), 'wasm-spec-'))
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }))

function report(label: string, c: SpecCounts): void {
  console.log(`spec suite (${label}): ${c.scripts} scripts, ${c.commands} commands: ${c.same} same, ${c.mismatches} mismatches, ` +
    `${c.transformErrors} transform errors, ${c.exhaustionDepth} exhaustion-depth differences; apart: ${c.text} text-format modules, ` +
    `${c.engineFails} commands where Node's engine itself disagrees with the script`)
  for (const d of c.details.slice(0, 40)) console.log(`  ${d}`)
}

describe('official spec testsuite, original vs metered', () => {
  it('fuel only: 0 mismatches, 0 transform errors', () => {
    const counts = runSpecSuite({ fuel: 'unlimited' }, cacheDir)
    report('fuel', counts)
    expect(counts.scripts).toBeGreaterThanOrEqual(220)
    expect(counts.details).toEqual([])
  }, 600_000)

  it('fuel and stackDepth 1000: 0 mismatches except exhaustion depths', () => {
    const counts = runSpecSuite({ fuel: 'unlimited', stackDepth: 1000 }, cacheDir)
    report('fuel + stackDepth', counts)
    expect(counts.mismatches).toBe(0)
    expect(counts.transformErrors).toBe(0)
  }, 600_000)
})
