;; forged.wat - an actor whose cabi_realloc lies: it returns a pointer far
;; outside its memory.  Passing it anything must fail the actor, not the host.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 0xffffff00))
  (func (export "theater:simple/actor#init") (param i32 i32 i32 i32 i32) (result i32)
    (i32.const 64))
)
