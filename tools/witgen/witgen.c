/*
 * witgen.c - generates the Canonical ABI glue of the `theater:simple`
 * package from its WIT (wit/NAME.wit), so that the host and its tests cannot
 * disagree with the interface description.
 *
 *   witgen --host-h wit_glue.h --host-c wit_glue.c
 *          [--test-h wit_test.h --test-c wit_test.c] [--guest-h theater_wit.h] wit/NAME.wit...
 *
 * For the host (the runtime and its handlers) it writes:
 *   - a C type per WIT type the functions use (records, variants, enums,
 *     options, results, tuples, lists, strings), owning its memory;
 *   - per host interface (world imports) an implementation table
 *     (wit_impl_<iface>: one function pointer per WIT function, taking C
 *     values) and the host functions the engine calls: each lifts its core
 *     arguments into C values (checking every pointer, length, alignment,
 *     discriminant and UTF-8 string), calls the implementation, lowers the
 *     result (through the guest's cabi_realloc for strings and lists; the
 *     16-flat-params and 1-flat-result rules, retptr) and records the call
 *     ("host-call" event: its input and output as JSON);
 *   - per guest export the lowering of its parameters and the lifting of
 *     its result, for the runtime's calls into the actor;
 *   - tables of every function's core signature and of every type's
 *     layout, which the tests compare with the hand-written expectations.
 *
 * The parts: witgen.c (the shared helpers, C type declarations and main),
 * gen_host.c (host glue), gen_test.c (test glue), gen_guest.c (the guest
 * SDK's glue); witgen.h is what they share; wit.c parses the WIT.
 *
 * The JSON of a record is the value written by type: bool and numbers as
 * JSON numbers, strings as strings, list<u8> as lowercase hex, other lists
 * and tuples as arrays, records as objects keyed by WIT field name, options
 * as the value or null, results as {"ok": v} / {"err": e}, enums as the case
 * name, variants as the case name or {"case": payload}.  A call's input is
 * an object keyed by WIT parameter name (null for no parameters).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "witgen.h"

FILE *out;
wit_pkg P;
char *used; /* canonical types reachable from a function */

void E(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
}

wit_type *T(int t)
{
    return &P.types[t];
}

/* C identifier of a WIT name ("parent-hash" -> "parent_hash"). */
const char *cid(const char *s)
{
    static const char *const kw[] = {
        "auto",     "break",  "case",   "char",     "const",    "continue", "default",  "do",
        "double",   "else",   "enum",   "extern",   "float",    "for",      "goto",     "if",
        "inline",   "int",    "long",   "register", "restrict", "return",   "short",    "signed",
        "sizeof",   "static", "struct", "switch",   "typedef",  "union",    "unsigned", "void",
        "volatile", "while",  "bool",   "true",     "false",    "new"};
    static char buf[8][128];
    static int k;
    char *o = buf[k++ % 8];
    size_t i;

    for (i = 0; s[i] && i + 2 < sizeof buf[0]; i++)
        o[i] = s[i] == '-' ? '_' : s[i];
    o[i] = 0;
    for (i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(o, kw[i]) == 0)
            strcat(o, "_");
    return o;
}

const char *upper(const char *s)
{
    static char buf[4][256];
    static int k;
    char *o = buf[k++ % 4];
    size_t i;

    for (i = 0; s[i] && i + 1 < sizeof buf[0]; i++)
        o[i] = s[i] == '-' ? '_' : (char)toupper((unsigned char)s[i]);
    o[i] = 0;
    return o;
}

bool prim(int t)
{
    return T(t)->kind <= W_CHAR;
}

const char *ctype_prefixed(int t, const char *prefix)
{
    static const char *const pc[] = {"bool",     "uint8_t", "uint16_t", "uint32_t",
                                     "uint64_t", "int8_t",  "int16_t",  "int32_t",
                                     "int64_t",  "float",   "double",   "uint32_t"};
    static char buf[8][300];
    static int k;
    char *o;

    if (prim(t))
        return pc[T(t)->kind];
    o = buf[k++ % 8];
    snprintf(o, sizeof buf[0], "%s_%s", prefix, T(t)->mangle);
    return o;
}

const char *ctype(int t)
{
    return ctype_prefixed(t, "wit");
}

void mark(int t)
{
    int i;

    if (t < 0 || used[t])
        return;
    used[t] = 1;
    for (i = 0; i < T(t)->n; i++)
        if (T(t)->kind != W_ENUM)
            mark(T(t)->m[i]);
}

/* ------------------------------------------------------------------ */
/* Type declarations                                                  */

char *declared;

