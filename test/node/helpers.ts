import { expect } from 'vitest'
import { SandboxError } from 'wasm-sandbox'

/** Awaits a promise that must reject with a SandboxError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<SandboxError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(SandboxError)
    expect((error as SandboxError).code, (error as Error).message).toBe(code)
    return error as SandboxError
  }
  throw new Error(`expected a SandboxError ${code}, but it resolved`)
}

/** A small module exercising the numeric ABI. */
export const ARITH_WAT = `(module
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 0))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "mulf32") (param f32 f32) (result f32) (f32.mul (local.get 0) (local.get 1)))
  (func (export "divf64") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
  (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "count") (result i32) (global.set $counter (i32.add (global.get $counter) (i32.const 1))) (global.get $counter))
  (func (export "boom") (unreachable))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "spin") (loop $l (br $l)))
  (func $rec (export "recurse") (param i32) (result i32) (i32.add (i32.const 1) (call $rec (local.get 0))))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "growForever") (result i32)
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    ;; then touch memory far past the end: traps after a denied grow
    (i32.load (i32.const 0x7ffffff0)))
  (table $t 1 funcref)
  (func (export "tableGrowForever") (result i32)
    (loop $l (br_if $l (i32.ne (table.grow $t (ref.null func) (i32.const 1000)) (i32.const -1))))
    (call_indirect (result i32) (i32.const 99999)))
)`
