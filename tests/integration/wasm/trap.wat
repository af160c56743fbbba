;; trap.wat - _start -> middle -> boom, which executes `unreachable`.
(module
  (memory (export "memory") 1)
  (func $boom unreachable)
  (func $middle (call $boom))
  (func $_start (export "_start") (call $middle)))
