;; burner.wat - an actor whose cabi_realloc burns fuel.  handle-send with a
;; message starting with "B" arms it: the next cabi_realloc call (made by the
;; host inside get-chain) runs 800,000 loop iterations first, more than a
;; fuel slice holds.  Any other message calls get-chain without burning.
;; The fuel the allocator spends inside a host call must count against the
;; manifest's fuel_per_call like any other.
(module
  (import "theater:simple/runtime" "get-chain" (func $get_chain (param i32)))
  (memory (export "memory") 4)
  (global $heap (mut i32) (i32.const 4096))
  (global $armed (mut i32) (i32.const 0))

  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $i i32) (local $p i32)
    (if (global.get $armed)
      (then
        (global.set $armed (i32.const 0))
        (local.set $i (i32.const 800000))
        (loop $burn
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $burn (local.get $i)))))
    (global.set $heap (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.const 262144))
      (then (global.set $heap (i32.const 4096))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))

  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.const 64))

  (func (export "theater:simple/message-server-client#handle-send")
        (param i32 i32 i32) (param $mp i32) (param $ml i32) (result i32)
    (if (i32.and (i32.gt_u (local.get $ml) (i32.const 0))
                 (i32.eq (i32.load8_u (local.get $mp)) (i32.const 66))) ;; B
      (then (global.set $armed (i32.const 1))))
    (call $get_chain (i32.const 128))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.const 64))
)
