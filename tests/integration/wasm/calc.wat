;; calc.wat - a module without _start, for --invoke.
(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "mix") (param i64 f64) (result i64 f64)
    (local.get 0)
    (f64.mul (local.get 1) (f64.const 2)))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))
