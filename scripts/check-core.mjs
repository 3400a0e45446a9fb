// Fails when core/ reaches for a runtime: Node built-ins, worker_threads, or DOM globals.
// The type check (core/tsconfig.json: lib ES2022, no @types) catches most of this; this
// catches what types cannot, such as a bare `import 'fs'` resolved at run time.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const FORBIDDEN = [
  [/from\s+['"](node:[^'"]+|fs|path|os|url|crypto|worker_threads|child_process)['"]/, 'imports a Node built-in'],
  [/require\(\s*['"]/, 'uses require()'],
  [/\b(document|window|navigator|localStorage|self)\s*\./, 'uses a DOM global'],
  [/\bprocess\.(env|argv|exit|cwd)/, 'uses process'],
]
const problems = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (path.endsWith('.ts')) {
      readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
        if (/^\s*(\/\/|\/?\*)/.test(line)) return
        for (const [pattern, what] of FORBIDDEN) if (pattern.test(line)) problems.push(`${path}:${i + 1}: ${what}: ${line.trim()}`)
      })
    }
  }
}
walk(new URL('../core', import.meta.url).pathname)
if (problems.length) {
  console.error(`core/ must stay runtime-agnostic:\n${problems.join('\n')}`)
  process.exit(1)
}
console.log('core/ is runtime-agnostic')
