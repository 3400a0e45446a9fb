/**
 * Real-world modules through the meter: sql.js (SQLite compiled by Emscripten) runs the same
 * SQL metered and unmetered with identical results and identical fuel across fresh
 * instances; esbuild's 14 MB Go-compiled wasm meters into a valid module.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { meter, type MeterControl, type MeterOptions } from 'wasm-sandbox/core'
import { MAX_FUEL, prng, REPO_ROOT } from './helpers.js'

const require = createRequire(import.meta.url)
const SQL_JS = join(REPO_ROOT, 'node_modules/sql.js/dist/sql-wasm.js')
const SQL_WASM = readFileSync(join(REPO_ROOT, 'node_modules/sql.js/dist/sql-wasm.wasm'))

interface SqlDatabase {
  exec(sql: string): { columns: string[]; values: unknown[][] }[]
  prepare(sql: string): { run(params: unknown[]): void; free(): void }
  close(): void
}
interface SqlStatic { Database: new () => SqlDatabase }

/** A fresh sql.js (its loader caches the module, so it is re-required each time). */
async function loadSqlJs(bytes: Uint8Array, metered: ReturnType<typeof meter> | null): Promise<{ SQL: SqlStatic; ctl: MeterControl | null }> {
  delete require.cache[require.resolve(SQL_JS)]
  const initSqlJs = require(SQL_JS) as (config: object) => Promise<SqlStatic>
  let ctl: MeterControl | null = null
  const SQL = await initSqlJs({
    instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) {
      WebAssembly.instantiate(bytes, { ...imports, ...(metered?.imports ?? {}) }).then(({ instance }) => {
        if (metered) ctl = metered.fuel(instance)
        done(instance)
      })
      return {}
    },
  })
  return { SQL, ctl }
}

/** sql.js names its database file with Math.random: pin it so every run is the same. */
function newDatabase(SQL: SqlStatic): SqlDatabase {
  const random = Math.random
  Math.random = prng(1)
  try { return new SQL.Database() } finally { Math.random = random }
}

type Step = { name: string; run: (db: SqlDatabase) => unknown }

const STEPS: Step[] = [
  { name: 'create', run: (db) => db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, v REAL, k INTEGER); CREATE INDEX t_k ON t (k)') },
  {
    name: 'insert 1000 rows',
    run: (db) => {
      const stmt = db.prepare('INSERT INTO t (name, v, k) VALUES (?, ?, ?)')
      db.exec('BEGIN')
      for (let i = 0; i < 1000; i++) stmt.run([`name-${(i * 7919) % 1000}`, i * 1.25 - 300, (i * i) % 37])
      db.exec('COMMIT')
      stmt.free()
      return db.exec('SELECT count(*) FROM t')
    },
  },
  {
    name: 'aggregates',
    run: (db) => db.exec(`SELECT k % 5 AS g, count(*), sum(v), avg(k), min(name), max(name), total(id * v)
      FROM t GROUP BY g HAVING count(*) > 10 ORDER BY g`),
  },
  {
    name: 'recursive CTE',
    run: (db) => db.exec(`WITH RECURSIVE fib(n, a, b) AS (SELECT 0, 0, 1 UNION ALL SELECT n + 1, b, (a + b) % 1000000007 FROM fib WHERE n < 3000)
      SELECT count(*), max(a), sum(a % 1000) FROM fib`),
  },
  {
    name: 'join, subquery and string functions',
    run: (db) => db.exec(`SELECT a.k, upper(substr(a.name, 1, 6)) || '-' || length(b.name), count(*)
      FROM t a JOIN t b ON a.k = b.k AND b.id = a.id + 37
      WHERE a.v > (SELECT avg(v) FROM t) GROUP BY a.k ORDER BY 3 DESC, 1 LIMIT 10`),
  },
  { name: 'update and delete', run: (db) => { db.exec('UPDATE t SET v = v * 2 WHERE k < 10; DELETE FROM t WHERE id % 3 = 0'); return db.exec('SELECT count(*), sum(v) FROM t') } },
  {
    name: 'an error',
    run: (db) => {
      try { db.exec('SELECT * FROM no_such_table') } catch (e) { return `error: ${(e as Error).message}` }
      return 'no error'
    },
  },
]

