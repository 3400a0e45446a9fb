// The shape of core/, checked: no import cycles between files (type imports count), the
// layering rule, and no file over the size limit. Run by `npm run check`.
//
// Layers, bottom up:
//   0: errors, text, audit          (plain data and helpers; they may import one another)
//   1: protocol, policy, meter      (wire shapes, options, the rewrite; each imports only layer 0)
//   2: everything else              (wasi, component, guest, sandbox, pool, ...)
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const MAX_LINES = 400
const LAYERS = { errors: 0, text: 0, audit: 0, protocol: 1, policy: 1, meter: 1 }
const core = new URL('../core', import.meta.url).pathname

const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (path.endsWith('.ts')) files.push(path)
  }
}
walk(core)

const problems = []
const graph = new Map()
for (const file of files) {
  const text = readFileSync(file, 'utf8')
  const lines = text.split('\n').length
  if (lines > MAX_LINES) problems.push(`${relative(core, file)}: ${lines} lines (limit ${MAX_LINES})`)
  const targets = []
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
    targets.push(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'))
  }
  graph.set(file, targets)
}

const area = (file) => relative(core, file).split('/')[0]
for (const [file, targets] of graph) {
  const from = area(file)
  const layer = LAYERS[from] ?? 2
  for (const target of targets) {
    const to = area(target)
    if (to !== from && layer < 2 && (LAYERS[to] ?? 2) >= 1) {
      problems.push(`${relative(core, file)} imports ${relative(core, target)}: ${from}/ (layer ${layer}) may import only layer 0 (errors, text, audit)`)
    }
  }
}

// Cycles: depth-first search, reporting each back edge's cycle once. Barrel files (index.ts)
// re-export their own directory and are left out, as nothing inside core imports them.
const state = new Map()
const stack = []
const seen = new Set()
const visit = (file) => {
  state.set(file, 'open')
  stack.push(file)
  for (const target of graph.get(file) ?? []) {
    if (target.endsWith('/index.ts') && dirname(target) !== core) continue
    if (state.get(target) === 'open') {
      const cycle = stack.slice(stack.indexOf(target)).map((f) => relative(core, f))
      const key = [...cycle].sort().join(' ')
      if (!seen.has(key)) { seen.add(key); problems.push(`import cycle: ${[...cycle, cycle[0]].join(' -> ')}`) }
    } else if (!state.has(target)) visit(target)
  }
  stack.pop()
  state.set(file, 'done')
}
for (const file of files) if (!state.has(file)) visit(file)

if (problems.length) {
  console.error(`core/ structure:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`core/ structure: ${files.length} files, no cycles, layers kept, none over ${MAX_LINES} lines`)
