;; caps.wat - imports timing.now; spawned with a manifest that does not
;; list the timing handler, it must be refused.
(module
  (import "theater:simple/timing" "now" (func $now (result i64)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (drop (call $now))
    (i32.const 64))
)
