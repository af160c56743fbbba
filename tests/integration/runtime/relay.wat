;; relay.wat - an actor that makes requests to other actors (test_handoff.c).
;; Its state is the id of the actor it relays to (36 bytes), or none.
;;   handle-send "S" + id:          the state becomes id.
;;   handle-send "Q" + u32 n + p + id: n requests of the one byte p to id in
;;                                  a row, each answered with p (else it
;;                                  traps), then log "qdone".
;;   handle-send other:             nothing.
;;   handle-request "L":            loops forever.
;;   handle-request other:          with a state, relays the request to that
;;                                  actor and answers with its answer;
;;                                  without, answers with the message.
(module
  (import "theater:simple/message-server-host" "request" (func $request (param i32 i32 i32 i32 i32)))
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 200) "qdone")

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

  ;; ok((state,)) at 64, no response
  (func $ok (param i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.store (i32.const 76) (local.get 2))
    (i32.store8 (i32.const 80) (i32.const 0))
    (i32.const 64))

  ;; copy 36 bytes from $src to 300 (out of the ring's reach)
  (func $keep_id (param $src i32)
    (i64.store (i32.const 300) (i64.load align=1 (local.get $src)))
    (i64.store (i32.const 308) (i64.load align=1 (i32.add (local.get $src) (i32.const 8))))
    (i64.store (i32.const 316) (i64.load align=1 (i32.add (local.get $src) (i32.const 16))))
    (i64.store (i32.const 324) (i64.load align=1 (i32.add (local.get $src) (i32.const 24))))
    (i32.store (i32.const 332) (i32.load align=1 (i32.add (local.get $src) (i32.const 32)))))

  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (call $ok (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/message-server-client#handle-send")
        (param $some i32) (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (local $b i32) (local $n i32)
    (local.set $b (i32.load8_u (local.get $mp)))
    (if (i32.and (i32.eq (local.get $b) (i32.const 83)) (i32.eq (local.get $ml) (i32.const 37))) ;; S
      (then (return (call $ok (i32.const 1) (i32.add (local.get $mp) (i32.const 1)) (i32.const 36)))))
    (if (i32.and (i32.eq (local.get $b) (i32.const 81)) (i32.eq (local.get $ml) (i32.const 42))) ;; Q
      (then
        (local.set $n (i32.load align=1 (i32.add (local.get $mp) (i32.const 1))))
        (i32.store8 (i32.const 296) (i32.load8_u (i32.add (local.get $mp) (i32.const 5))))
        (call $keep_id (i32.add (local.get $mp) (i32.const 6)))
        (block $done (loop $more
          (br_if $done (i32.eqz (local.get $n)))
          (call $request (i32.const 300) (i32.const 36) (i32.const 296) (i32.const 1) (i32.const 128))
          (if (i32.load8_u (i32.const 128)) (then unreachable))
          (if (i32.ne (i32.load (i32.const 136)) (i32.const 1)) (then unreachable))
          (if (i32.ne (i32.load8_u (i32.load (i32.const 132))) (i32.load8_u (i32.const 296)))
            (then unreachable))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $more)))
        (call $log (i32.const 200) (i32.const 5))))
    (call $ok (local.get $some) (local.get $sp) (local.get $sl)))

  (func (export "theater:simple/message-server-client#handle-request")
        (param $some i32) (param $sp i32) (param $sl i32) (param i32 i32) (param $mp i32) (param $ml i32)
        (result i32)
    (local $rp i32) (local $rl i32)
    (if (i32.eq (i32.load8_u (local.get $mp)) (i32.const 76)) ;; L
      (then (loop $forever (br $forever))))
    (local.set $rp (local.get $mp))
    (local.set $rl (local.get $ml))
    (if (local.get $some)
      (then
        (call $request (local.get $sp) (local.get $sl) (local.get $mp) (local.get $ml) (i32.const 160))
        (if (i32.load8_u (i32.const 160)) (then unreachable))
        (local.set $rp (i32.load (i32.const 164)))
        (local.set $rl (i32.load (i32.const 168)))))
    (drop (call $ok (local.get $some) (local.get $sp) (local.get $sl)))
    (i32.store8 (i32.const 80) (i32.const 1))
    (i32.store (i32.const 84) (local.get $rp))
    (i32.store (i32.const 88) (local.get $rl))
    (i32.const 64))
)
