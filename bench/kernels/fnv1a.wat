;; FNV-1a (32-bit), byte at a time, over a 64 KiB buffer of xorshift bytes, n passes
;; chained (the hash of the buffer repeated n times). run(n) returns the hash.
;; The inner loop is ~10 instructions per byte: the worst case for per-iteration metering.
(module
  (memory (export "memory") 1)
  (func (export "run") (param $reps i32) (result i32)
    (local $i i32) (local $x i32) (local $h i32) (local $r i32)
    (local.set $x (i32.const 88172645))
    (loop $fill
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (i32.store (local.get $i) (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 65536))))
    (local.set $h (i32.const 0x811c9dc5))
    (block $done
      (loop $rep
        (br_if $done (i32.ge_u (local.get $r) (local.get $reps)))
        (local.set $i (i32.const 0))
        (loop $bytes
          (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $i)))
                                 (i32.const 0x01000193)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $bytes (i32.lt_u (local.get $i) (i32.const 65536))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rep)))
    (local.get $h)))
