/*
 * wit_parse.h - the tests' own WIT parser: reads the subset of the
 * WebAssembly interface language that the `theater:simple` package uses
 * into full type trees, for the tests that check the ABI against it
 * (tests/unit/test_sdk_abi.c, tests/unit/test_sdk_wit_types.c).
 *
 * It is independent of the project's generator (tools/witgen) on purpose:
 * the tests check what the generator's input says, and a fault in the
 * generator must not hide itself by being shared with its check.
 *
 * What it reads: `package ns:name;`; `interface i { ... }` holding
 * `use i.{a, b as c};` (i may be written ns:name/i, of this package only),
 * `type a = t;`, `record`, `enum`, `variant` (cases with or without a
 * payload) and `f: func(p: t, ...) -> t;`; `world w { import i; export i; }`
 * naming interfaces; // and block comments. Types: bool, u8..u64, s8..s64,
 * f32, f64, char, string, list<t>, option<t>, result (bare, result<t>,
 * result<t, e>, `_` for no type), tuple<...> and names. Not read (a syntax
 * error): resources, flags, handles, named or multiple results, versions,
 * `include`, feature gates, other packages' interfaces, world items other
 * than interface names. Names are at most WITP_NAME_LEN - 1 characters;
 * the other limits are the WITP_MAX_* below.
 *
 * Names resolve through an interface's scope (its own declarations and its
 * `use`s, followed to where a type is defined). A package read with
 * strict = false (ABI.md's WIT, which writes no `use`s) also finds a name
 * that no entry of the scope has in whichever one interface defines it.
 *
 * Ownership: a witp_pkg is the caller's (usually static: it is about 2 MiB)
 * and holds no pointers into the parsed text, which the caller may free
 * once parsed; the parser allocates nothing, so there is nothing to release.
 * Types, definitions and functions refer to each other by index into the
 * package's arrays; -1 is "none".
 */
#ifndef THEATER_TESTS_WIT_PARSE_H
#define THEATER_TESTS_WIT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define WITP_MAX_NODES 1536 /* type nodes of a package */
#define WITP_MAX_MEMBERS 24 /* fields, cases, type arguments, parameters */
#define WITP_MAX_IFACES 48  /* interfaces of a package */
#define WITP_MAX_DEFS 160   /* named types and `use`d names of a package */
#define WITP_MAX_FUNCS 160  /* functions of a package */
#define WITP_MAX_WORLD 48   /* import and export items of all worlds */
#define WITP_NAME_LEN 48    /* a name and its terminating 0 */
#define WITP_ERR_LEN 512    /* an error message and its terminating 0 */

enum witp_kind {
    WITP_PRIM,    /* name: bool, u8, ..., string */
    WITP_LIST,    /* args[0]: the element */
    WITP_OPTION,  /* args[0]: the payload */
    WITP_RESULT,  /* args[0]: ok, args[1]: err; -1 where none */
    WITP_TUPLE,   /* args: the elements */
    WITP_RECORD,  /* names, args: the fields */
    WITP_ENUM,    /* names: the cases; args all -1 */
    WITP_VARIANT, /* names: the cases; args: their payloads (-1: none) */
    WITP_REF      /* name: a name used; iface: the interface whose scope has it */
};

typedef struct witp_type {
    enum witp_kind kind;
    char name[WITP_NAME_LEN]; /* the primitive, the name used, or the word (list, record ...) */
    int iface;                /* WITP_REF: the interface it was written in; else -1 */
    int args[WITP_MAX_MEMBERS];
    char names[WITP_MAX_MEMBERS][WITP_NAME_LEN]; /* record fields, enum and variant cases */
    int nargs;
} witp_type;

/* An entry of an interface's scope: a definition (node >= 0: the record,
 * enum or variant, or an alias's target) or a `use` (node < 0). */
typedef struct witp_def {
    int iface;
    char name[WITP_NAME_LEN];
    int node;
    bool alias;                                    /* `type name = node;` */
    char from[WITP_NAME_LEN], orig[WITP_NAME_LEN]; /* a use: the interface and its name there */
} witp_def;

typedef struct witp_func {
    int iface;
    char name[WITP_NAME_LEN];
    char pnames[WITP_MAX_MEMBERS][WITP_NAME_LEN];
    int params[WITP_MAX_MEMBERS], nparams;
    int result; /* -1: none */
} witp_func;

typedef struct witp_pkg {
    const char *what;            /* the package's name in messages ("ABI.md", "wit/"); not owned */
    bool strict;                 /* names resolve only through an interface's scope (WIT's rule) */
    char package[WITP_NAME_LEN]; /* "ns:name" of the last `package`; "" if none */
    char ifaces[WITP_MAX_IFACES][WITP_NAME_LEN];
    int nifaces;
    witp_type nodes[WITP_MAX_NODES];
    int nnodes;
    witp_def defs[WITP_MAX_DEFS];
    int ndefs;
    witp_func funcs[WITP_MAX_FUNCS];
    int nfuncs;
    struct {
        char iface[WITP_NAME_LEN];
        bool exported;
    } world[WITP_MAX_WORLD]; /* the items of all worlds, in order */
    int nworld, nworlds;
    char err[WITP_ERR_LEN]; /* the last error of witp_parse, witp_parse_types, witp_resolve_all */
} witp_pkg;

/* Empties k, which will be called `what` in messages (a string that must
 * outlive k) and resolve names strictly or not (see above). */
void witp_pkg_init(witp_pkg *k, const char *what, bool strict);

/* Adds the WIT `text` (one file's, named `file` in messages) to k. Returns
 * 0, or -1 with "file:line: message" in k->err; on error k holds what was
 * read before it. Names are not resolved: see witp_resolve_all. */
int witp_parse(witp_pkg *k, const char *file, const char *text);

/* Parses `text`, types separated by commas ("u32, option<foo>") as written
 * in interface iface (-1: in none, where only a non-strict package finds
 * names), into k's nodes: their indexes go to nodes[0..*n) (out). Returns
 * 0, or -1 with the error in k->err (also when there are more than cap
 * types). */
int witp_parse_types(witp_pkg *k, int iface, const char *text, int *nodes, int cap, int *n);

/* Checks that every name used in k and every `use` resolves. Returns 0, or
 * -1 with the first failure in k->err. */
int witp_resolve_all(witp_pkg *k);

/* The definition (index into k->defs, with node >= 0) that `name` denotes
 * in interface iface, following `use`s. Returns it, or -1 with the reason
 * in err[0..cap). */
int witp_resolve(const witp_pkg *k, int iface, const char *name, char *err, size_t cap);

/* The node the type `node` denotes with names and aliases followed: never a
 * WITP_REF. Returns it, or -1 with the reason in err[0..cap). */
int witp_type_of(const witp_pkg *k, int node, char *err, size_t cap);

/* Look-ups by name: the interface's index, the index in k->defs of the
 * entry of iface's scope (a definition or a use), the function; -1 or NULL
 * when there is none. */
int witp_iface_find(const witp_pkg *k, const char *name);
int witp_scope_find(const witp_pkg *k, int iface, const char *name);
const witp_func *witp_func_find(const witp_pkg *k, int iface, const char *name);

/* "primitive", "list", ..., "variant", "named type": the kind in messages. */
const char *witp_kind_name(enum witp_kind kind);

#endif
