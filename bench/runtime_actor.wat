;; runtime_actor.wat - the small actor of bench/runtime_bench.c.  Its state
;; is the id of its peer (36 bytes) or none.
;;   handle-send "G" + u32 n: send n one-way messages "x" to the peer, then
;;                            a last "L"; the peer logs "done" on "L".
;;   handle-send "Q" + u32 n: n requests to the peer in a row, then log "qdone".
;;   handle-send "P" + u32 n: the same, logging "t" after each request (the
;;                            host times each round trip), then "qdone".
;;   handle-send other:       count it (nothing else).
;;   handle-request:          answer with the message.
(module
  (import "theater:simple/message-server-host" "send" (func $send (param i32 i32 i32 i32 i32)))
  (import "theater:simple/message-server-host" "request" (func $request (param i32 i32 i32 i32 i32)))
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (global $count (mut i32) (i32.const 0))
  (data (i32.const 200) "xLdoneqdonet")

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
    (local $b i32) (local $n i32)
    (local.set $b (i32.load8_u (local.get $mp)))
    (if (i32.eq (local.get $b) (i32.const 71)) ;; G
      (then
        (local.set $n (i32.load align=1 (i32.add (local.get $mp) (i32.const 1))))
        (block $done (loop $more
          (br_if $done (i32.eqz (local.get $n)))
          (call $send (local.get $sp) (local.get $sl) (i32.const 200) (i32.const 1) (i32.const 128))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $more)))
        (call $send (local.get $sp) (local.get $sl) (i32.const 201) (i32.const 1) (i32.const 128))
        (return (call $ok (local.get $some) (local.get $sp) (local.get $sl)))))
    (if (i32.or (i32.eq (local.get $b) (i32.const 81)) (i32.eq (local.get $b) (i32.const 80))) ;; Q, P
      (then
        (local.set $n (i32.load align=1 (i32.add (local.get $mp) (i32.const 1))))
        (block $done (loop $more
          (br_if $done (i32.eqz (local.get $n)))
          (call $request (local.get $sp) (local.get $sl) (i32.const 200) (i32.const 1) (i32.const 128))
          (if (i32.load8_u (i32.const 128)) (then unreachable))
          (if (i32.eq (local.get $b) (i32.const 80)) (then (call $log (i32.const 211) (i32.const 1))))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $more)))
        (call $log (i32.const 206) (i32.const 5))
        (return (call $ok (local.get $some) (local.get $sp) (local.get $sl)))))
    (if (i32.eq (local.get $b) (i32.const 76)) ;; L
      (then (call $log (i32.const 202) (i32.const 4))))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (call $ok (local.get $some) (local.get $sp) (local.get $sl)))

  (func (export "theater:simple/message-server-client#handle-request")
        (param i32 i32 i32 i32 i32) (param $mp i32) (param $ml i32) (result i32)
    (drop (call $ok (local.get 0) (local.get 1) (local.get 2)))
    (i32.store8 (i32.const 80) (i32.const 1))
    (i32.store (i32.const 84) (local.get $mp))
    (i32.store (i32.const 88) (local.get $ml))
    (i32.const 64))
)
