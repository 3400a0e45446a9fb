;; Quicksort (Hoare partition, middle pivot, recursion on the left part and a loop on the
;; right) of n pseudo-random i32s (xorshift32) at address 0. Grows memory as needed
;; (memory.grow: dynamically charged). run(n) checks the result is sorted (returns -1 if
;; not) and returns a position-weighted checksum of the sorted array.
(module
  (memory (export "memory") 1)
  (func $qsort (param $lo i32) (param $hi i32)
    (local $i i32) (local $j i32) (local $p i32) (local $t i32)
    (loop $tail
      (if (i32.ge_s (local.get $lo) (local.get $hi)) (then (return)))
      (local.set $p (i32.load (i32.shl (i32.shr_u (i32.add (local.get $lo) (local.get $hi)) (i32.const 1)) (i32.const 2))))
      (local.set $i (i32.sub (local.get $lo) (i32.const 1)))
      (local.set $j (i32.add (local.get $hi) (i32.const 1)))
      (block $split
        (loop $part
          (loop $scan_i
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $scan_i (i32.lt_s (i32.load (i32.shl (local.get $i) (i32.const 2))) (local.get $p))))
          (loop $scan_j
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br_if $scan_j (i32.gt_s (i32.load (i32.shl (local.get $j) (i32.const 2))) (local.get $p))))
          (br_if $split (i32.ge_s (local.get $i) (local.get $j)))
          (local.set $t (i32.load (i32.shl (local.get $i) (i32.const 2))))
          (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.load (i32.shl (local.get $j) (i32.const 2))))
          (i32.store (i32.shl (local.get $j) (i32.const 2)) (local.get $t))
          (br $part)))
      (call $qsort (local.get $lo) (local.get $j))
      (local.set $lo (i32.add (local.get $j) (i32.const 1)))
      (br $tail)))
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $x i32) (local $need i32) (local $sum i32)
    ;; make room for n i32s
    (local.set $need (i32.shr_u (i32.add (i32.shl (local.get $n) (i32.const 2)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (unreachable)))))
    ;; fill with xorshift32
    (local.set $x (i32.const 2463534242))
    (local.set $i (i32.const 0))
    (loop $fill
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (local.get $n))))
    (call $qsort (i32.const 0) (i32.sub (local.get $n) (i32.const 1)))
    ;; verify and checksum
    (local.set $i (i32.const 1))
    (local.set $sum (i32.load (i32.const 0)))
    (block $ok
      (loop $check
        (br_if $ok (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.gt_s (i32.load (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 2)))
                      (i32.load (i32.shl (local.get $i) (i32.const 2))))
          (then (return (i32.const -1))))
        (local.set $sum (i32.add (i32.mul (local.get $sum) (i32.const 31))
                                 (i32.load (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $check)))
    (i32.and (local.get $sum) (i32.const 0x7fffffff))))
