/*
 * wasm.h - the public API of the WebAssembly engine (src/wasm/).
 *
 * Objects:
 *   th_wasm_module    decoded, validated and translated code; immutable and
 *                     shareable by any number of instances on any thread.
 *   th_wasm_imports   a set of (module, name) -> extern bindings used to
 *                     resolve a module's imports at instantiation.
 *   th_wasm_instance  one instantiation: its memories, tables, globals and
 *                     function objects.
 *   th_wasm_exec      an execution context (the engine's own value and frame
 *                     stack).  A call runs on an exec; when a host function
 *                     suspends or fuel runs out the exec keeps the whole
 *                     wasm call stack, and the call can be resumed later,
 *                     on any thread.  One call at a time per exec.
 *   th_wasm_func, th_wasm_memory, th_wasm_table, th_wasm_global
 *                     externs, owned by an instance (or standalone ones made
 *                     with the _new functions below, owned by the caller).
 *
 * Threading: modules are immutable after th_wasm_module_new and may be shared.
 * An instance and an exec may be used by one thread at a time.
 *
 * Lifetimes: an instance holds a reference on its module.  A th_wasm_imports
 * set owns the host function objects it binds and must outlive every
 * instance it resolved (one set is typically shared by many instances).
 * Externs imported from another instance or created standalone must outlive
 * every instance that imports them (the embedder arranges this; the spec runner keeps all
 * instances of a script alive, the actor runtime links only host functions).
 *
 * Errors: calls return 0 or a negative TH_E* code (theater/error.h) and fill
 * the optional th_error.  Nothing a module does can abort the process.
 */
#ifndef THEATER_WASM_H
#define THEATER_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct th_wasm_module th_wasm_module;
typedef struct th_wasm_imports th_wasm_imports;
typedef struct th_wasm_instance th_wasm_instance;
typedef struct th_wasm_exec th_wasm_exec;
typedef struct th_wasm_func th_wasm_func;
typedef struct th_wasm_memory th_wasm_memory;
typedef struct th_wasm_table th_wasm_table;
typedef struct th_wasm_global th_wasm_global;
typedef struct th_wasm_call th_wasm_call;

/* Value types, numbered as in the binary format. */
typedef enum th_wasm_valtype {
    TH_WASM_I32 = 0x7f,
    TH_WASM_I64 = 0x7e,
    TH_WASM_F32 = 0x7d,
    TH_WASM_F64 = 0x7c,
    TH_WASM_V128 = 0x7b, /* 16 bytes in two consecutive th_wasm_val entries */
    TH_WASM_FUNCREF = 0x70,
    TH_WASM_EXTERNREF = 0x6f,
} th_wasm_valtype;

/* Extern kinds, numbered as in the binary format. */
typedef enum th_wasm_extern_kind {
    TH_WASM_EXTERN_FUNC = 0,
    TH_WASM_EXTERN_TABLE = 1,
    TH_WASM_EXTERN_MEMORY = 2,
    TH_WASM_EXTERN_GLOBAL = 3,
} th_wasm_extern_kind;

/*
 * An untyped 8-byte value; its type comes from the signature it travels
 * with.  funcref: a th_wasm_func pointer or NULL.  externref: an opaque
 * pointer chosen by the embedder, NULL is ref.null.  A v128 value occupies
 * two consecutive th_wasm_val entries: its 16 bytes in order, lane 0 at the
 * lowest address (so arrays of arguments and results count slots, not
 * values, when v128 is involved).
 */
typedef union th_wasm_val {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    uint64_t bits; /* raw bits, e.g. for comparing NaN payloads */
    void *ref;
} th_wasm_val;

/* A function type.  `types` holds nparams parameter types then nresults
 * result types (th_wasm_valtype values). */
typedef struct th_wasm_functype {
    uint32_t nparams;
    uint32_t nresults;
    const uint8_t *types;
} th_wasm_functype;

/* Statuses of an execution (th_wasm_exec_call / _resume), besides TH_OK. */
enum {
    TH_WASM_SUSPENDED = 1,   /* a host function asked to suspend */
    TH_WASM_OUT_OF_FUEL = 2, /* fuel ran out; add fuel and resume, or abort */
    TH_WASM_TRAPPED = 3,     /* trap; see th_wasm_exec_trap_* */
};

