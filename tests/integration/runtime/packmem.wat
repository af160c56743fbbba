;; packmem.wat - an actor whose memory holds a pattern over several pages,
;; to check that packing an idle actor's memory (src/runtime/pack.c) and
;; putting it back loses nothing (test_spawn.c).  The pattern of seed s:
;; byte 4096 + 7i = (31i + s) mod 256 for i < 600, bytes [40000, 40100) =
;; 0xee, byte 70000 = s + 1, the i32 at 131000 = s * 1000003 + 1.
;;   init:                    write the pattern of seed 0
;;   handle-send "C":         log "intact" or "damaged"
;;   handle-send "W":         seed + 1, write its pattern, log "written"
;;   handle-send "G":         grow the memory by a page, write seed + 7 at
;;                            its first byte, log "grown"; "C" checks it
(module
  (import "theater:simple/runtime" "log" (func $log (param i32 i32)))
  (memory (export "memory") 3)
  (global $seed (mut i32) (i32.const 0))
  (global $grown (mut i32) (i32.const 0))
  (data (i32.const 200) "intactdamagedwrittengrown")

  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))

  (func $ok (param i32 i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (local.get 0))
    (i32.store (i32.const 72) (local.get 1))
    (i32.store (i32.const 76) (local.get 2))
    (i32.const 64))

  (func $write
    (local $i i32)
    (block $done (loop $more
      (br_if $done (i32.ge_u (local.get $i) (i32.const 600)))
      (i32.store8 (i32.add (i32.const 4096) (i32.mul (local.get $i) (i32.const 7)))
                  (i32.add (i32.mul (local.get $i) (i32.const 31)) (global.get $seed)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more)))
    (memory.fill (i32.const 40000) (i32.const 0xee) (i32.const 100))
    (i32.store8 (i32.const 70000) (i32.add (global.get $seed) (i32.const 1)))
    (i32.store (i32.const 131000)
               (i32.add (i32.mul (global.get $seed) (i32.const 1000003)) (i32.const 1))))

  ;; 1 if the pattern (and the grown page, if any) is there
  (func $check (result i32)
    (local $i i32)
    (block $done (loop $more
      (br_if $done (i32.ge_u (local.get $i) (i32.const 600)))
      (if (i32.ne (i32.load8_u (i32.add (i32.const 4096) (i32.mul (local.get $i) (i32.const 7))))
                  (i32.and (i32.add (i32.mul (local.get $i) (i32.const 31)) (global.get $seed))
                           (i32.const 255)))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more)))
    (local.set $i (i32.const 40000))
    (block $done (loop $more
      (br_if $done (i32.ge_u (local.get $i) (i32.const 40100)))
      (if (i32.ne (i32.load8_u (local.get $i)) (i32.const 0xee)) (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more)))
    (if (i32.ne (i32.load8_u (i32.const 70000))
                (i32.and (i32.add (global.get $seed) (i32.const 1)) (i32.const 255)))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load (i32.const 131000))
                (i32.add (i32.mul (global.get $seed) (i32.const 1000003)) (i32.const 1)))
      (then (return (i32.const 0))))
    (if (global.get $grown)
      (then (if (i32.ne (i32.load8_u (i32.const 196608))
                        (i32.and (i32.add (global.get $seed) (i32.const 7)) (i32.const 255)))
              (then (return (i32.const 0))))))
    (i32.const 1))

  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (call $write)
    (call $ok (local.get 0) (local.get 1) (local.get 2)))

  (func (export "theater:simple/message-server-client#handle-send")
        (param $some i32) (param $sp i32) (param $sl i32) (param $mp i32) (param $ml i32) (result i32)
    (local $b i32)
    (local.set $b (i32.load8_u (local.get $mp)))
    (if (i32.eq (local.get $b) (i32.const 67)) ;; C
      (then (if (call $check)
              (then (call $log (i32.const 200) (i32.const 6)))
              (else (call $log (i32.const 206) (i32.const 7))))))
    (if (i32.eq (local.get $b) (i32.const 87)) ;; W
      (then
        (global.set $seed (i32.add (global.get $seed) (i32.const 1)))
        (call $write)
        (if (global.get $grown)
          (then (i32.store8 (i32.const 196608) (i32.add (global.get $seed) (i32.const 7)))))
        (call $log (i32.const 213) (i32.const 7))))
    (if (i32.eq (local.get $b) (i32.const 71)) ;; G
      (then
        (if (i32.ne (memory.grow (i32.const 1)) (i32.const 3)) (then unreachable))
        (global.set $grown (i32.const 1))
        (i32.store8 (i32.const 196608) (i32.add (global.get $seed) (i32.const 7)))
        (call $log (i32.const 220) (i32.const 5))))
    (call $ok (local.get $some) (local.get $sp) (local.get $sl)))
)
