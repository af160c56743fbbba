;; badpost.wat - a post-return of handle-send that takes two values: a
;; post-return takes the export's one flat result (its pointer) and
;; returns nothing, so the spawn must be refused.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.const 64))
  (func (export "theater:simple/message-server-client#handle-send")
        (param i32 i32 i32 i32 i32) (result i32)
    (i32.const 64))
  (func (export "cabi_post_theater:simple/message-server-client#handle-send")
        (param i32 i32))
)
