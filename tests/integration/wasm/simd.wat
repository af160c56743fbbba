;; simd.wat - exports taking and returning v128, for --invoke.
(module
  (func (export "mk") (result v128)
    (v128.const i32x4 1 2 3 4))
  ;; (i32 v128 i32) -> (i32 v128 i32): a + 1, v + v, b * 2
  (func (export "mixed") (param $a i32) (param $v v128) (param $b i32) (result i32 v128 i32)
    (i32.add (local.get $a) (i32.const 1))
    (i32x4.add (local.get $v) (local.get $v))
    (i32.mul (local.get $b) (i32.const 2)))
  (func (export "lanesum") (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))
  (func (export "id") (param $v v128) (result v128) (local.get $v)))
