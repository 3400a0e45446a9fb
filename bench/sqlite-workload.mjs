// A real program under the meter: SQLite (sql.js, Emscripten -O3) inserting 5,000 rows in a
// transaction, then a GROUP BY with ORDER BY and a self-join, unmetered vs exact vs
// metering: 'fast' (fuel: 'unlimited'), interleaved rounds, medians. Branch-dense C with
// many indirect calls: closer to what users run than the kernels.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const require = createRequire(import.meta.url)

async function loadSqlJs(root, bytes) {
  const glue = join(root, 'node_modules/sql.js/dist/sql-wasm.js')
  delete require.cache[require.resolve(glue)] // its loader keeps the first instance otherwise
  return require(glue)({
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(bytes, imports).then(({ instance }) => done(instance))
      return {}
    },
  })
}

function workload(SQL) {
  const db = new SQL.Database()
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL, k INTEGER); CREATE INDEX tk ON t (k)')
  const insert = db.prepare('INSERT INTO t (name, v, k) VALUES (?, ?, ?)')
  db.exec('BEGIN')
  for (let i = 0; i < 5000; i++) insert.run([`n${(i * 7919) % 5000}`, i * 1.5, (i * i) % 97])
  db.exec('COMMIT')
  insert.free()
  const result = db.exec('SELECT k, count(*), sum(v), max(name) FROM t GROUP BY k ORDER BY 3 DESC; SELECT count(*) FROM t a JOIN t b ON a.k = b.k WHERE a.id < 400')
  db.close()
  return JSON.stringify(result)
}

/** @returns { plainMs, exact, fast } (ratios to unmetered), or throws when the variants disagree. */
export async function benchSqlite({ root, meter, rounds, median }) {
  const wasm = new Uint8Array(readFileSync(join(root, 'node_modules/sql.js/dist/sql-wasm.wasm')))
  const variants = {
    plain: await loadSqlJs(root, wasm),
    exact: await loadSqlJs(root, meter(wasm, { fuel: 'unlimited' }).bytes),
    fast: await loadSqlJs(root, meter(wasm, { fuel: 'unlimited', metering: 'fast' }).bytes),
  }
  const names = Object.keys(variants)
  const answers = new Set(names.map((n) => workload(variants[n]))) // also the warm-up
  if (answers.size !== 1) throw new Error('sql.js: metered and unmetered answers differ')
  const times = Object.fromEntries(names.map((n) => [n, []]))
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < names.length; j++) {
      const n = names[(r + j) % names.length]
      const t = performance.now()
      workload(variants[n])
      times[n].push(performance.now() - t)
    }
  }
  const plainMs = median(times.plain)
  return { plainMs, exactMs: median(times.exact), fastMs: median(times.fast), exact: median(times.exact) / plainMs, fast: median(times.fast) / plainMs }
}