void declare(int t)
{
    wit_type *w = T(t);
    int i;

    if (declared[t] || prim(t))
        return;
    declared[t] = 1;
    for (i = 0; i < w->n; i++)
        if (w->m[i] >= 0 && w->kind != W_ENUM && w->kind != W_LIST)
            declare(w->m[i]);
    if (w->kind == W_LIST)
        declare(w->m[0]);
    switch (w->kind) {
    case W_STRING:
        E("/* string: UTF-8, NUL-terminated copy (len excludes the NUL). */\n");
        E("typedef struct wit_str {\n    char *ptr;\n    size_t len;\n} wit_str;\n\n");
        return;
    case W_LIST:
        if (T(w->m[0])->kind == W_U8) {
            E("/* list<u8> */\ntypedef struct wit_bytes {\n    uint8_t *ptr;\n    size_t len;\n} "
              "wit_bytes;\n\n");
            return;
        }
        E("typedef struct %s {\n    %s *ptr;\n    size_t len;\n} %s;\n\n", ctype(t), ctype(w->m[0]),
          ctype(t));
        return;
    case W_OPTION:
        E("typedef struct %s {\n    bool some;\n    %s val;\n} %s;\n\n", ctype(t), ctype(w->m[1]),
          ctype(t));
        return;
    case W_RESULT:
        E("typedef struct %s {\n    bool is_err;\n", ctype(t));
        if (w->m[0] >= 0)
            E("    %s ok;\n", ctype(w->m[0]));
        if (w->m[1] >= 0)
            E("    %s err;\n", ctype(w->m[1]));
        E("} %s;\n\n", ctype(t));
        return;
    case W_TUPLE:
        E("typedef struct %s {\n", ctype(t));
        for (i = 0; i < w->n; i++)
            E("    %s f%d;\n", ctype(w->m[i]), i);
        E("} %s;\n\n", ctype(t));
        return;
    case W_RECORD:
        E("/* %s.%s */\ntypedef struct %s {\n", P.ifaces[w->iface].name, w->name, ctype(t));
        for (i = 0; i < w->n; i++)
            E("    %s %s;\n", ctype(w->m[i]), cid(w->names[i]));
        E("} %s;\n\n", ctype(t));
        return;
    case W_ENUM:
    case W_VARIANT:
        E("/* %s.%s */\nenum {\n", P.ifaces[w->iface].name, w->name);
        for (i = 0; i < w->n; i++)
            E("    WIT_%s_%s = %d,\n", upper(w->mangle), upper(w->names[i]), i);
        E("};\n");
        if (w->kind == W_ENUM) {
            E("typedef uint32_t %s;\n\n", ctype(t));
            return;
        }
        E("typedef struct %s {\n    uint32_t tag;\n", ctype(t));
        for (i = 0; i < w->n; i++)
            if (w->m[i] >= 0)
                E("    %s %s; /* payload of %s */\n", ctype(w->m[i]), cid(w->names[i]),
                  w->names[i]);
        E("} %s;\n\n", ctype(t));
        return;
    default: return;
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (buf = malloc((size_t)n + 1)) == NULL) {
        fclose(f);
        return NULL;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *hpath = NULL, *cpath = NULL, *thpath = NULL, *tcpath = NULL, *ghpath = NULL;
    int i, j;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host-h") == 0 && i + 1 < argc) {
            hpath = argv[++i];
        } else if (strcmp(argv[i], "--host-c") == 0 && i + 1 < argc) {
            cpath = argv[++i];
        } else if (strcmp(argv[i], "--guest-h") == 0 && i + 1 < argc) {
            ghpath = argv[++i];
        } else if (strcmp(argv[i], "--test-h") == 0 && i + 1 < argc) {
            thpath = argv[++i];
        } else if (strcmp(argv[i], "--test-c") == 0 && i + 1 < argc) {
            tcpath = argv[++i];
        } else {
            char *text = slurp(argv[i]);
            if (text == NULL) {
                perror(argv[i]);
                return 1;
            }
            if (wit_parse(&P, argv[i], text) != 0)
                return 1;
            free(text);
        }
    }
    if (P.package == NULL) {
        fprintf(stderr, "usage: witgen --host-h FILE --host-c FILE [--test-h FILE --test-c FILE] "
                        "[--guest-h FILE] WIT-FILE...\n");
        return 2;
    }
    if (wit_resolve(&P) != 0)
        return 1;
    used = calloc((size_t)P.ntypes, 1);
    for (i = 0; i < P.nfuncs; i++) {
        if (P.ifaces[P.funcs[i].iface].role == 0) {
            fprintf(stderr, "witgen: interface %s has functions but is not in a world\n",
                    P.ifaces[P.funcs[i].iface].name);
            return 1;
        }
        for (j = 0; j < P.funcs[i].nparams; j++)
            mark(P.funcs[i].params[j].type);
        mark(P.funcs[i].result);
    }
    if (hpath != NULL && cpath != NULL && write_host(hpath, cpath) != 0)
        return 1;
    if (thpath != NULL && tcpath != NULL && write_test(thpath, tcpath) != 0)
        return 1;
    declared = declared != NULL ? declared : calloc((size_t)P.ntypes, 1);
    if (ghpath != NULL && write_guest(ghpath) != 0)
        return 1;
    return 0;
}
