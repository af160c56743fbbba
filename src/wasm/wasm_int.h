/*
 * wasm_int.h - internal data structures of the engine, shared by its files.
 *
 * Who writes what:
 *   decode.c    bytes -> th_wasm_module (all sections, the name section);
 *               its reader (LEB128, names, type encodings) is decode_read.c
 *   validate.c  module-level validation (everything outside function bodies)
 *   compile.c   function bodies: validation + translation to internal code
 *               (struct wasm_code, defined in interp.h with the interpreter);
 *               compile_emit.c its code buffer, compile_ops.c and
 *               compile_simd.c the other instructions
 *   interp.c    the interpreter (direct-threaded, slot operands); its handler
 *               families are stamped out by interp_shapes.h's macros
 *   exec.c      th_wasm_exec: stacks, call/resume/suspend, fuel, traps
 *   instance.c  instantiation, import resolution, const expressions,
 *               element/data segments, start function, exports
 *   memory.c    linear memories, tables, globals (standalone and owned)
 *   types.c     global interning of function types (canonical ids)
 *   module.c    th_wasm_module_new/_validate/_free and introspection
 *
 * Invariants: after th_wasm_module_new succeeds the module is immutable and
 * every index inside it has been checked against its index space, so the
 * instantiator and interpreter never re-check them.
 */
#ifndef THEATER_WASM_INT_H
#define THEATER_WASM_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "theater/wasm.h"
#include "base/limits.h"

#define WASM_PAGE_SIZE 65536u
#define WASM_MAX_PAGES 65536u /* 4 GiB for wasm32 */

/* Section ids of the binary format. */
enum {
    WASM_SEC_CUSTOM = 0,
    WASM_SEC_TYPE = 1,
    WASM_SEC_IMPORT = 2,
    WASM_SEC_FUNCTION = 3,
    WASM_SEC_TABLE = 4,
    WASM_SEC_MEMORY = 5,
    WASM_SEC_GLOBAL = 6,
    WASM_SEC_EXPORT = 7,
    WASM_SEC_START = 8,
    WASM_SEC_ELEMENT = 9,
    WASM_SEC_CODE = 10,
    WASM_SEC_DATA = 11,
    WASM_SEC_DATACOUNT = 12,
};

/* ------------------------------------------------------------------ */
/* Decoded module                                                     */

typedef struct wasm_functype {
    union {
        struct {
            uint32_t nparams, nresults;
            uint8_t *types; /* nparams + nresults valtypes, params first (owned) */
        };
        th_wasm_functype pub; /* the same three fields, as the public type
                                 (th_wasm_func_type returns &type->pub) */
    };
    uint32_t canon; /* process-wide id: equal iff structurally equal */
} wasm_functype;

typedef struct wasm_limits {
    uint64_t min, max; /* max valid only if has_max */
    bool has_max;
} wasm_limits;

typedef struct wasm_tabletype {
    uint8_t reftype; /* TH_WASM_FUNCREF or TH_WASM_EXTERNREF */
    wasm_limits limits;
} wasm_tabletype;

typedef struct wasm_globaltype {
    uint8_t valtype;
    bool mut;
} wasm_globaltype;

/* A constant expression: bytes [off, off+len) of module->bytes, the
 * instructions including the terminating `end` (0x0b).  validate.c checks
 * that it is constant and of the right type; instance.c evaluates it. */
typedef struct wasm_expr {
    uint32_t off, len;
} wasm_expr;

typedef struct wasm_import {
    char *module, *name; /* NUL-terminated copies (owned); may contain NUL */
    uint32_t module_len, name_len;
    uint8_t kind; /* th_wasm_extern_kind */
    uint32_t at;  /* byte offset of the entry (validation messages) */
    union {
        uint32_t type_idx; /* FUNC */
        wasm_tabletype table;
        wasm_limits mem;
        wasm_globaltype global;
    } u;
} wasm_import;

typedef struct wasm_export {
    char *name; /* owned, NUL-terminated */
    uint32_t name_len;
    uint8_t kind;
    uint32_t idx;
    uint32_t at; /* byte offset of the entry (validation messages) */
} wasm_export;

enum { WASM_SEG_ACTIVE = 0, WASM_SEG_PASSIVE = 1, WASM_SEG_DECLARATIVE = 2 };

typedef struct wasm_elem {
    uint8_t mode; /* WASM_SEG_* */
    uint8_t reftype;
    uint32_t at;      /* byte offset of the segment (validation messages) */
    uint32_t table;   /* ACTIVE only */
    wasm_expr offset; /* ACTIVE only */
    uint32_t count;
    uint32_t *funcs;  /* function-index form: count indices (owned), or NULL */
    wasm_expr *exprs; /* expression form: count expressions (owned), or NULL */
} wasm_elem;

