;; selftrap.wat - an actor whose init sends itself a message, on which its
;; handle-send traps in $fault, called by $handle: a root actor that starts
;; and then fails on its own, with nobody to restart it (the end that
;; th_runtime_wait and `theater run` report with its frames:
;; test_failures.c, daemon.sh).
(module
  (import "theater:simple/message-server-host" "send" (func $send (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 200) "x")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (global.set $heap (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))
  (func $fault unreachable)
  (func $handle (call $fault))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    ;; send(own id, "x"); its result (at 96) is not looked at
    (call $send (local.get 3) (local.get 4) (i32.const 200) (i32.const 1) (i32.const 96))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.const 64))
  (func $on_send (export "theater:simple/message-server-client#handle-send") (param i32 i32 i32 i32 i32) (result i32)
    (call $handle)
    (i32.const 64))
)
