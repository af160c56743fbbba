;; spinner.wat - an actor whose handle-send runs a long loop (about 30
;; million iterations: many fuel slices, so its operation yields between
;; them and its turn serves its control queue meanwhile), after logging
;; "spin" first when the message starts with "l"; its state stays none
;; (test_upgrade.c).
(module
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "spin")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func $ok (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.const 64))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (call $ok))
  (func (export "theater:simple/message-server-client#handle-send")
        (param i32 i32 i32) (param $mp i32) (param $ml i32) (result i32)
    (local $i i32)
    (if (i32.and (i32.ne (local.get $ml) (i32.const 0))
                 (i32.eq (i32.load8_u (local.get $mp)) (i32.const 108))) ;; "l"
      (then (call $log (i32.const 200) (i32.const 4))))
    (local.set $i (i32.const 30000000))
    (loop $spin
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (call $ok))
)