/* Trap kinds (th_wasm_exec_trap_kind). */
typedef enum th_wasm_trap_kind {
    TH_WASM_TRAP_NONE = 0,
    TH_WASM_TRAP_UNREACHABLE,
    TH_WASM_TRAP_MEMORY_OOB,      /* out of bounds memory access */
    TH_WASM_TRAP_TABLE_OOB,       /* out of bounds table access / undefined element */
    TH_WASM_TRAP_INDIRECT_NULL,   /* uninitialized element */
    TH_WASM_TRAP_INDIRECT_TYPE,   /* indirect call type mismatch */
    TH_WASM_TRAP_DIV_ZERO,        /* integer divide by zero */
    TH_WASM_TRAP_INT_OVERFLOW,    /* integer overflow */
    TH_WASM_TRAP_BAD_CONVERSION,  /* invalid conversion to integer */
    TH_WASM_TRAP_STACK_EXHAUSTED, /* call stack exhausted (depth or stack bytes) */
    TH_WASM_TRAP_NULL_REF,        /* null reference where one was required */
    TH_WASM_TRAP_FUEL,            /* fuel exhausted and the call was aborted */
    TH_WASM_TRAP_MEMORY_LIMIT,    /* memory.grow beyond the instance's byte limit
                                     is -1 to the guest; this kind is used when
                                     the embedder turns that into a failure */
    TH_WASM_TRAP_HOST,            /* a host function trapped */
    TH_WASM_TRAP_ABORTED,         /* the embedder aborted a suspended call */
    TH_WASM_TRAP_OOM,             /* the engine could not allocate (growing the
                                     stack): the host, not the module, ran out */
} th_wasm_trap_kind;

/* ------------------------------------------------------------------ */
/* Modules                                                            */

/* Decode, validate and translate `len` bytes (copied; the caller keeps its
 * buffer).  On error the message names the problem and the byte offset.
 * The returned module has one reference, released by th_wasm_module_free. */
int th_wasm_module_new(const uint8_t *bytes, size_t len, th_wasm_module **out, th_error *err);

/* Decode and validate only (what `theater wasm validate` does). */
int th_wasm_module_validate(const uint8_t *bytes, size_t len, th_error *err);

/* The byte offset a module error message names ("... offset 0x1f ..."),
 * or -1 if it names none. */
long long th_wasm_error_offset(const char *message);

/* Drop one reference; frees when the last instance is gone.  NULL is ok. */
void th_wasm_module_free(th_wasm_module *m);

/* Description of one import or export of a module.  Strings and `functype`
 * point into the module and live as long as it does. */
typedef struct th_wasm_extern_desc {
    const char *module; /* imports only; NULL for exports */
    const char *name;
    uint32_t module_len, name_len; /* byte lengths (names may hold NUL) */
    th_wasm_extern_kind kind;
    th_wasm_functype functype; /* kind == FUNC */
    uint8_t valtype;           /* GLOBAL: value type; TABLE: reftype */
    bool mutable_;             /* GLOBAL */
    uint64_t min, max;         /* TABLE/MEMORY limits (max = UINT64_MAX if none) */
} th_wasm_extern_desc;

uint32_t th_wasm_module_import_count(const th_wasm_module *m);
uint32_t th_wasm_module_export_count(const th_wasm_module *m);
int th_wasm_module_import(const th_wasm_module *m, uint32_t i, th_wasm_extern_desc *out);
int th_wasm_module_export(const th_wasm_module *m, uint32_t i, th_wasm_extern_desc *out);
/* Whether the module has a start function (th_wasm_instance_new runs it):
 * an embedder gives a start_exec only to the modules that need one. */
bool th_wasm_module_has_start(const th_wasm_module *m);

/* ------------------------------------------------------------------ */
/* Host functions and imports                                         */

/*
 * A host function.  `args` holds the parameters, `results` receives the
 * results (both per the signature given at registration).  Return:
 *   TH_OK              continue the wasm code with `results`;
 *   TH_WASM_SUSPENDED  suspend the whole call: th_wasm_exec_call/_resume
 *                      returns TH_WASM_SUSPENDED, and the embedder later
 *                      calls th_wasm_exec_resume() with the results;
 *   TH_WASM_TRAPPED    trap; set the message with th_wasm_call_trap().
 */
typedef int (*th_wasm_host_fn)(th_wasm_call *call, void *ctx, const th_wasm_val *args,
                               th_wasm_val *results);

