;; loop.wat - loops forever (stopped by --fuel).
(module
  (memory (export "memory") 1)
  (func $spin (export "_start") (loop $l (br $l))))
