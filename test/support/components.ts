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

/** A component with one core module: `core` is the module's text, `lifts` the component-level exports. */
export function coreComponent(core: string, lifts: string): Promise<Uint8Array> {
  return componentFromText(`(component (core module $m ${core}) (core instance $i (instantiate $m)) ${lifts})`)
}