/* Signature strings: parameter letters, '>', result letters, with
 * i = i32, I = i64, f = f32, F = f64, r = funcref, e = externref.
 * Examples: "ii>i", ">I", "iiiii>", "". */

th_wasm_imports *th_wasm_imports_new(void);
void th_wasm_imports_free(th_wasm_imports *imp); /* NULL ok; not the externs */

/* Bind a host function.  `ctx` is passed back on every call.  Returns
 * TH_EINVAL for a bad signature string, TH_EEXIST if already bound. */
int th_wasm_imports_add_func(th_wasm_imports *imp, const char *module, const char *name,
                             const char *sig, th_wasm_host_fn fn, void *ctx);

/* Bind an existing extern (of another instance, or standalone). */
int th_wasm_imports_add_extern(th_wasm_imports *imp, const char *module, const char *name,
                               th_wasm_extern_kind kind, void *ext);

/* Bind every export of `inst` under module name `module` (the spec
 * script's `register`). */
int th_wasm_imports_add_instance(th_wasm_imports *imp, const char *module, th_wasm_instance *inst);

/* ------------------------------------------------------------------ */
/* Instances                                                          */

typedef struct th_wasm_instance_config {
    uint64_t max_memory_bytes; /* per memory; 0 = only the module's own max */
    uint64_t start_fuel;       /* fuel for the start function; 0 = unlimited */
    void *user;                /* embedder data, th_wasm_instance_user() */
    /* The exec the start function runs on (it must be idle), or NULL for
     * one of the engine's own.  With an exec, its stack limit applies, its
     * fuel setting is the same afterwards, and after a trap in the start
     * function th_wasm_exec_trap_kind/_trap_message/_backtrace describe
     * it (the frames, innermost first); a trap in a segment, before the
     * start function, does not touch it. */
    th_wasm_exec *start_exec;
} th_wasm_instance_config;

/* Instantiate: resolve imports (TH_ELINK with "unknown import" or
 * "incompatible import type" messages), create memories, tables and
 * globals, apply element and data segments, run the start function.  A
 * trap in a segment or the start function is TH_ETRAP with the trap
 * message (the start function's backtrace: cfg->start_exec).  `cfg` may
 * be NULL for defaults. */
int th_wasm_instance_new(th_wasm_module *m, const th_wasm_imports *imports,
                         const th_wasm_instance_config *cfg, th_wasm_instance **out, th_error *err);
void th_wasm_instance_free(th_wasm_instance *inst); /* NULL ok */

void *th_wasm_instance_user(const th_wasm_instance *inst);
th_wasm_module *th_wasm_instance_module(const th_wasm_instance *inst);

/* Exports by name; NULL (or TH_ENOENT) if absent or of another kind.  The
 * _n forms take the name as `len` bytes, so a name holding NUL bytes can be
 * named; the others take a C string. */
th_wasm_func *th_wasm_instance_func(const th_wasm_instance *inst, const char *name);
th_wasm_func *th_wasm_instance_func_n(const th_wasm_instance *inst, const char *name, size_t len);
th_wasm_memory *th_wasm_instance_memory(const th_wasm_instance *inst, const char *name);
th_wasm_table *th_wasm_instance_table(const th_wasm_instance *inst, const char *name);
th_wasm_global *th_wasm_instance_global(const th_wasm_instance *inst, const char *name);
int th_wasm_instance_export(const th_wasm_instance *inst, const char *name,
                            th_wasm_extern_kind *kind /* out */, void **ext /* out */);
int th_wasm_instance_export_n(const th_wasm_instance *inst, const char *name, size_t len,
                              th_wasm_extern_kind *kind /* out */, void **ext /* out */);

/* Exports by index: th_wasm_module_export_index gives the index (the
 * numbering of th_wasm_module_export) of the export named by the `len`
 * bytes at `name`, or -1; the index holds for every instance of the
 * module, so an embedder that looks names up once per module reaches an
 * instance's exports without searching.  th_wasm_instance_export_at: the
 * object of export `i` (NULL if out of range) and its kind;
 * th_wasm_instance_func_at: the function, NULL if export `i` is not one. */
int64_t th_wasm_module_export_index(const th_wasm_module *m, const char *name, size_t len);
void *th_wasm_instance_export_at(const th_wasm_instance *inst, uint32_t i,
                                 th_wasm_extern_kind *kind /* out, may be NULL */);
