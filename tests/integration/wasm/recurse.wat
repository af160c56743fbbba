;; recurse.wat - a small recursive function for the --max-stack tests:
;; (small N) recurses N frames deep and returns N.
(module
  (func $small (export "small") (param $n i32) (result i32)
    (if (result i32) (local.get $n)
      (then (i32.add (call $small (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))
      (else (i32.const 0)))))
