;; inst.wat - the module engine_bench instantiates 10,000 times: a typical
;; small actor-sized module with one page of memory, a mutable global (a
;; stack pointer), a table with two entries, one small data segment (at
;; offset 1024: it touches one host page) and four functions.
(module
  (type $binop (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $sp (mut i32) (i32.const 65536))
  (global $calls (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $add $mul)
  (data (i32.const 1024) "hello, actor")
  (func $add (export "add") (type $binop)
    local.get 0
    local.get 1
    i32.add)
  (func $mul (type $binop)
    local.get 0
    local.get 1
    i32.mul)
  (func (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
    global.get $calls
    i32.const 1
    i32.add
    global.set $calls
    local.get $a
    local.get $b
    local.get $op
    call_indirect (type $binop))
  (func (export "greeting_byte") (param $i i32) (result i32)
    local.get $i
    i32.const 1024
    i32.add
    i32.load8_u))
