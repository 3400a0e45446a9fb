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
 * `jco componentize`): `js` exports `wasi:cli/run` and may use fetch (wasi:http). ~15 s the
 * first time; cached after.
 */
export function starlingCommand(js: string): Promise<Uint8Array> {
  return cached(`starling\0${js}`, async () => {
    // componentize-js reads its inputs through the Node preview2 shim, whose preopens are
    // empty by default since 0.26: give it the file system it expects.
    const { _setPreopens } = await import('@bytecodealliance/preview2-shim/filesystem') as unknown as { _setPreopens(p: Record<string, string>): void }
    _setPreopens({ '/': '/' })
    const dir = join(CACHE, `starling-wit-${createHash('sha256').update(js).digest('hex').slice(0, 16)}`)
    await mkdir(join(dir, 'deps'), { recursive: true })
    await writeFile(join(dir, 'world.wit'), 'package test:command;\nworld command {\n  export wasi:cli/run@0.2.12;\n}\n')
    const builtin = fileURLToPath(new URL('../../node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12/', import.meta.url))
    for (const pkg of ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets']) {
      await mkdir(join(dir, 'deps', `wasi-${pkg}`), { recursive: true })
      await writeFile(join(dir, 'deps', `wasi-${pkg}`, 'package.wit'), await readFile(join(builtin, `wasi-${pkg}`, 'package.wit')))
    }
    const { componentize } = await import('@bytecodealliance/componentize-js')
    const { component } = await componentize(js, { witPath: dir, worldName: 'command' })
    return new Uint8Array(component)
  })
}

/** A component with one core module: `core` is the module's text, `lifts` the component-level exports. */
export function coreComponent(core: string, lifts: string): Promise<Uint8Array> {
  return componentFromText(`(component (core module $m ${core}) (core instance $i (instantiate $m)) ${lifts})`)
}
