;; migtrap.wat - plain.wat with a migrate whose $rewrite executes
;; `unreachable`: a hot upgrade to it is refused with a backtrace of both
;; (test_upgrade.c).
(module
  (memory (export "memory") 1)
  (func $rewrite unreachable)
  (func $migrate (export "theater:simple/actor#migrate") (param i32 i32 i32 i32 i32) (result i32)
    (call $rewrite)
    (i32.const 64))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.const 64))
)