th_wasm_func *th_wasm_instance_func_at(const th_wasm_instance *inst, uint32_t i);

/* Memory 0 of an instance (exported or not), NULL if it has none. */
th_wasm_memory *th_wasm_instance_memory0(const th_wasm_instance *inst);

/* ------------------------------------------------------------------ */
/* Externs                                                            */

const th_wasm_functype *th_wasm_func_type(const th_wasm_func *f);

/* Standalone externs (the spectest module, embedder-owned memories). */
th_wasm_memory *th_wasm_memory_new(uint32_t min_pages, uint32_t max_pages /* UINT32_MAX: none */);
void th_wasm_memory_free(th_wasm_memory *mem);
/* Base pointer and size in bytes.  The pointer changes when the memory
 * grows: fetch it again after any call into wasm. */
uint8_t *th_wasm_memory_data(const th_wasm_memory *mem, uint64_t *size /* out */);
/* Grow by `delta` pages; returns the old size in pages, or -1. */
int64_t th_wasm_memory_grow(th_wasm_memory *mem, uint32_t delta);

/* Packing an idle memory.  th_wasm_memory_pack copies the non-zero bytes
 * of the memory's resident pages into one heap block and gives the pages
 * back to the kernel (they read as zeroes until touched), when the memory
 * has at most `max_resident` bytes resident and their non-zero bytes take
 * at most half of that: 1 if packed, 0 if not (too big, nothing resident,
 * not worth it, already packed), or TH_ENOMEM.  While packed, the memory's
 * contents are wrong: nothing may run in its instance or read or write it
 * until th_wasm_memory_unpack has put them back (a no-op if not packed).
 * Growing and freeing a packed memory are allowed.  A memory packs with
 * its size and limits unchanged. */
int th_wasm_memory_pack(th_wasm_memory *mem, size_t max_resident);
/* The same for `n` memories at once, with fewer calls into the kernel
 * (memories whose mappings touch give their pages back in one): status[i]
 * is what th_wasm_memory_pack would return for mems[i].  Returns how many
 * were packed. */
size_t th_wasm_memory_pack_many(th_wasm_memory *const *mems, size_t n, size_t max_resident,
                                int *status /* out, n entries */);
void th_wasm_memory_unpack(th_wasm_memory *mem);
bool th_wasm_memory_packed(const th_wasm_memory *mem);

th_wasm_table *th_wasm_table_new(uint8_t reftype, uint32_t min,
                                 uint32_t max /* UINT32_MAX: none */);
void th_wasm_table_free(th_wasm_table *t);
uint32_t th_wasm_table_size(const th_wasm_table *t);
int th_wasm_table_get(const th_wasm_table *t, uint32_t i, void **ref /* out */);
int th_wasm_table_set(th_wasm_table *t, uint32_t i, void *ref);

th_wasm_global *th_wasm_global_new(uint8_t valtype, bool mutable_, th_wasm_val v);
void th_wasm_global_free(th_wasm_global *g);
th_wasm_val th_wasm_global_get(const th_wasm_global *g);
uint8_t th_wasm_global_type(const th_wasm_global *g);
int th_wasm_global_set(th_wasm_global *g, th_wasm_val v); /* TH_EPERM if immutable */

/* ------------------------------------------------------------------ */
/* Execution                                                          */

typedef struct th_wasm_exec_config {
    size_t max_stack_bytes;  /* the wasm stack (value slots + frame records), in
                                bytes; 0 = default (8 MiB, >= 100,000 frames of
                                a small function); at least 4 KiB */
    uint32_t max_call_depth; /* optional limit on wasm frames; 0 = none (only bytes) */
} th_wasm_exec_config;

/* An exec starts small and grows its stack on demand up to the limit;
 * an idle exec holds no stack at all (see th_wasm_exec_keep_stacks).  Exceeding a limit traps with
 * TH_WASM_TRAP_STACK_EXHAUSTED, whose message names the limit. */
th_wasm_exec *th_wasm_exec_new(const th_wasm_exec_config *cfg /* may be NULL */);

/* Change the stack byte limit (0 = default), e.g. per actor on a pooled
 * exec; takes effect for the next growth of the stack. */
