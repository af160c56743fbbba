;; counted.wat - an actor that counts what it handles (test_record_order.c).
;; Its state is a u64, little-endian (8 bytes; none counts as 0): every
;; handle-send and every handle-request adds one to it, so the state each
;; call records tells the call's place among all of them.  A request is
;; answered with its message.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))

  ;; a ring allocator over [1024, 65536): the host's copies are short-lived
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (global.set $heap (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.const 65536))
      (then (global.set $heap (i32.const 1024))))
    (if (i32.gt_u (local.get 3) (i32.const 64512)) (then unreachable))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))

  ;; the count after this call at 400; ok((some(400, 8),)) at 64, no response
  (func $count (param $some i32) (param $sp i32) (param $sl i32) (result i32)
    (local $n i64)
    (if (i32.and (local.get $some) (i32.eq (local.get $sl) (i32.const 8)))
      (then (local.set $n (i64.load align=1 (local.get $sp)))))
    (i64.store (i32.const 400) (i64.add (local.get $n) (i64.const 1)))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 1))
    (i32.store (i32.const 72) (i32.const 400))
    (i32.store (i32.const 76) (i32.const 8))
    (i32.store8 (i32.const 80) (i32.const 0))
    (i32.const 64))

  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.store (i32.const 76) (local.get 2))
    (i32.store8 (i32.const 80) (i32.const 0))
    (i32.const 64))

  (func (export "theater:simple/message-server-client#handle-send")
        (param $some i32) (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (call $count (local.get $some) (local.get $sp) (local.get $sl)))

  (func (export "theater:simple/message-server-client#handle-request")
        (param $some i32) (param $sp i32) (param $sl i32) (param i32 i32) (param $mp i32) (param $ml i32)
        (result i32)
    (drop (call $count (local.get $some) (local.get $sp) (local.get $sl)))
    (i32.store8 (i32.const 80) (i32.const 1))
    (i32.store (i32.const 84) (local.get $mp))
    (i32.store (i32.const 88) (local.get $ml))
    (i32.const 64))
)
