;; pace.wat - a sender and its receiver in one module (test_fairness.c,
;; pacing).  Its state is the id of its peer (36 bytes) or none.
;;   handle-send "F" + u32 n: send n one-byte messages "c" to the peer in one
;;                            loop, then log "sent".
;;   handle-send other:       log "got".
(module
  (import "theater:simple/message-server-host" "send" (func $send (param i32 i32 i32 i32 i32)))
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 200) "csentgot")

  ;; a ring allocator over [1024, 65536)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (global.set $heap (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.const 65536))
      (then (global.set $heap (i32.const 1024))))
    (if (i32.gt_u (local.get 3) (i32.const 64512)) (then unreachable))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))

  (func $ok (param i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.store (i32.const 76) (local.get 2))
    (i32.const 64))

  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (call $ok (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/message-server-client#handle-send")
        (param $some i32) (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (local $n i32)
    (if (i32.ne (i32.load8_u (local.get $mp)) (i32.const 70)) ;; F
      (then
        (call $log (i32.const 205) (i32.const 3))
        (return (call $ok (local.get $some) (local.get $sp) (local.get $sl)))))
    (local.set $n (i32.load align=1 (i32.add (local.get $mp) (i32.const 1))))
    (block $done (loop $more
      (br_if $done (i32.eqz (local.get $n)))
      (call $send (local.get $sp) (local.get $sl) (i32.const 200) (i32.const 1) (i32.const 128))
      (if (i32.load8_u (i32.const 128)) (then unreachable))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $more)))
    (call $log (i32.const 201) (i32.const 4))
    (call $ok (local.get $some) (local.get $sp) (local.get $sl)))
)
