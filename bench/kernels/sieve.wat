;; Sieve of Eratosthenes over [0, 2^20), one byte per number, repeated n times.
;; Each repetition clears the table with memory.fill (a bulk op: dynamically charged).
;; run(n) = n * (number of primes below 2^20) = n * 82025.
(module
  (memory (export "memory") 17)
  (func (export "run") (param $reps i32) (result i32)
    (local $r i32) (local $i i32) (local $j i32) (local $count i32)
    (block $done
      (loop $rep
        (br_if $done (i32.ge_u (local.get $r) (local.get $reps)))
        (memory.fill (i32.const 0) (i32.const 0) (i32.const 1048576))
        ;; mark composites
        (local.set $i (i32.const 2))
        (block $marked
          (loop $outer
            (br_if $marked (i32.ge_u (i32.mul (local.get $i) (local.get $i)) (i32.const 1048576)))
            (if (i32.eqz (i32.load8_u (local.get $i)))
              (then
                (local.set $j (i32.mul (local.get $i) (local.get $i)))
                (loop $inner
                  (i32.store8 (local.get $j) (i32.const 1))
                  (local.set $j (i32.add (local.get $j) (local.get $i)))
                  (br_if $inner (i32.lt_u (local.get $j) (i32.const 1048576))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $outer)))
        ;; count primes
        (local.set $i (i32.const 2))
        (loop $cnt
          (local.set $count (i32.add (local.get $count) (i32.eqz (i32.load8_u (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $cnt (i32.lt_u (local.get $i) (i32.const 1048576))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rep)))
    (local.get $count)))
