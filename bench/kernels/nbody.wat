;; N-body (the Computer Language Benchmarks Game model: Sun + 4 Jovian planets), f64.
;; Bodies at 56-byte strides from address 0: x y z vx vy vz mass. run(n) resets the system,
;; advances it n steps of dt = 0.01 and returns the bit pattern of the final energy
;; (n = 1000 gives -0.169087605, the benchmark's reference value).
(module
  (memory (export "memory") 1)
  (global $PI f64 (f64.const 3.141592653589793))
  (global $SOLAR_MASS f64 (f64.const 39.47841760435743)) ;; 4 * PI^2
  (global $DPY f64 (f64.const 365.24))

  (func $body (param $b i32) (param $x f64) (param $y f64) (param $z f64)
              (param $vx f64) (param $vy f64) (param $vz f64) (param $m f64)
    (local $a i32)
    (local.set $a (i32.mul (local.get $b) (i32.const 56)))
    (f64.store offset=0 (local.get $a) (local.get $x))
    (f64.store offset=8 (local.get $a) (local.get $y))
    (f64.store offset=16 (local.get $a) (local.get $z))
    (f64.store offset=24 (local.get $a) (f64.mul (local.get $vx) (global.get $DPY)))
    (f64.store offset=32 (local.get $a) (f64.mul (local.get $vy) (global.get $DPY)))
    (f64.store offset=40 (local.get $a) (f64.mul (local.get $vz) (global.get $DPY)))
    (f64.store offset=48 (local.get $a) (f64.mul (local.get $m) (global.get $SOLAR_MASS))))

  (func $init
    (local $i i32) (local $a i32) (local $px f64) (local $py f64) (local $pz f64) (local $m f64)
    (call $body (i32.const 0) (f64.const 0) (f64.const 0) (f64.const 0)
                (f64.const 0) (f64.const 0) (f64.const 0) (f64.const 1))
    (call $body (i32.const 1)   ;; Jupiter
      (f64.const 4.84143144246472090e+00) (f64.const -1.16032004402742839e+00) (f64.const -1.03622044471123109e-01)
      (f64.const 1.66007664274403694e-03) (f64.const 7.69901118419740425e-03) (f64.const -6.90460016972063023e-05)
      (f64.const 9.54791938424326609e-04))
    (call $body (i32.const 2)   ;; Saturn
      (f64.const 8.34336671824457987e+00) (f64.const 4.12479856412430479e+00) (f64.const -4.03523417114321381e-01)
      (f64.const -2.76742510726862411e-03) (f64.const 4.99852801234917238e-03) (f64.const 2.30417297573763929e-05)
      (f64.const 2.85885980666130812e-04))
    (call $body (i32.const 3)   ;; Uranus
      (f64.const 1.28943695621391310e+01) (f64.const -1.51111514016986312e+01) (f64.const -2.23307578892655734e-01)
      (f64.const 2.96460137564761618e-03) (f64.const 2.37847173959480950e-03) (f64.const -2.96589568540237556e-05)
      (f64.const 4.36624404335156298e-05))
    (call $body (i32.const 4)   ;; Neptune
      (f64.const 1.53796971148509165e+01) (f64.const -2.59193146099879641e+01) (f64.const 1.79258772950371181e-01)
      (f64.const 2.68067772490389322e-03) (f64.const 1.62824170038242295e-03) (f64.const -9.51592254519715870e-05)
      (f64.const 5.15138902046611451e-05))
    ;; offset momentum: the Sun absorbs the system's momentum
    (loop $mom
      (local.set $a (i32.mul (local.get $i) (i32.const 56)))
      (local.set $m (f64.load offset=48 (local.get $a)))
      (local.set $px (f64.add (local.get $px) (f64.mul (f64.load offset=24 (local.get $a)) (local.get $m))))
      (local.set $py (f64.add (local.get $py) (f64.mul (f64.load offset=32 (local.get $a)) (local.get $m))))
      (local.set $pz (f64.add (local.get $pz) (f64.mul (f64.load offset=40 (local.get $a)) (local.get $m))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $mom (i32.lt_u (local.get $i) (i32.const 5))))
    (f64.store offset=24 (i32.const 0) (f64.div (f64.neg (local.get $px)) (global.get $SOLAR_MASS)))
    (f64.store offset=32 (i32.const 0) (f64.div (f64.neg (local.get $py)) (global.get $SOLAR_MASS)))
    (f64.store offset=40 (i32.const 0) (f64.div (f64.neg (local.get $pz)) (global.get $SOLAR_MASS))))

  (func $advance (param $dt f64)
    (local $a i32) (local $b i32)
    (local $dx f64) (local $dy f64) (local $dz f64) (local $d2 f64) (local $mag f64)
    (local $ma f64) (local $mb f64)
    (local.set $a (i32.const 0))
    (loop $outer
      (local.set $ma (f64.load offset=48 (local.get $a)))
      (local.set $b (i32.add (local.get $a) (i32.const 56)))
      (loop $inner
        (local.set $dx (f64.sub (f64.load offset=0 (local.get $a)) (f64.load offset=0 (local.get $b))))
        (local.set $dy (f64.sub (f64.load offset=8 (local.get $a)) (f64.load offset=8 (local.get $b))))
        (local.set $dz (f64.sub (f64.load offset=16 (local.get $a)) (f64.load offset=16 (local.get $b))))
        (local.set $d2 (f64.add (f64.add (f64.mul (local.get $dx) (local.get $dx))
                                         (f64.mul (local.get $dy) (local.get $dy)))
                                (f64.mul (local.get $dz) (local.get $dz))))
        (local.set $mag (f64.div (local.get $dt) (f64.mul (local.get $d2) (f64.sqrt (local.get $d2)))))
        (local.set $mb (f64.load offset=48 (local.get $b)))
        (f64.store offset=24 (local.get $a) (f64.sub (f64.load offset=24 (local.get $a)) (f64.mul (f64.mul (local.get $dx) (local.get $mb)) (local.get $mag))))
        (f64.store offset=32 (local.get $a) (f64.sub (f64.load offset=32 (local.get $a)) (f64.mul (f64.mul (local.get $dy) (local.get $mb)) (local.get $mag))))
        (f64.store offset=40 (local.get $a) (f64.sub (f64.load offset=40 (local.get $a)) (f64.mul (f64.mul (local.get $dz) (local.get $mb)) (local.get $mag))))
        (f64.store offset=24 (local.get $b) (f64.add (f64.load offset=24 (local.get $b)) (f64.mul (f64.mul (local.get $dx) (local.get $ma)) (local.get $mag))))
        (f64.store offset=32 (local.get $b) (f64.add (f64.load offset=32 (local.get $b)) (f64.mul (f64.mul (local.get $dy) (local.get $ma)) (local.get $mag))))
        (f64.store offset=40 (local.get $b) (f64.add (f64.load offset=40 (local.get $b)) (f64.mul (f64.mul (local.get $dz) (local.get $ma)) (local.get $mag))))
        (local.set $b (i32.add (local.get $b) (i32.const 56)))
        (br_if $inner (i32.lt_u (local.get $b) (i32.const 280))))
      (local.set $a (i32.add (local.get $a) (i32.const 56)))
      (br_if $outer (i32.lt_u (local.get $a) (i32.const 224))))   ;; a < 4 * 56
    (local.set $a (i32.const 0))
    (loop $move
      (f64.store offset=0 (local.get $a) (f64.add (f64.load offset=0 (local.get $a)) (f64.mul (local.get $dt) (f64.load offset=24 (local.get $a)))))
      (f64.store offset=8 (local.get $a) (f64.add (f64.load offset=8 (local.get $a)) (f64.mul (local.get $dt) (f64.load offset=32 (local.get $a)))))
      (f64.store offset=16 (local.get $a) (f64.add (f64.load offset=16 (local.get $a)) (f64.mul (local.get $dt) (f64.load offset=40 (local.get $a)))))
      (local.set $a (i32.add (local.get $a) (i32.const 56)))
      (br_if $move (i32.lt_u (local.get $a) (i32.const 280)))))

  (func $energy (result f64)
    (local $a i32) (local $b i32) (local $e f64) (local $ma f64)
    (local $dx f64) (local $dy f64) (local $dz f64) (local $vx f64) (local $vy f64) (local $vz f64)
    (loop $outer
      (local.set $ma (f64.load offset=48 (local.get $a)))
      (local.set $vx (f64.load offset=24 (local.get $a)))
      (local.set $vy (f64.load offset=32 (local.get $a)))
      (local.set $vz (f64.load offset=40 (local.get $a)))
      (local.set $e (f64.add (local.get $e)
        (f64.mul (f64.mul (f64.const 0.5) (local.get $ma))
          (f64.add (f64.add (f64.mul (local.get $vx) (local.get $vx)) (f64.mul (local.get $vy) (local.get $vy)))
                   (f64.mul (local.get $vz) (local.get $vz))))))
      (local.set $b (i32.add (local.get $a) (i32.const 56)))
      (block $last
        (loop $inner
          (br_if $last (i32.ge_u (local.get $b) (i32.const 280)))
          (local.set $dx (f64.sub (f64.load offset=0 (local.get $a)) (f64.load offset=0 (local.get $b))))
          (local.set $dy (f64.sub (f64.load offset=8 (local.get $a)) (f64.load offset=8 (local.get $b))))
          (local.set $dz (f64.sub (f64.load offset=16 (local.get $a)) (f64.load offset=16 (local.get $b))))
          (local.set $e (f64.sub (local.get $e)
            (f64.div (f64.mul (local.get $ma) (f64.load offset=48 (local.get $b)))
              (f64.sqrt (f64.add (f64.add (f64.mul (local.get $dx) (local.get $dx)) (f64.mul (local.get $dy) (local.get $dy)))
                                 (f64.mul (local.get $dz) (local.get $dz)))))))
          (local.set $b (i32.add (local.get $b) (i32.const 56)))
          (br $inner)))
      (local.set $a (i32.add (local.get $a) (i32.const 56)))
      (br_if $outer (i32.lt_u (local.get $a) (i32.const 280))))
    (local.get $e))

  (func (export "run") (param $n i32) (result i64)
    (local $i i32)
    (call $init)
    (block $done
      (loop $steps
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $advance (f64.const 0.01))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $steps)))
    (i64.reinterpret_f64 (call $energy))))
