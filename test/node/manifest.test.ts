import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import wabtInit from 'wabt'
import { rejectsWith } from './helpers.js'

const WAT = `(module
  (func (export "thumbnail") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "internal") (result i32) (i32.const 7))
  (func (export "spin") (loop $l (br $l))))`

describe('plugin manifests', () => {
  let dir: string
  let path: string
  let sha256: string
  beforeAll(async () => {
    const wabt = await wabtInit()
    const bytes = wabt.parseWat('p.wat', WAT).toBinary({}).buffer
    dir = await mkdtemp(join(tmpdir(), 'manifest-'))
    path = join(dir, 'plugin.wasm')
    await writeFile(path, bytes)
    sha256 = createHash('sha256').update(bytes).digest('hex')
  })
  afterAll(() => rm(dir, { recursive: true }))

  const manifest = () => ({
    id: 'acme.thumbnailer', name: 'Thumbnailer', version: '1.2.0', description: 'Makes thumbnails',
    module: { path, sha256 }, permissions: { fuel: 1e5, memory: '16MB' }, entryPoints: ['thumbnail', 'spin'],
  })

  it('runs a verified module with its permissions, exposing only its entry points', async () => {
    const sb = await Sandbox.fromManifest(JSON.stringify(manifest()))
    expect(await sb.call('thumbnail', 21)).toBe(42)
    expect(sb.exports().map((e) => e.name)).toEqual(['thumbnail', 'spin'])
    await rejectsWith(sb.call('internal'), 'NO_SUCH_EXPORT')
    expect((await rejectsWith(sb.call('spin'), 'FUEL_EXHAUSTED')).limit).toBe(100_000n)
    await sb.close()
  })

  it('refuses a module whose digest does not match, before running it', async () => {
    const error = await rejectsWith(Sandbox.fromManifest({ ...manifest(), module: { path, sha256: '0'.repeat(64) } }), 'SECURITY_VIOLATION')
    expect(error.message).toContain(sha256)
  })

  it('explains what is wrong with a bad manifest', async () => {
    const field = async (m: unknown) => (await rejectsWith(Sandbox.fromManifest(m as never), 'CONFIG')).field
    expect(await field('{ not json')).toBe('manifest')
    expect(await field({ ...manifest(), version: 'one' })).toBe('manifest.version')
    expect(await field({ ...manifest(), id: '' })).toBe('manifest.id')
    expect(await field({ ...manifest(), module: { path, sha256: 'abc' } })).toBe('manifest.module.sha256')
    expect(await field({ ...manifest(), module: { sha256 } })).toBe('manifest.module')
    expect(await field({ ...manifest(), permissions: { imports: {} } })).toBe('manifest.permissions.imports')
    expect(await field({ ...manifest(), permissions: { memory: '64 mb' } })).toBe('memory')
    expect(await field({ ...manifest(), entryPoints: [] })).toBe('manifest.entryPoints')
    expect(await field({ ...manifest(), extra: 1 })).toBe('manifest.extra')
    await rejectsWith(Sandbox.fromManifest({ ...manifest(), entryPoints: ['nope'] }), 'LINK_ERROR')
  })
})
