;; flood.wat - a message flood for the tests.  Its state is the id of its
;; peer (36 bytes).  handle-send "F" + u32 n [+ u32 size]: send n messages
;; of `size` bytes (1 KiB if absent; at most 65536) to the peer, then log
;; "flood done"; if a send fails, log "flood refused: " and its error, and
;; stop.
(module
  (import "theater:simple/message-server-host" "send" (func $send (param i32 i32 i32 i32 i32)))
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 200) "flood doneflood refused: ")

  ;; a ring allocator over [8192, 131072)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (global.set $heap (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.const 131072))
      (then (global.set $heap (i32.const 8192))))
    (if (i32.gt_u (local.get 3) (i32.const 100000)) (then unreachable))
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
    (local $n i32) (local $len i32) (local $size i32)
    (if (i32.ne (i32.load8_u (local.get $mp)) (i32.const 70)) ;; F
      (then (return (call $ok (local.get $some) (local.get $sp) (local.get $sl)))))
    (local.set $n (i32.load align=1 (i32.add (local.get $mp) (i32.const 1))))
    (local.set $size (i32.const 1024))
    (if (i32.ge_u (local.get $ml) (i32.const 9))
      (then (local.set $size (i32.load align=1 (i32.add (local.get $mp) (i32.const 5))))))
    (if (i32.gt_u (local.get $size) (i32.const 65536)) (then unreachable))
    (block $done (loop $more
      (br_if $done (i32.eqz (local.get $n)))
      (call $send (local.get $sp) (local.get $sl) (i32.const 4096) (local.get $size) (i32.const 128))
      (if (i32.load8_u (i32.const 128))
        (then
          ;; "flood refused: " + the error, copied together at 2048
          (local.set $len (i32.load (i32.const 136)))
          (if (i32.gt_u (local.get $len) (i32.const 1024)) (then (local.set $len (i32.const 1024))))
          (memory.copy (i32.const 2048) (i32.const 210) (i32.const 15))
          (memory.copy (i32.const 2063) (i32.load (i32.const 132)) (local.get $len))
          (call $log (i32.const 2048) (i32.add (i32.const 15) (local.get $len)))
          (return (call $ok (local.get $some) (local.get $sp) (local.get $sl)))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $more)))
    (call $log (i32.const 200) (i32.const 10))
    (call $ok (local.get $some) (local.get $sp) (local.get $sl)))
)
