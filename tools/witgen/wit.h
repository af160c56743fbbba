/*
 * wit.h - the WIT model of witgen: a parser for the subset of WIT the
 * `theater:simple` package uses (interfaces with records, variants, enums,
 * type aliases, `use` across interfaces, functions; one world) and the
 * Canonical ABI facts derived from it (size, alignment, field offsets,
 * flattening).
 *
 * Types live in one array; an index names a type.  After wit_resolve every
 * reference and alias is replaced by its target (wit_canon) and structurally
 * equal anonymous types (two `option<list<u8>>`) share one index, so an index
 * is also the identity of the C type emitted for it.
 */
#ifndef WITGEN_WIT_H
#define WITGEN_WIT_H

#include <stdbool.h>
#include <stddef.h>

enum {
    W_BOOL,
    W_U8,
    W_U16,
    W_U32,
    W_U64,
    W_S8,
    W_S16,
    W_S32,
    W_S64,
    W_F32,
    W_F64,
    W_CHAR,
    W_STRING,
    W_LIST,
    W_OPTION,
    W_RESULT,
    W_TUPLE,
    W_RECORD,
    W_VARIANT,
    W_ENUM,
    W_ALIAS, /* type x = T: target in m[0] */
    W_REF,   /* a name not yet resolved: name, iface */
};

/* Flat core value types. */
enum { F_I32, F_I64, F_F32, F_F64 };

#define WIT_MAX_MEMBERS 32
#define WIT_MAX_FLAT 64

typedef struct wit_type {
    int kind;
    int n;                        /* members */
    int m[WIT_MAX_MEMBERS];       /* member types, -1 = none (result's _, payload-less case) */
    char *names[WIT_MAX_MEMBERS]; /* record fields, variant and enum cases */
    char *name;                   /* named types and W_REF: the WIT name */
    int iface;                    /* declaring (named) or referencing (W_REF) interface */
    int canon;                    /* after wit_resolve: the canonical index */
    /* Canonical ABI, after wit_resolve (canonical types only) */
    unsigned size, align;
    unsigned
        off[WIT_MAX_MEMBERS]; /* record/tuple: field offsets; variants: payload offset in off[0] */
    unsigned disc;            /* variants: discriminant bytes */
    int flat[WIT_MAX_FLAT];
    int nflat;        /* -1: too many to flatten */
    char mangle[256]; /* C name part: "opt_bytes", "store_content_ref" */
} wit_type;

typedef struct wit_param {
    char *name;
    int type;
} wit_param;

typedef struct wit_func {
    char *name;
    int iface;
    wit_param params[WIT_MAX_MEMBERS];
    int nparams;
    int result; /* -1: none */
} wit_func;

typedef struct wit_scope {
    char *name;
    int type;
} wit_scope;

typedef struct wit_iface {
    char *name;
    wit_scope *scope; /* declared and used names */
    int nscope;
    int *funcs;
    int nfuncs;
    int role; /* 0: types only, 1: import (host), 2: export (guest) */
} wit_iface;

typedef struct wit_pkg {
    char *package; /* "theater:simple" */
    wit_type *types;
    int ntypes;
    wit_iface *ifaces;
    int nifaces;
    wit_func *funcs;
    int nfuncs;
} wit_pkg;

/* Parse one file's text into pkg (files may be parsed in any order).
 * Returns 0, or -1 after printing "file:line: message" to stderr. */
int wit_parse(wit_pkg *pkg, const char *file, const char *text);
/* Resolve names, deduplicate, compute layouts and flattening.  0 or -1. */
int wit_resolve(wit_pkg *pkg);
/* The canonical index of t (follows aliases). */
int wit_canon(const wit_pkg *pkg, int t);
/* The type written as WIT ("option<list<u8>>", "channel-accept"). */
void wit_text(const wit_pkg *pkg, int t, char *out, size_t cap);
/* Whether values of t own memory (strings, lists). */
bool wit_owns(const wit_pkg *pkg, int t);
/* Interface index by name, or -1. */
int wit_iface_find(const wit_pkg *pkg, const char *name);
/* Layout of the tuple of a function's parameters (for the 16-param rule):
 * size, alignment and offsets[nparams]. */
void wit_params_layout(const wit_pkg *pkg, const wit_func *f, unsigned *size, unsigned *align,
                       unsigned *offsets);
/* Flat parameter count of f (sum of its params' flat counts). */
int wit_params_nflat(const wit_pkg *pkg, const wit_func *f);

#endif
