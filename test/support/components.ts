/**
 * Components for the tests, made in-process by tools nobody here wrote:
 * - component text assembled with jco-transpile's wasm-tools (`parse`);
 * - JavaScript components built by componentize-qjs (QuickJS) from a WIT world;
 * - WASI commands: the C fixtures (clang, wasi-libc) adapted to `wasi:cli/run` components
 *   with wasm-tools' `componentNew` and the preview1 command adapter jco ships.
 * Built components are cached in os.tmpdir() under a hash of their inputs.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools'
import { buildFixtures } from '../wasi/build.js'

const CACHE = join(tmpdir(), 'wasm-sandbox-components')

async function cached(key: string, make: () => Promise<Uint8Array>): Promise<Uint8Array> {
  const file = join(CACHE, `${createHash('sha256').update(key).digest('hex').slice(0, 24)}.wasm`)
  try {
    return new Uint8Array(await readFile(file))
  } catch {
    const bytes = await make()
    await mkdir(CACHE, { recursive: true })
    await writeFile(`${file}.${process.pid}`, bytes)
    await rename(`${file}.${process.pid}`, file)
    return bytes
  }
}

/** Component text -> binary. */
export function componentFromText(text: string): Promise<Uint8Array> {
  return parse(text)
}

/** A JavaScript component: `wit` is the world, `js` its exports (componentize-qjs, sync ABI). */
export function qjsComponent(wit: string, js: string): Promise<Uint8Array> {
  return cached(`qjs\0${wit}\0${js}`, async () => {
    const { componentize } = await import('componentize-qjs')
    const dir = join(CACHE, `wit-${createHash('sha256').update(wit).digest('hex').slice(0, 16)}`)
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'world.wit'), wit)
    const { component } = await componentize({ witPath: join(dir, 'world.wit'), jsSource: js, sync: true })
    return new Uint8Array(component)
  })
}

const ADAPTER = fileURLToPath(new URL('../../node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.command.wasm', import.meta.url))

/** A C fixture (test/fixtures/c/<name>.c) as a `wasi:cli/run` component. */
export async function commandComponent(name: string): Promise<Uint8Array> {
  const fixtures = await buildFixtures()
  const module = await readFile(fixtures[name]!)
  const adapter = await readFile(ADAPTER)
  return cached(`command\0${createHash('sha256').update(module).update(adapter).digest('hex')}`, () =>
    componentNew(new Uint8Array(module), [['wasi_snapshot_preview1', new Uint8Array(adapter)]]))
}

/**
 * A JavaScript component built by componentize-js (StarlingMonkey, the engine behind
 * `jco componentize`): a `command` exports `wasi:cli/run` (and may use fetch), an
 * `http-handler` exports `wasi:http/incoming-handler` (a `fetch` event listener). ~15 s the
 * first time; cached after.
 */
export function starlingComponent(js: string, world: 'command' | 'http-handler'): Promise<Uint8Array> {
  return cached(`starling\0${world}\0${js}`, async () => {
    // componentize-js reads its inputs through the Node preview2 shim, whose preopens are
    // empty by default since 0.26: give it the file system it expects.
    const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem') as unknown as { _setPreopens(p: Record<string, string>): void }
    _setPreopens({ '/': '/' })
    const dir = join(CACHE, `starling-wit-${world}-${createHash('sha256').update(js).digest('hex').slice(0, 16)}`)
    await mkdir(join(dir, 'deps'), { recursive: true })
    const builtin = (version: string) => fileURLToPath(new URL(`../../node_modules/@bytecodealliance/jco/lib/wit/builtin/${version}/`, import.meta.url))
    // StarlingMonkey implements wasi:http 0.2.10; jco ships complete WIT for 0.2.12 only, so for a
    // handler the 0.2.12 packages are relabelled 0.2.10 (same interfaces) without their worlds,
    // next to the 0.2.10 packages jco does ship.
    const version = world === 'command' ? '0.2.12' : '0.2.10'
    for (const pkg of ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets']) {
      const shipped = world === 'http-handler' && ['clocks', 'io', 'sockets'].includes(pkg)
      let text = await readFile(join(builtin(shipped ? '0.2.10' : '0.2.12'), `wasi-${pkg}`, 'package.wit'), 'utf8')
      if (world === 'http-handler' && !shipped) text = withoutWorlds(text.replaceAll('@0.2.12', '@0.2.10'))
      await mkdir(join(dir, 'deps', `wasi-${pkg}`), { recursive: true })
      await writeFile(join(dir, 'deps', `wasi-${pkg}`, 'package.wit'), text)
    }
    const exported = world === 'command' ? `wasi:cli/run@${version}` : `wasi:http/incoming-handler@${version}`
    await writeFile(join(dir, 'world.wit'), `package test:component;\nworld component {\n  export ${exported};\n}\n`)
    const { componentize } = await import('@bytecodealliance/componentize-js')
    const { component } = await componentize(js, { witPath: dir, worldName: 'component' })
    return new Uint8Array(component)
  })
}

/** WIT text without its `world { ... }` blocks (interfaces only). */
function withoutWorlds(text: string): string {
  let out = ''
  let at = 0
  for (const match of text.matchAll(/(?:^|\n)\s*world\s+[\w-]+\s*\{/g)) {
    if (match.index! < at) continue
    out += text.slice(at, match.index)
    let depth = 0
    let i = text.indexOf('{', match.index)
    for (; i < text.length; i++) {
      if (text[i] === '{') depth++
      else if (text[i] === '}' && --depth === 0) break
    }
    at = i + 1
  }
  return out + text.slice(at)
}

/** A component with one core module: `core` is the module's text, `lifts` the component-level exports. */
export function coreComponent(core: string, lifts: string): Promise<Uint8Array> {
  return componentFromText(`(component (core module $m ${core}) (core instance $i (instantiate $m)) ${lifts})`)
}

/** Core functions `add` and `sum-to` (a loop), for `coreComponent` with {@link SUM_LIFTS} or as a module. */
export const SUM_CORE = `
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "sum-to") (param $n i32) (result i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $s))`
/** The component exports lifting {@link SUM_CORE}'s functions. */
export const SUM_LIFTS = `
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (func (export "sum-to") (param "n" u32) (result u32) (canon lift (core func $i "sum-to")))`