interface SqlRun { results: unknown[]; used: bigint[] }

async function runSql(bytes: Uint8Array, metered: ReturnType<typeof meter> | null): Promise<SqlRun> {
  const { SQL, ctl } = await loadSqlJs(bytes, metered)
  const db = newDatabase(SQL)
  const results: unknown[] = [], used: bigint[] = []
  for (const step of STEPS) {
    ctl?.set(MAX_FUEL)
    results.push(step.run(db))
    if (ctl) {
      expect(ctl.exhausted(), step.name).toBe(false)
      used.push(ctl.used())
    }
  }
  db.close()
  return { results, used }
}

describe('sql.js (SQLite, Emscripten)', () => {
  const variants: Record<string, MeterOptions> = {
    fuel: { fuel: 'unlimited' },
    limits: { fuel: 'unlimited', stackDepth: 5000, memory: 256 * 2 ** 20, tableElements: 100_000 },
  }

  it('metered SQL gives the same results as unmetered, and the same fuel on fresh instances', async () => {
    expect(WebAssembly.validate(SQL_WASM)).toBe(true)
    const reference = await runSql(SQL_WASM, null)
    // sanity: the reference did real work
    expect(reference.results[1]).toEqual([{ columns: ['count(*)'], values: [[1000]] }])
    expect(String(reference.results[6])).toMatch(/no such table/)
    const usedBy: Record<string, bigint[]> = {}
    for (const [name, options] of Object.entries(variants)) {
      const m = meter(SQL_WASM, options)
      expect(WebAssembly.validate(m.bytes), name).toBe(true)
      const first = await runSql(m.bytes, m)
      expect(first.results, name).toEqual(reference.results)
      const second = await runSql(m.bytes, m)
      expect(second.results, name).toEqual(reference.results)
      expect(second.used, name).toEqual(first.used)
      for (const u of first.used) expect(u).toBeGreaterThan(0n)
      usedBy[name] = first.used
    }
    // the inserts and the CTE are the heavy steps
    expect(usedBy.fuel![1]!).toBeGreaterThan(1_000_000n)
    expect(usedBy.fuel![3]!).toBeGreaterThan(100_000n)
    // fuel does not depend on which limits are on
    expect(usedBy.limits).toEqual(usedBy.fuel)
  }, 120_000)

  it('a small budget stops a heavy query, and the trap is the meter\'s', async () => {
    const m = meter(SQL_WASM, { fuel: 'unlimited' })
    const { SQL, ctl } = await loadSqlJs(m.bytes, m)
    const db = newDatabase(SQL)
    ctl!.set(50_000n)
    let caught: unknown
    try { STEPS[3]!.run(db) } catch (e) { caught = e }
    expect(caught).toBeInstanceOf(WebAssembly.RuntimeError)
    expect((caught as Error).message).toBe('unreachable')
    expect(ctl!.exhausted()).toBe(true)
    expect(ctl!.used()).toBe(50_000n)
  }, 60_000)
})

describe('esbuild-wasm (Go, 14 MB)', () => {
  it('meters into a valid module, deterministically', () => {
    const bytes = readFileSync(join(REPO_ROOT, 'node_modules/esbuild-wasm/esbuild.wasm'))
    expect(bytes.length).toBeGreaterThan(10_000_000)
    const a = meter(bytes, { fuel: 'unlimited', stackDepth: 10_000, memory: 2 ** 30 })
    expect(a.bytes.length).toBeGreaterThan(bytes.length)
    expect(WebAssembly.validate(a.bytes)).toBe(true)
    expect(a.info.exports.length).toBeGreaterThan(0)
    const b = meter(bytes, { fuel: 'unlimited', stackDepth: 10_000, memory: 2 ** 30 })
    expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true)
    const plain = meter(bytes, { fuel: 'unlimited' })
    expect(WebAssembly.validate(plain.bytes)).toBe(true)
  }, 120_000)
})
