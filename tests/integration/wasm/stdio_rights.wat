;; stdio_rights.wat - tries, on its stdout and stderr, every call that
;; could change the host file behind them besides appending: truncate,
;; write at an offset, seek, tell, new timestamps, allocate, flag changes,
;; advice, sync.  Each must fail with ENOTCAPABLE (76).  Then it appends
;; "appended\n" with fd_write and exits with the number of calls that
;; were not refused (0 when stdio kept to its rights).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite"
    (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size"
    (func $set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_times"
    (func $set_times (param i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek"
    (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_tell"
    (func $tell (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_allocate"
    (func $allocate (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags"
    (func $set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_advise"
    (func $advise (param i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_datasync"
    (func $datasync (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_sync"
    (func $sync (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "appended\n")
  (data (i32.const 32) "x")
  (global $bad (mut i32) (i32.const 0))
  ;; count a result other than ENOTCAPABLE
  (func $want76 (param $e i32)
    (if (i32.ne (local.get $e) (i32.const 76))
      (then (global.set $bad (i32.add (global.get $bad) (i32.const 1))))))
  (func $try (param $fd i32)
    (call $want76 (call $set_size (local.get $fd) (i64.const 0)))
    (call $want76 (call $fd_pwrite (local.get $fd) (i32.const 8) (i32.const 1) (i64.const 0)
                        (i32.const 100)))
    (call $want76 (call $seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 104)))
    (call $want76 (call $tell (local.get $fd) (i32.const 104)))
    (call $want76 (call $set_times (local.get $fd) (i64.const 0) (i64.const 0) (i32.const 5)))
    (call $want76 (call $allocate (local.get $fd) (i64.const 0) (i64.const 65536)))
    (call $want76 (call $set_flags (local.get $fd) (i32.const 0)))
    (call $want76 (call $advise (local.get $fd) (i64.const 0) (i64.const 0) (i32.const 4)))
    (call $want76 (call $datasync (local.get $fd)))
    (call $want76 (call $sync (local.get $fd))))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))  ;; iovec of "appended\n"
    (i32.store (i32.const 4) (i32.const 9))
    (i32.store (i32.const 8) (i32.const 32))  ;; iovec of "x"
    (i32.store (i32.const 12) (i32.const 1))
    (call $try (i32.const 1))
    (call $try (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 100)))
    (call $exit (global.get $bad))))
