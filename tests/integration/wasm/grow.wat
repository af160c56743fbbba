;; grow.wat - grows memory by 4 pages; exits 3 if that fails (-1), as it
;; does under --max-memory 131072 (2 pages).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 4)) (i32.const -1))
      (then (call $exit (i32.const 3))))))
