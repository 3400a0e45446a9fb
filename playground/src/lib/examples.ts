/** The gallery: each example is a module in text form plus the policy and call that show it off. */
import type { PolicyForm } from './policy-form.js'

export type CallMode = 'call' | 'json' | 'bytes' | 'command'

export interface Example {
  id: string
  title: string
  /** One line on what it shows. */
  blurb: string
  text: string
  policy: Partial<PolicyForm>
  mode: CallMode
  fn: string
  /** Arguments as typed into the fields (or the JSON / bytes input, or stdin for a command). */
  args: string[]
}

const ADD_FIB = `(module
  ;; add(a, b) and an iterative fib(n): try fib 40, then lower the fuel.
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))
  (func $fib (export "fib") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a)))
`

const LOOP = `(module
  ;; Never returns: the fuel budget stops it deterministically (FUEL_EXHAUSTED).
  ;; Set fuel to 'unlimited' to see the wall-clock timeout kill the worker instead (TIMEOUT).
  (func (export "spin")
    (loop $forever (br $forever))))
`

const MEMORY_BOMB = `(module
  ;; Grows memory by 1 MiB until the engine says no, then touches the last byte.
  ;; The memory limit turns the refusal into MEMORY_LIMIT with the amount asked for.
  (memory (export "memory") 1)
  (func (export "bomb") (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (i32.load (i32.const 0x7ffffff0))))
`

const HELLO_STDIN = `(module
  ;; A WASI command: reads stdin and prints "hello, <stdin>".
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "hello, ")
  (func (export "_start")
    ;; read up to 900 bytes of stdin to 71, right after "hello, "
    (i32.store (i32.const 0) (i32.const 71))
    (i32.store (i32.const 4) (i32.const 900))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; write "hello, " + what was read
    (i32.store (i32.const 16) (i32.const 64))
    (i32.store (i32.const 20) (i32.add (i32.const 7) (i32.load (i32.const 8))))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
`

const READ_FILE = `(module
  ;; A WASI command: opens notes.txt in the preopened /data and prints it; then tries
  ;; ../secret, which the policy denies (see the audit log).
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "notes.txt")
  (data (i32.const 120) "../secret")
  (func (export "_start") (local $fd i32)
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 9) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))
    (local.set $fd (i32.load (i32.const 200)))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4000))
    (drop (call $read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12)))
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 120) (i32.const 9) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200)))))
`

const JSON_UPPER = `(module
  ;; The bytes ABI: alloc(len) -> ptr, and upper(ptr, len) -> (ptr << 32) | len.
  ;; upper turns ASCII letters to capitals in place: JSON in, JSON out.
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (local.get $p))
  (func (export "upper") (param $ptr i32) (param $len i32) (result i64) (local $i i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len)))))
`

const COMPONENT = `(component
  ;; A WebAssembly component: greet takes and returns a WIT string (canonical ABI, UTF-8).
  (core module $m
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
      ;; a bump allocator that starts over when the page is nearly used up
      (if (i32.gt_u (global.get $bump) (i32.const 60000)) (then (global.set $bump (i32.const 1024))))
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (data (i32.const 16) "hello, ")
    (func (export "greet") (param $ptr i32) (param $len i32) (result i32) (local $out i32)
      (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $len) (i32.const 7))))
      (memory.copy (local.get $out) (i32.const 16) (i32.const 7))
      (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $ptr) (local.get $len))
      (i32.store (i32.const 8) (local.get $out))
      (i32.store (i32.const 12) (i32.add (local.get $len) (i32.const 7)))
      (i32.const 8)))
  (core instance $i (instantiate $m))
  (func (export "greet") (param "name" string) (result string)
    (canon lift (core func $i "greet") (memory (core memory $i "memory")) (realloc (core func $i "cabi_realloc")))))
`

export const EXAMPLES: Example[] = [
  { id: 'add-fib', title: 'add and fib', blurb: 'Numbers in, numbers out (i64 as bigint); fuel grows with n.', text: ADD_FIB, policy: { fuel: '1000000' }, mode: 'call', fn: 'fib', args: ['40'] },
  { id: 'infinite-loop', title: 'Infinite loop', blurb: 'Stopped by fuel (FUEL_EXHAUSTED) or, with unlimited fuel, by the timeout.', text: LOOP, policy: { fuel: '1000000', timeout: '2s' }, mode: 'call', fn: 'spin', args: [] },
  { id: 'memory-bomb', title: 'Memory bomb', blurb: 'Grows memory until the limit refuses: MEMORY_LIMIT.', text: MEMORY_BOMB, policy: { memory: '16MB' }, mode: 'call', fn: 'bomb', args: [] },
  { id: 'wasi-hello', title: 'WASI hello (stdin)', blurb: 'A WASI command reading stdin.', text: HELLO_STDIN, policy: { wasi: true, stdin: 'playground' }, mode: 'command', fn: '_start', args: [] },
  { id: 'wasi-file', title: 'WASI file reader', blurb: 'Reads a file from a virtual directory; an escape attempt is denied and audited.', text: READ_FILE, policy: { wasi: true, files: [{ path: 'notes.txt', content: 'Notes from a virtual file.\n' }] }, mode: 'command', fn: '_start', args: [] },
  { id: 'json', title: 'Bytes / JSON function', blurb: 'JSON in and out over the bytes ABI (alloc + ptr/len).', text: JSON_UPPER, policy: {}, mode: 'json', fn: 'upper', args: ['{ "greeting": "hello", "to": ["wasm", "world"] }'] },
  { id: 'component', title: 'Component (WIT string)', blurb: 'A component: transpiled with jco, metered, called with a string.', text: COMPONENT, policy: {}, mode: 'call', fn: 'greet', args: ['playground'] },
]
