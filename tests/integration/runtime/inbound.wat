;; inbound.wat - a target for inbound events (test_io_inbound.c): it
;; exports process-handlers#handle-stdout, whose new state is the output it
;; is given.  Output "X..." answers err("refused"); output "S..." first
;; sleeps 300 ms (timing.sleep), so that its mailbox fills meanwhile.
(module
  (import "theater:simple/timing" "sleep" (func $sleep (param i64 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 32) "refused")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
               (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.const 64))
  (func (export "theater:simple/process-handlers#handle-stdout")
        (param $ss i32) (param $sp i32) (param $sl i32) (param $pid i64) (param $dp i32) (param $dl i32)
        (result i32)
    (if (i32.and (i32.gt_u (local.get $dl) (i32.const 0))
                 (i32.eq (i32.load8_u (local.get $dp)) (i32.const 88)))
      (then
        (i32.store8 (i32.const 64) (i32.const 1))
        (i32.store (i32.const 68) (i32.const 32))
        (i32.store (i32.const 72) (i32.const 7))
        (return (i32.const 64))))
    (if (i32.and (i32.gt_u (local.get $dl) (i32.const 0))
                 (i32.eq (i32.load8_u (local.get $dp)) (i32.const 83)))
      (then (call $sleep (i64.const 300) (i32.const 128))))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 1))
    (i32.store (i32.const 72) (local.get $dp))
    (i32.store (i32.const 76) (local.get $dl))
    (i32.const 64))
)
