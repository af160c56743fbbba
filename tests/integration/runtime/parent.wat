;; parent.wat - a supervising actor for the tests.  Its initial state is the
;; path of a child manifest; init spawns three children from it.  The
;; supervisor handlers log what they hear:
;;   "child-error:<data>", "child-exit", "child-stop".
;; handle-send with "S" + child id stops that child with stop-child.
(module
  (import "theater:simple/supervisor" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32)))
  (import "theater:simple/supervisor" "stop-child" (func $stop (param i32 i32 i32)))
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 256) "child-error:")
  (data (i32.const 288) "child-exit")
  (data (i32.const 304) "child-stop")

  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (global.set $heap
      (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
               (i32.xor (i32.sub (local.get 2) (i32.const 1)) (i32.const -1))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.const 4)) (i32.const -1)) (then unreachable))))
    (local.get $p))

  (func $ok (param i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.store (i32.const 76) (local.get 2))
    (i32.const 64))

  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (local $i i32)
    (loop $more
      (call $spawn (local.get 1) (local.get 2) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
      (if (i32.ne (i32.load8_u (i32.const 128)) (i32.const 0))
        (then
          (i32.store8 (i32.const 64) (i32.const 1))
          (i32.store (i32.const 68) (i32.load (i32.const 132)))
          (i32.store (i32.const 72) (i32.load (i32.const 136)))
          (return (i32.const 64))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 3))))
    (call $ok (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/message-server-client#handle-send")
        (param i32 i32 i32) (param $mp i32) (param $ml i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get $mp)) (i32.const 83)) ;; S<child id>
      (then (call $stop (i32.add (local.get $mp) (i32.const 1))
                        (i32.sub (local.get $ml) (i32.const 1)) (i32.const 128))))
    (call $ok (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/supervisor-handlers#handle-child-error")
        (param i32 i32 i32 i32 i32 i32) (param $some i32) (param $dp i32) (param $dl i32) (result i32)
    ;; log "child-error:" + data, copied together at 1024
    (memory.copy (i32.const 1024) (i32.const 256) (i32.const 12))
    (memory.copy (i32.const 1036) (local.get $dp) (local.get $dl))
    (call $log (i32.const 1024) (i32.add (i32.const 12) (local.get $dl)))
    (call $ok (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/supervisor-handlers#handle-child-exit")
        (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $log (i32.const 288) (i32.const 10))
    (call $ok (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/supervisor-handlers#handle-child-external-stop")
        (param i32 i32 i32 i32 i32) (result i32)
    (call $log (i32.const 304) (i32.const 10))
    (call $ok (local.get 0) (local.get 1) (local.get 2)))
)
