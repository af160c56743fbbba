;; postcall.wat - a post-return (cabi_post_ of handle-send) that calls a
;; host function (runtime.log) on a message "x": the Canonical ABI forbids
;; leaving the guest in post-return, so the actor must fail naming it.
;; Any other message returns normally.
(module
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $mode (mut i32) (i32.const 0))
  (data (i32.const 100) "in-post-return")
  (func (export "cabi_realloc") (param i32 i32 i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $size) (i32.const 8))))
    (local.get $p))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 0))
    (i32.const 16))
  (func (export "theater:simple/message-server-client#handle-send")
        (param i32 i32 i32) (param $mp i32) (param $ml i32) (result i32)
    (global.set $mode (i32.eq (i32.load8_u (local.get $mp)) (i32.const 120))) ;; "x"
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store8 (i32.const 20) (i32.const 0))
    (i32.const 16))
  (func (export "cabi_post_theater:simple/message-server-client#handle-send") (param i32)
    (if (global.get $mode) (then (call $log (i32.const 100) (i32.const 14)))))
)
