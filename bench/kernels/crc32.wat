;; CRC-32 (IEEE, reflected, the zlib one) with a 256-entry table at address 0, over a
;; 64 KiB buffer of xorshift bytes at 1024, n passes chained: run(n) equals zlib's crc32 of
;; the buffer repeated n times (the harness checks this against node:zlib for small n).
(module
  (memory (export "memory") 2)
  (func (export "run") (param $reps i32) (result i32)
    (local $i i32) (local $k i32) (local $c i32) (local $x i32) (local $r i32) (local $p i32)
    ;; table
    (loop $tab
      (local.set $c (local.get $i))
      (local.set $k (i32.const 0))
      (loop $bits
        (local.set $c
          (if (result i32) (i32.and (local.get $c) (i32.const 1))
            (then (i32.xor (i32.const 0xedb88320) (i32.shr_u (local.get $c) (i32.const 1))))
            (else (i32.shr_u (local.get $c) (i32.const 1)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $bits (i32.lt_u (local.get $k) (i32.const 8))))
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $c))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $tab (i32.lt_u (local.get $i) (i32.const 256))))
    ;; buffer
    (local.set $x (i32.const 123456789))
    (local.set $i (i32.const 1024))
    (loop $fill
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (i32.store (local.get $i) (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 66560))))
    ;; crc, chained across passes
    (local.set $c (i32.const -1))
    (block $done
      (loop $rep
        (br_if $done (i32.ge_u (local.get $r) (local.get $reps)))
        (local.set $p (i32.const 1024))
        (loop $bytes
          (local.set $c
            (i32.xor
              (i32.load (i32.shl (i32.and (i32.xor (local.get $c) (i32.load8_u (local.get $p))) (i32.const 255)) (i32.const 2)))
              (i32.shr_u (local.get $c) (i32.const 8))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $bytes (i32.lt_u (local.get $p) (i32.const 66560))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rep)))
    (i32.xor (local.get $c) (i32.const -1))))
