;; start_trap.wat - the start function calls $check, which executes
;; `unreachable`: instantiation traps, with a backtrace of both.
(module
  (memory (export "memory") 1)
  (func $check unreachable)
  (func $init (call $check))
  (start $init)
  (func (export "_start")))