typedef struct wasm_data {
    uint8_t mode; /* ACTIVE or PASSIVE */
    uint32_t mem;
    uint32_t at;       /* byte offset of the segment (validation messages) */
    wasm_expr offset;  /* ACTIVE only */
    uint32_t off, len; /* the bytes, inside module->bytes */
} wasm_data;

typedef struct wasm_body {
    uint32_t nlocals;     /* declared locals, not counting params */
    uint8_t *local_types; /* nlocals valtypes (owned) */
    uint32_t off, len;    /* instructions incl. the final end, in module->bytes */
} wasm_body;

struct wasm_code; /* translated function, see interp.h */

struct th_wasm_module {
    atomic_int refcount;
    uint8_t *bytes; /* owned copy of the binary */
    size_t len;

    wasm_functype *types;
    uint32_t ntypes;
    wasm_import *imports;
    uint32_t nimports;

    /* Index spaces: imported entries first, then defined ones. */
    uint32_t nfuncs, nfunc_imports;
    uint32_t *func_type; /* nfuncs type indices */
    uint32_t ntables, ntable_imports;
    wasm_tabletype *tables; /* ntables */
    uint32_t nmems, nmem_imports;
    wasm_limits *mems; /* nmems */
    uint32_t nglobals, nglobal_imports;
    wasm_globaltype *globals; /* nglobals */
    wasm_expr *global_init;   /* nglobals - nglobal_imports */

    wasm_export *exports;
    uint32_t nexports;
    bool has_start;
    uint32_t start;
    /* Byte offset of each section's contents (after its size), 0 when
     * absent: validation messages name the entry that is wrong
     * (wasm_entry_offset). */
    uint32_t sec_at[WASM_SEC_DATACOUNT + 1];
    wasm_elem *elems;
    uint32_t nelems;
    wasm_data *datas;
    uint32_t ndatas;
    bool has_datacount;
    uint32_t datacount;
    wasm_body *bodies; /* nfuncs - nfunc_imports */

    /* C.refs of the validation spec: functions that ref.func may name
     * (those in element segments, exports, and global initializers). */
    uint8_t *func_declared; /* nfuncs flags (owned) */

    /* name section (optional; NULL entries when absent) */
    char *name;        /* module name or NULL */
    char **func_names; /* nfuncs entries or NULL */

    uint32_t *export_order; /* nexports indices sorted by name (module.c) */

    struct wasm_code **code; /* nfuncs - nfunc_imports, set by compile.c */
};

/* ------------------------------------------------------------------ */
/* Runtime objects                                                    */

struct th_wasm_memory {
    uint8_t *data;              /* base; moves on growth */
    uint64_t size;              /* current size in bytes (multiple of 64 KiB) */
    uint64_t max_pages;         /* from the type, or WASM_MAX_PAGES */
    uint64_t limit_bytes;       /* embedder limit (instance config), 0 = none */
    size_t mapped;              /* bytes mapped (>= size): its own mapping, or its slot */
    int8_t slab;                /* its slot's size class (memory.c), -1: its own mapping */
    bool has_max;               /* the type declares a maximum (import matching) */
    struct wasm_packed *packed; /* while packed (th_wasm_memory_pack): the
                                   non-zero bytes of the pages given back */
};

struct th_wasm_table {
    void **elems;       /* funcref: th_wasm_func*; externref: opaque; NULL = null */
    uint32_t size, max; /* max = UINT32_MAX if none */
    uint32_t cap;
    uint8_t reftype;
    bool has_max; /* the type declares a maximum (import matching) */
};

struct th_wasm_global {
    th_wasm_val val; /* v128: the low 8 bytes (lanes at the lowest addresses) */
    uint64_t hi;     /* v128: the high 8 bytes; 0 for other types */
    uint8_t type;
    bool mut;
};

struct th_wasm_func {
    const wasm_functype *type;
    th_wasm_instance *inst; /* defining instance; NULL for host functions */
    struct wasm_code *code; /* wasm functions */
    th_wasm_host_fn host;   /* host functions */
    void *host_ctx;
    uint32_t idx; /* index in the defining module (for names) */
};

/* Evaluated element segment of an instance (dropped: len = 0). */
typedef struct wasm_elem_inst {
    void **refs;
    uint32_t len;
} wasm_elem_inst;

