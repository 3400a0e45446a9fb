import { expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'
import { expectDenied, expectNoDenials, testPolicy } from 'wasm-sandbox/testing'

const ESCAPE = `(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "../secret")
  (data (i32.const 120) "notes.txt")
  (func (export "_start")
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 120) (i32.const 9) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 9) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))))`

it('testPolicy builds preopens from a files map; expectDenied finds the denial or says what it saw', async () => {
  const options = testPolicy({ files: { '/data/notes.txt': 'hi', '/etc/conf': 'x' }, readonly: ['/etc'] }, { fuel: 1e6 })
  expect(options).toMatchObject({ fuel: 1e6, wasi: { preopens: { '/data': { files: { 'notes.txt': 'hi' }, readonly: false }, '/etc': { readonly: true } } } })
  const sb = await Sandbox.create(ESCAPE, options)
  await sb.runCommand()
  expect(expectDenied(sb, { capability: 'filesystem', operation: 'path_open', path: '../secret' }).detail).toContain('leaves')
  expect(() => expectDenied(sb, { capability: 'network' })).toThrow(/filesystem path_open \.\.\/secret/)
  expect(() => expectNoDenials(sb)).toThrow(/expected no denials/)
  await sb.close()
  expect(() => testPolicy({ files: { 'relative.txt': 'x' } })).toThrow(/absolute path/)
})
