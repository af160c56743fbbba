;; badexport.wat - exports http-handlers' handle-request with a core type
;; that is not the Canonical ABI's (its handler-id is a u64, an i64, and
;; the request is 9 values): the spawn must be refused, not the first
;; request fail.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.const 64))
  (func (export "theater:simple/http-handlers#handle-request") (param i32) (result i32)
    (i32.const 64))
)
