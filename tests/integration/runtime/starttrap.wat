;; starttrap.wat - an actor whose module's start function calls $check,
;; which executes `unreachable`: every instantiation (a spawn, a restart)
;; traps there, with a backtrace of both (test_failures.c, daemon.sh).
(module
  (memory (export "memory") 1)
  (func $check unreachable)
  (func $begin (call $check))
  (start $begin)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.const 64))
)
