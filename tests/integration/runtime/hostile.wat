;; hostile.wat - a small actor that misbehaves on request.  handle-send looks
;; at the first byte of the message:
;;   L  loops forever             M  grows memory page by page until refused, then traps
;;   R  recurses without end      T  traps (unreachable)
;;   N  recurses 50,000 deep (a few MiB of wasm stack), then ok
;;   E  returns err("boom")       U  returns err with invalid UTF-8
;;   O  returns an out-of-bounds result pointer
;;   D  returns a bad result discriminant
;;   A  returns a misaligned result pointer
;;   S  returns a result whose first bytes are in memory and the rest past its end
;;   anything else: ok, and the message becomes the new state.
;; handle-request answers with the message and keeps the state.
(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 256) "boom")
  (data (i32.const 272) "\ff\fe")

  (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (global.set $heap
      (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
               (i32.xor (i32.sub (local.get 2) (i32.const 1)) (i32.const -1))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (block $ok
      (br_if $ok (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
      (br_if $ok (i32.ne (i32.const -1)
        (memory.grow (i32.add (i32.const 1)
          (i32.div_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
                     (i32.const 65536))))))
      unreachable)
    (local.get $p))

  ;; ok((state,)) at 64
  (func $ok_state (param i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.store (i32.const 76) (local.get 2))
    (i32.const 64))

  (func $err (param i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 1))
    (i32.store (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.const 64))

  (func $down (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))

  (func $rec (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))

  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (call $ok_state (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/message-server-client#handle-send")
        (param $some i32) (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (local $b i32)
    (if (i32.gt_u (local.get $ml) (i32.const 0))
      (then (local.set $b (i32.load8_u (local.get $mp)))))
    (if (i32.eq (local.get $b) (i32.const 76)) ;; L
      (then (loop $l (br $l))))
    (if (i32.eq (local.get $b) (i32.const 77)) ;; M
      (then (loop $g
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $g))))
    (if (i32.eq (local.get $b) (i32.const 82)) ;; R
      (then (drop (call $rec (i32.const 0)))))
    (if (i32.eq (local.get $b) (i32.const 78)) ;; N
      (then (if (i32.ne (call $down (i32.const 50000)) (i32.const 50000)) (then unreachable))))
    (if (i32.eq (local.get $b) (i32.const 84)) ;; T
      (then unreachable))
    (if (i32.eq (local.get $b) (i32.const 69)) ;; E
      (then (return (call $err (i32.const 256) (i32.const 4)))))
    (if (i32.eq (local.get $b) (i32.const 85)) ;; U
      (then (return (call $err (i32.const 272) (i32.const 2)))))
    (if (i32.eq (local.get $b) (i32.const 79)) ;; O
      (then (return (i32.const 0xfffffff0))))
    (if (i32.eq (local.get $b) (i32.const 65)) ;; A
      (then (drop (call $ok_state (i32.const 0) (i32.const 0) (i32.const 0)))
            (return (i32.const 65))))
    (if (i32.eq (local.get $b) (i32.const 83)) ;; S: 2 pages; disc 0 and "none" fit, the rest not
      (then (i32.store8 (i32.const 131064) (i32.const 0))
            (i32.store8 (i32.const 131068) (i32.const 0))
            (return (i32.const 131064))))
    (if (i32.eq (local.get $b) (i32.const 68)) ;; D
      (then (i32.store8 (i32.const 64) (i32.const 7)) (return (i32.const 64))))
    (call $ok_state (i32.const 1) (local.get $mp) (local.get $ml)))

  (func (export "theater:simple/message-server-client#handle-request")
        (param i32 i32 i32 i32 i32) (param $mp i32) (param $ml i32) (result i32)
    (drop (call $ok_state (local.get 0) (local.get 1) (local.get 2)))
    (i32.store8 (i32.const 80) (i32.const 1))
    (i32.store (i32.const 84) (local.get $mp))
    (i32.store (i32.const 88) (local.get $ml))
    (i32.const 64))
)
