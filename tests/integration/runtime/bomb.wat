;; bomb.wat - a spawn bomb for the tests: its initial state is the path of
;; its own manifest, and its init spawns four copies of itself (each with the
;; same state) before it returns, ignoring refusals.  Unchecked, the tree
;; grows until the host gives out.
(module
  (import "theater:simple/supervisor" "spawn" (func $spawn (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))

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

  (func (export "theater:simple/actor#init") (param $some i32) (param $sp i32) (param $sl i32)
        (param i32 i32) (result i32)
    (local $i i32)
    (if (local.get $some)
      (then
        (loop $more
          (call $spawn (local.get $sp) (local.get $sl) (i32.const 1) (local.get $sp) (local.get $sl)
                       (i32.const 128))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $more (i32.lt_u (local.get $i) (i32.const 4))))))
    (call $ok (local.get $some) (local.get $sp) (local.get $sl)))
)
