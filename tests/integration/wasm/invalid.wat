;; invalid.wat - well-formed but invalid (assembled with --no-check): the
;; function returns an f32 where its type says i32.
(module
  (func (export "f") (result i32) (f32.const 1)))