struct th_wasm_instance {
    th_wasm_module *mod;
    th_wasm_func **funcs; /* nfuncs: imported, then &own_funcs[i] */
    th_wasm_func *own_funcs;
    th_wasm_table **tables;
    th_wasm_memory **mems;
    th_wasm_global **globals;
    wasm_elem_inst *elems; /* nelems */
    uint32_t *data_len;    /* ndatas; 0 once dropped */
    th_wasm_memory *mem0;  /* mems[0] or NULL */
    void *user;
    uint64_t max_memory_bytes;
    /* instance.c may add private bookkeeping (owned objects) below */
    void *priv;
};

/* ------------------------------------------------------------------ */
/* Internal functions (prefix wasm_), by file.                        */

/* decode.c: parse a binary into a new module (refcount 1).  Messages carry
 * the byte offset: "at offset 0x1f: unexpected end". */
int wasm_decode(const uint8_t *bytes, size_t len, th_wasm_module **out, th_error *err);
/* decode.c: one instruction of a constant expression whose syntax the
 * decoder has checked.  wasm_expr_next decodes the instruction at *pos
 * (bytes [*pos, end) of m->bytes) and advances *pos.  Returns 1 for a
 * constant instruction (t.const: imm = the value's bits, v128.const also
 * imm_hi; ref.null: imm =
 * the reftype; ref.func, global.get: imm = the index), 0 for `end`, -1 for
 * any other instruction (out->op says which). */
typedef struct wasm_cinstr {
    uint8_t op; /* 0xfd for v128.const */
    uint64_t imm;
    uint64_t imm_hi; /* v128.const: the high 8 bytes (imm: the low 8) */
} wasm_cinstr;
int wasm_expr_next(const th_wasm_module *m, size_t *pos, size_t end, wasm_cinstr *out);
/* decode.c: the byte offset of defined entry `i` (not counting imports) of
 * the function, table or memory section `sec` (WASM_SEC_*), found by
 * reading the section again; the section's offset if it cannot be. */
size_t wasm_entry_offset(const th_wasm_module *m, uint8_t sec, uint32_t i);

/* validate.c: export indices sorted by (length, bytes) of their names, in
 * a new array (*out, owned by the caller).  Returns 0 or TH_ENOMEM. */
int wasm_export_order(const th_wasm_module *m, uint32_t **out);

/* imports.c: the binding of (module, name), or TH_ENOENT. */
int wasm_imports_find(const th_wasm_imports *imp, const char *module, uint32_t module_len,
                      const char *name, uint32_t name_len, uint8_t *kind /* out */,
                      void **ext /* out */);

/* module.c: release everything a module owns (after refcount hits 0). */
void wasm_module_destroy(th_wasm_module *m);

/* validate.c: module-level validation (not function bodies). */
int wasm_validate_module(const th_wasm_module *m, th_error *err);

/* compile.c: validate and translate every function body into m->code. */
int wasm_compile_module(th_wasm_module *m, th_error *err);
void wasm_code_free(struct wasm_code *code);

/* types.c: canonical id of a function type, thread-safe; equal types get
 * equal ids.  Each call takes a reference on the id (0 = out of memory),
 * which wasm_functype_release gives back; an id may be reused for another
 * type once its last reference is gone. */
uint32_t wasm_functype_canon(const uint8_t *types, uint32_t nparams, uint32_t nresults);
void wasm_functype_release(uint32_t canon);

/* memory.c */
/* `first_page`: the caller writes the memory's first page at once (a
 * data segment there), so it may come already resident. */
int wasm_memory_init(th_wasm_memory *mem, uint64_t min_pages, uint64_t max_pages,
                     uint64_t limit_bytes, bool first_page);
void wasm_memory_release(th_wasm_memory *mem);
/* Grow by delta pages; returns the old size in pages or -1 (limit, max,
 * or allocation failure).  Updates mem->data/size. */
int64_t wasm_memory_grow(th_wasm_memory *mem, uint64_t delta);
int wasm_table_init(th_wasm_table *t, uint8_t reftype, uint32_t min, uint32_t max, void *init);
void wasm_table_release(th_wasm_table *t);
int64_t wasm_table_grow(th_wasm_table *t, uint32_t delta, void *init);

/* exec.c: run a function to completion with `fuel` (0 = unlimited) on
 * exec `on` (idle; its fuel setting is restored afterwards, its trap
 * message and backtrace describe a trap) or, if NULL, a fresh internal one;
 * used for the start function.  On trap fills err (TH_ETRAP) with the trap
 * message. */
int wasm_run_start(th_wasm_func *fn, uint64_t fuel, th_wasm_exec *on, th_error *err);

#endif