void th_wasm_exec_set_max_stack(th_wasm_exec *ex, size_t bytes);
size_t th_wasm_exec_max_stack(const th_wasm_exec *ex);
/* Let an idle exec keep its stacks while they have their initial size (4
 * KiB of values and 16 frame records) and fit its limit, so the next call
 * allocates nothing: for an exec kept in a pool and used for one short call
 * after another.  Stacks that grew are still released when the call ends.
 * Off by default (an idle exec then holds no stack). */
void th_wasm_exec_keep_stacks(th_wasm_exec *ex, bool keep);
void th_wasm_exec_free(th_wasm_exec *ex); /* NULL ok; aborts a suspended call */

void th_wasm_exec_set_user(th_wasm_exec *ex, void *user);
void *th_wasm_exec_user(const th_wasm_exec *ex);

/* Fuel: the number of fuel units (function entries and loop iterations,
 * roughly basic blocks) the exec may still spend.  UINT64_MAX = unlimited
 * (the default).  May be changed while a call is suspended. */
void th_wasm_exec_set_fuel(th_wasm_exec *ex, uint64_t fuel);
uint64_t th_wasm_exec_fuel(const th_wasm_exec *ex);

/*
 * Call `fn` with `args` (per its type; nargs and nresults count slots, a
 * v128 taking two).  Returns TH_OK with the results in
 * `results`, or TH_WASM_SUSPENDED / TH_WASM_OUT_OF_FUEL (the call is kept
 * on the exec; resume or abort it), or TH_WASM_TRAPPED (the exec is idle
 * again; the trap is described by th_wasm_exec_trap_*), or a negative TH_E*
 * code for misuse (exec busy, wrong argument count).
 */
int th_wasm_exec_call(th_wasm_exec *ex, th_wasm_func *fn, const th_wasm_val *args, uint32_t nargs,
                      th_wasm_val *results, uint32_t nresults);

/* Continue a suspended or out-of-fuel call.  After TH_WASM_SUSPENDED,
 * `host_results` are the suspended host function's results; after
 * TH_WASM_OUT_OF_FUEL it is ignored (set fuel first).  `results` receives
 * the call's results when it finishes.  Same returns as th_wasm_exec_call. */
int th_wasm_exec_resume(th_wasm_exec *ex, const th_wasm_val *host_results, th_wasm_val *results,
                        uint32_t nresults);

/* Abandon a suspended/out-of-fuel call; the exec becomes idle, with a
 * trap (TH_WASM_TRAP_FUEL "fuel exhausted", or TH_WASM_TRAP_ABORTED "call
 * aborted") whose backtrace names the frames the call had reached. */
void th_wasm_exec_abort(th_wasm_exec *ex);

/* True while a call is suspended or out of fuel on this exec. */
bool th_wasm_exec_is_suspended(const th_wasm_exec *ex);

/* After TH_WASM_TRAPPED: what and where.  Strings live until the next call. */
th_wasm_trap_kind th_wasm_exec_trap_kind(const th_wasm_exec *ex);
const char *th_wasm_exec_trap_message(const th_wasm_exec *ex); /* e.g. "integer divide by zero" */
const char *
th_wasm_exec_backtrace(const th_wasm_exec *ex); /* one frame per line, innermost first */

/* ------------------------------------------------------------------ */
/* Inside a host function                                             */

th_wasm_exec *th_wasm_call_exec(th_wasm_call *call);
th_wasm_instance *th_wasm_call_instance(th_wasm_call *call); /* the caller's instance */
/* Memory 0 of the calling instance and its size; NULL if none.  Fetch again
 * after th_wasm_call_invoke (a nested call may grow memory). */
uint8_t *th_wasm_call_memory(th_wasm_call *call, uint64_t *size /* out */);
/* Set the trap message; returns TH_WASM_TRAPPED for `return` convenience. */
int th_wasm_call_trap(th_wasm_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same for a host function that ran out of memory itself (kind
 * TH_WASM_TRAP_OOM: the host failed, not the module). */
int th_wasm_call_trap_oom(th_wasm_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Call back into wasm (e.g. the guest's cabi_realloc) on the same exec.
 * The nested call cannot suspend (a suspension there traps).  Returns TH_OK
 * or TH_WASM_TRAPPED / TH_WASM_OUT_OF_FUEL; in the latter cases the host
 * function should return TH_WASM_TRAPPED. */
int th_wasm_call_invoke(th_wasm_call *call, th_wasm_func *fn, const th_wasm_val *args,
                        th_wasm_val *results);

#ifdef __cplusplus
}
#endif
#endif
