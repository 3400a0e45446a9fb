;; Recursive Fibonacci: call-heavy, tiny bodies. run(n) = fib(n).
;; Exercises: call/return, one `if` per call (two metered segments per call).
(module
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "run") (param $n i32) (result i32)
    (call $fib (local.get $n))))
