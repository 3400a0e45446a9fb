;; Dense f64 matrix multiply, 64x64, in linear memory: C = A * B, repeated n times.
;; A at 0, B at 32768, C at 65536 (row-major, 8 bytes per element).
;; run(n) returns the bit pattern of the sum of every C element of every repetition
;; (deterministic: wasm f64 arithmetic is IEEE with no fused multiply-add).
(module
  (memory (export "memory") 2)
  (func (export "run") (param $reps i32) (result i64)
    (local $i i32) (local $j i32) (local $k i32) (local $r i32)
    (local $pa i32) (local $pb i32) (local $acc f64) (local $total f64)
    ;; A[i] = ((i*7+3) mod 101)/50 - 1, B[i] = ((i*13+5) mod 97)/48 - 1
    (local.set $i (i32.const 0))
    (loop $init
      (f64.store (i32.shl (local.get $i) (i32.const 3))
        (f64.sub
          (f64.div (f64.convert_i32_u (i32.rem_u (i32.add (i32.mul (local.get $i) (i32.const 7)) (i32.const 3)) (i32.const 101)))
                   (f64.const 50))
          (f64.const 1)))
      (f64.store offset=32768 (i32.shl (local.get $i) (i32.const 3))
        (f64.sub
          (f64.div (f64.convert_i32_u (i32.rem_u (i32.add (i32.mul (local.get $i) (i32.const 13)) (i32.const 5)) (i32.const 97)))
                   (f64.const 48))
          (f64.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $init (i32.lt_u (local.get $i) (i32.const 4096))))
    (local.set $total (f64.const 0))
    (local.set $r (i32.const 0))
    (block $done
      (loop $rep
        (br_if $done (i32.ge_u (local.get $r) (local.get $reps)))
        (local.set $i (i32.const 0))
        (loop $rows
          (local.set $j (i32.const 0))
          (loop $cols
            (local.set $acc (f64.const 0))
            (local.set $pa (i32.shl (local.get $i) (i32.const 9)))              ;; &A[i][0]
            (local.set $pb (i32.add (i32.const 32768) (i32.shl (local.get $j) (i32.const 3)))) ;; &B[0][j]
            (local.set $k (i32.const 0))
            (loop $dot
              (local.set $acc
                (f64.add (local.get $acc)
                  (f64.mul (f64.load (local.get $pa)) (f64.load (local.get $pb)))))
              (local.set $pa (i32.add (local.get $pa) (i32.const 8)))
              (local.set $pb (i32.add (local.get $pb) (i32.const 512)))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $dot (i32.lt_u (local.get $k) (i32.const 64))))
            (f64.store offset=65536
              (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 6)) (local.get $j)) (i32.const 3))
              (local.get $acc))
            (local.set $total (f64.add (local.get $total) (local.get $acc)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $cols (i32.lt_u (local.get $j) (i32.const 64))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $rows (i32.lt_u (local.get $i) (i32.const 64))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rep)))
    (i64.reinterpret_f64 (local.get $total))))
