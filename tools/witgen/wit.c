/*
 * wit.c - WIT parser and Canonical ABI layout for witgen (see wit.h).
 *
 * Grammar covered (the WIT specification's, minus what the package does
 * not use: resources, flags, futures and streams, named multi-results,
 * nested packages, feature gates):
 *
 *   file      := ('package' ns ':' name ('@' version)? ';')? item*
 *   item      := 'interface' id '{' member* '}' | 'world' id '{' wmember* '}'
 *   member    := 'use' id '.' '{' id ('as' id)? (',' ...)* '}' ';'
 *              | 'type' id '=' ty ';'
 *              | 'record' id '{' (id ':' ty ','?)* '}'
 *              | 'variant' id '{' (id ('(' ty ')')? ','?)* '}'
 *              | 'enum' id '{' (id ','?)* '}'
 *              | id ':' 'func' '(' (id ':' ty ','?)* ')' ('->' ty)? ';'
 *   wmember   := ('import' | 'export') id ';'
 *   ty        := bool | u8..u64 | s8..s64 | f32 | f64 | float32 | float64 | char | string
 *              | list<ty> | option<ty> | tuple<ty, ...> | result | result<ty | _ (, ty)?> | id
 *
 * Identifiers may carry WIT's '%' escape.  Comments are // and /+ +/ style.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wit.h"

typedef struct lexer {
    const char *file;
    const char *p;
    int line;
    char tok[256];
    int is_id;
    wit_pkg *pkg;
    int iface; /* current interface, -1 outside */
} lexer;

static int rerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void *xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);

    if (p == NULL) {
        fprintf(stderr, "witgen: out of memory\n");
        exit(2);
    }
    return p;
}

static void *xgrow(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fprintf(stderr, "witgen: out of memory\n");
        exit(2);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = xalloc(strlen(s) + 1);

    strcpy(d, s);
    return d;
}

static int perr(lexer *lx, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: ", lx->file, lx->line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return -1;
}

/* Advance to the next token (lx->tok; "" at the end). */
static int next(lexer *lx)
{
    size_t n = 0;

    for (;;) {
        while (isspace((unsigned char)*lx->p)) {
            if (*lx->p == '\n')
                lx->line++;
            lx->p++;
        }
        if (lx->p[0] == '/' && lx->p[1] == '/') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
            continue;
        }
        if (lx->p[0] == '/' && lx->p[1] == '*') {
            lx->p += 2;
            while (*lx->p && !(lx->p[0] == '*' && lx->p[1] == '/')) {
                if (*lx->p == '\n')
                    lx->line++;
                lx->p++;
            }
            if (!*lx->p)
                return perr(lx, "unterminated comment");
            lx->p += 2;
            continue;
        }
        break;
    }
    lx->is_id = 0;
    if (*lx->p == 0) {
        lx->tok[0] = 0;
        return 0;
    }
    if (*lx->p == '%' || isalnum((unsigned char)*lx->p) || *lx->p == '_') {
        if (*lx->p == '%')
            lx->p++;
        while (isalnum((unsigned char)*lx->p) || *lx->p == '-' || *lx->p == '_' || *lx->p == '.') {
            /* '.' only inside versions (digits around it) */
            if (*lx->p == '.' && !(n > 0 && isdigit((unsigned char)lx->tok[n - 1]) &&
                                   isdigit((unsigned char)lx->p[1])))
                break;
            if (n + 1 >= sizeof lx->tok)
                return perr(lx, "identifier too long");
            lx->tok[n++] = *lx->p++;
        }
        lx->tok[n] = 0;
        lx->is_id = 1;
        return 0;
    }
    if (lx->p[0] == '-' && lx->p[1] == '>') {
        strcpy(lx->tok, "->");
        lx->p += 2;
        return 0;
    }
    if (strchr("{}()<>,:;.=@/*", *lx->p) == NULL)
        return perr(lx, "unexpected character '%c'", *lx->p);
    lx->tok[0] = *lx->p++;
    lx->tok[1] = 0;
    return 0;
}

static int is(lexer *lx, const char *t)
{
    return strcmp(lx->tok, t) == 0;
}

static int expect(lexer *lx, const char *t)
{
    if (!is(lx, t))
        return perr(lx, "expected '%s', found '%s'", t, lx->tok);
    return next(lx);
}

/* Take an identifier into a fresh string. */
static int ident(lexer *lx, char **out)
{
    if (!lx->is_id)
        return perr(lx, "expected an identifier, found '%s'", lx->tok);
    *out = xstrdup(lx->tok);
    return next(lx);
}

static int new_type(wit_pkg *pkg, int kind)
{
    wit_type *t;
    int i;

    if (pkg->ntypes % 64 == 0)
        pkg->types = xgrow(pkg->types, (size_t)(pkg->ntypes + 64) * sizeof *pkg->types);
    t = &pkg->types[pkg->ntypes];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->iface = -1;
    t->canon = -1;
    for (i = 0; i < WIT_MAX_MEMBERS; i++)
        t->m[i] = -1;
    return pkg->ntypes++;
}

static int add_member(lexer *lx, int t, int type, char *name)
{
    wit_type *w = &lx->pkg->types[t];

    if (w->n >= WIT_MAX_MEMBERS)
        return perr(lx, "more than %d members", WIT_MAX_MEMBERS);
    w->m[w->n] = type;
    w->names[w->n] = name;
    w->n++;
    return 0;
}

static const struct {
    const char *name;
    int kind;
} prims[] = {
    {"bool", W_BOOL},     {"u8", W_U8},       {"u16", W_U16},     {"u32", W_U32},
    {"u64", W_U64},       {"s8", W_S8},       {"s16", W_S16},     {"s32", W_S32},
    {"s64", W_S64},       {"f32", W_F32},     {"f64", W_F64},     {"char", W_CHAR},
    {"string", W_STRING}, {"float32", W_F32}, {"float64", W_F64},
};

static int parse_type(lexer *lx, int *out);

/* '<' ty (',' ty)* '>' into the members of t. */
static int type_args(lexer *lx, int t, int allow_unit)
{
    int a;

    if (expect(lx, "<"))
        return -1;
    for (;;) {
        if (allow_unit && is(lx, "_")) {
            a = -1;
            if (next(lx))
                return -1;
        } else if (parse_type(lx, &a)) {
            return -1;
        }
        if (add_member(lx, t, a, NULL))
            return -1;
        if (is(lx, ">"))
            return next(lx);
        if (expect(lx, ","))
            return -1;
    }
}

static int parse_type(lexer *lx, int *out)
{
    wit_pkg *pkg = lx->pkg;
    size_t i;
    int t;

    if (!lx->is_id)
        return perr(lx, "expected a type, found '%s'", lx->tok);
    for (i = 0; i < sizeof prims / sizeof prims[0]; i++) {
        if (is(lx, prims[i].name)) {
            *out = new_type(pkg, prims[i].kind);
            return next(lx);
        }
    }
    if (is(lx, "list") || is(lx, "option") || is(lx, "tuple")) {
        int kind = is(lx, "list") ? W_LIST : is(lx, "option") ? W_OPTION : W_TUPLE;
        t = new_type(pkg, kind);
        if (next(lx) || type_args(lx, t, 0))
            return -1;
        if (kind != W_TUPLE && pkg->types[t].n != 1)
            return perr(lx, "%s takes one type", kind == W_LIST ? "list" : "option");
        *out = t;
        return 0;
    }
    if (is(lx, "result")) {
        t = new_type(pkg, W_RESULT);
        if (next(lx))
            return -1;
        if (is(lx, "<") && type_args(lx, t, 1))
            return -1;
        if (pkg->types[t].n > 2)
            return perr(lx, "result takes at most two types");
        pkg->types[t].n = 2; /* ok, err (either -1) */
        *out = t;
        return 0;
    }
    t = new_type(pkg, W_REF);
    pkg->types[t].name = xstrdup(lx->tok);
    pkg->types[t].iface = lx->iface;
    *out = t;
    return next(lx);
}

static int scope_add(lexer *lx, int iface, char *name, int type)
{
    wit_iface *f = &lx->pkg->ifaces[iface];
    int i;

    for (i = 0; i < f->nscope; i++)
        if (strcmp(f->scope[i].name, name) == 0)
            return perr(lx, "'%s' is defined twice in %s", name, f->name);
    f->scope = xgrow(f->scope, (size_t)(f->nscope + 1) * sizeof *f->scope);
    f->scope[f->nscope].name = name;
    f->scope[f->nscope].type = type;
    f->nscope++;
    return 0;
}

static int iface_get(wit_pkg *pkg, const char *name)
{
    int i = wit_iface_find(pkg, name);

    if (i >= 0)
        return i;
    pkg->ifaces = xgrow(pkg->ifaces, (size_t)(pkg->nifaces + 1) * sizeof *pkg->ifaces);
    memset(&pkg->ifaces[pkg->nifaces], 0, sizeof pkg->ifaces[0]);
    pkg->ifaces[pkg->nifaces].name = xstrdup(name);
    return pkg->nifaces++;
}

/* 'use' iface '.' '{' name ('as' name)? , ... '}' ';' */
static int parse_use(lexer *lx)
{
    char *from = NULL, *name = NULL, *as = NULL;
    int t;

    if (next(lx) || ident(lx, &from) || expect(lx, ".") || expect(lx, "{"))
        return -1;
    while (!is(lx, "}")) {
        if (ident(lx, &name))
            return -1;
        as = name;
        if (is(lx, "as") && (next(lx) || ident(lx, &as)))
            return -1;
        /* a reference resolved in `from`, known here as `as` */
        t = new_type(lx->pkg, W_REF);
        lx->pkg->types[t].name = name;
        lx->pkg->types[t].iface = iface_get(lx->pkg, from);
        if (scope_add(lx, lx->iface, as, t))
            return -1;
        if (!is(lx, "}") && expect(lx, ","))
            return -1;
    }
    free(from);
    if (next(lx))
        return -1;
    return expect(lx, ";");
}

/* record / variant / enum bodies: '{' entries '}' */
static int parse_named(lexer *lx, int kind)
{
    char *name = NULL, *member = NULL;
    int t = new_type(lx->pkg, kind), mt;

    if (next(lx) || ident(lx, &name) || expect(lx, "{"))
        return -1;
    lx->pkg->types[t].name = name;
    lx->pkg->types[t].iface = lx->iface;
    while (!is(lx, "}")) {
        if (ident(lx, &member))
            return -1;
        mt = -1;
        if (kind == W_RECORD) {
            if (expect(lx, ":") || parse_type(lx, &mt))
                return -1;
        } else if (kind == W_VARIANT && is(lx, "(")) {
            if (next(lx) || parse_type(lx, &mt) || expect(lx, ")"))
                return -1;
        }
        if (add_member(lx, t, mt, member))
            return -1;
        if (!is(lx, "}") && expect(lx, ","))
            return -1;
    }
    if (lx->pkg->types[t].n == 0)
        return perr(lx, "'%s' has no %s", name, kind == W_RECORD ? "fields" : "cases");
    if (next(lx))
        return -1;
    return scope_add(lx, lx->iface, xstrdup(name), t);
}

static int parse_func(lexer *lx, char *name)
{
    wit_pkg *pkg = lx->pkg;
    wit_iface *f = &pkg->ifaces[lx->iface];
    wit_func *fn;
    int idx;

    pkg->funcs = xgrow(pkg->funcs, (size_t)(pkg->nfuncs + 1) * sizeof *pkg->funcs);
    idx = pkg->nfuncs++;
    fn = &pkg->funcs[idx];
    memset(fn, 0, sizeof *fn);
    fn->name = name;
    fn->iface = lx->iface;
    fn->result = -1;
    if (expect(lx, "func") || expect(lx, "("))
        return -1;
    while (!is(lx, ")")) {
        fn = &pkg->funcs[idx];
        if (fn->nparams >= WIT_MAX_MEMBERS)
            return perr(lx, "too many parameters");
        if (ident(lx, &fn->params[fn->nparams].name) || expect(lx, ":") ||
            parse_type(lx, &fn->params[fn->nparams].type))
            return -1;
        pkg->funcs[idx].nparams++;
        if (!is(lx, ")") && expect(lx, ","))
            return -1;
    }
    if (next(lx))
        return -1;
    if (is(lx, "->")) {
        if (next(lx))
            return -1;
        if (is(lx, "("))
            return perr(lx, "named results are not supported");
        if (parse_type(lx, &pkg->funcs[idx].result))
            return -1;
    }
    f->funcs = xgrow(f->funcs, (size_t)(f->nfuncs + 1) * sizeof *f->funcs);
    f->funcs[f->nfuncs++] = idx;
    return expect(lx, ";");
}

static int parse_interface(lexer *lx)
{
    char *name = NULL, *alias = NULL;
    int t;

    if (next(lx) || ident(lx, &name) || expect(lx, "{"))
        return -1;
    lx->iface = iface_get(lx->pkg, name);
    free(name);
    while (!is(lx, "}")) {
        if (!lx->is_id)
            return perr(lx, "unexpected '%s' in an interface", lx->tok);
        if (is(lx, "use")) {
            if (parse_use(lx))
                return -1;
        } else if (is(lx, "type")) {
            t = new_type(lx->pkg, W_ALIAS);
            if (next(lx) || ident(lx, &alias) || expect(lx, "=") ||
                parse_type(lx, &lx->pkg->types[t].m[0]) || expect(lx, ";"))
                return -1;
            lx->pkg->types[t].n = 1;
            lx->pkg->types[t].name = alias;
            lx->pkg->types[t].iface = lx->iface;
            if (scope_add(lx, lx->iface, xstrdup(alias), t))
                return -1;
        } else if (is(lx, "record") || is(lx, "variant") || is(lx, "enum")) {
            if (parse_named(lx, is(lx, "record")    ? W_RECORD
                                : is(lx, "variant") ? W_VARIANT
                                                    : W_ENUM))
                return -1;
        } else if (is(lx, "flags") || is(lx, "resource")) {
            return perr(lx, "'%s' is not supported", lx->tok);
        } else {
            if (ident(lx, &name) || expect(lx, ":") || parse_func(lx, name))
                return -1;
        }
    }
    lx->iface = -1;
    return next(lx);
}

static int parse_world(lexer *lx)
{
    char *name = NULL;
    int role, i;

    if (next(lx) || ident(lx, &name) || expect(lx, "{"))
        return -1;
    free(name);
    while (!is(lx, "}")) {
        if (!is(lx, "import") && !is(lx, "export"))
            return perr(lx, "expected import or export, found '%s'", lx->tok);
        role = is(lx, "import") ? 1 : 2;
        if (next(lx) || ident(lx, &name))
            return -1;
        i = iface_get(lx->pkg, name);
        if (lx->pkg->ifaces[i].role != 0 && lx->pkg->ifaces[i].role != role)
            return perr(lx, "%s is both imported and exported", name);
        lx->pkg->ifaces[i].role = role;
        free(name);
        if (expect(lx, ";"))
            return -1;
    }
    return next(lx);
}

int wit_parse(wit_pkg *pkg, const char *file, const char *text)
{
    lexer lx = {file, text, 1, "", 0, pkg, -1};
    char pkgname[256];

    if (next(&lx))
        return -1;
    if (is(&lx, "package")) {
        pkgname[0] = 0;
        if (next(&lx))
            return -1;
        while (!is(&lx, ";") && lx.tok[0]) {
            if (strlen(pkgname) + strlen(lx.tok) + 1 >= sizeof pkgname)
                return perr(&lx, "package name too long");
            strcat(pkgname, lx.tok);
            if (next(&lx))
                return -1;
        }
        if (expect(&lx, ";"))
            return -1;
        if (pkg->package != NULL && strcmp(pkg->package, pkgname) != 0)
            return perr(&lx, "package %s differs from %s", pkgname, pkg->package);
        if (pkg->package == NULL)
            pkg->package = xstrdup(pkgname);
    }
    while (lx.tok[0]) {
        if (is(&lx, "interface")) {
            if (parse_interface(&lx))
                return -1;
        } else if (is(&lx, "world")) {
            if (parse_world(&lx))
                return -1;
        } else {
            return perr(&lx, "expected interface or world, found '%s'", lx.tok);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Resolution and layout                                              */

int wit_iface_find(const wit_pkg *pkg, const char *name)
{
    int i;

    for (i = 0; i < pkg->nifaces; i++)
        if (strcmp(pkg->ifaces[i].name, name) == 0)
            return i;
    return -1;
}

int wit_canon(const wit_pkg *pkg, int t)
{
    return t < 0 ? -1 : pkg->types[t].canon;
}

static int rerr(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "witgen: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return -1;
}

/* The type a W_REF / W_ALIAS finally names (depth-limited for cycles). */
static int target(wit_pkg *pkg, int t, int depth)
{
    wit_type *w = &pkg->types[t];
    wit_iface *f;
    int i;

    if (depth > 32)
        return rerr("type reference cycle at '%s'", w->name ? w->name : "?");
    if (w->kind == W_ALIAS)
        return target(pkg, w->m[0], depth + 1);
    if (w->kind != W_REF)
        return t;
    if (w->iface < 0)
        return rerr("'%s' referenced outside an interface", w->name);
    f = &pkg->ifaces[w->iface];
    for (i = 0; i < f->nscope; i++)
        if (strcmp(f->scope[i].name, w->name) == 0)
            return target(pkg, f->scope[i].type, depth + 1);
    return rerr("unknown type '%s' in interface %s", w->name, f->name);
}

static unsigned align_to(unsigned x, unsigned a)
{
    return (x + a - 1) / a * a;
}

static int join(int a, int b)
{
    if (a == b)
        return a;
    if ((a == F_I32 && b == F_F32) || (a == F_F32 && b == F_I32))
        return F_I32;
    return F_I64;
}

/* Set a type's mangled name; a name too long for it is an error. */
static int set_mangle(wit_type *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_mangle(wit_type *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(w->mangle, sizeof w->mangle, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof w->mangle)
        return rerr("C name of a type too long: %s...", w->mangle);
    return 0;
}

static void cname_of(const char *s, char *out, size_t cap)
{
    size_t i;

    for (i = 0; s[i] && i + 1 < cap; i++)
        out[i] = s[i] == '-' ? '_' : s[i];
    out[i] = 0;
}

/* Layout, flattening and mangled name of canonical type t (members done). */
static int layout(wit_pkg *pkg, int t)
{
    static const unsigned psize[] = {
        [W_BOOL] = 1, [W_U8] = 1,  [W_U16] = 2, [W_U32] = 4, [W_U64] = 8, [W_S8] = 1,
        [W_S16] = 2,  [W_S32] = 4, [W_S64] = 8, [W_F32] = 4, [W_F64] = 8, [W_CHAR] = 4};
    static const char *const pname[] = {
        [W_BOOL] = "bool", [W_U8] = "u8",   [W_U16] = "u16", [W_U32] = "u32",
        [W_U64] = "u64",   [W_S8] = "s8",   [W_S16] = "s16", [W_S32] = "s32",
        [W_S64] = "s64",   [W_F32] = "f32", [W_F64] = "f64", [W_CHAR] = "char"};
    wit_type *w = &pkg->types[t];
    unsigned off = 0, maxa = 1, maxs = 0;
    char buf[256], part[256], iname[128];
    int i, j, k;

    w->nflat = 0;
    switch (w->kind) {
    case W_STRING:
        w->size = 8, w->align = 4;
        w->flat[0] = w->flat[1] = F_I32, w->nflat = 2;
        strcpy(w->mangle, "str");
        return 0;
    case W_LIST:
        w->size = 8, w->align = 4;
        w->flat[0] = w->flat[1] = F_I32, w->nflat = 2;
        if (pkg->types[w->m[0]].kind == W_U8)
            strcpy(w->mangle, "bytes");
        else
            return set_mangle(w, "list_%s", pkg->types[w->m[0]].mangle);
        return 0;
    case W_RECORD:
    case W_TUPLE:
        buf[0] = 0;
        for (i = 0; i < w->n; i++) {
            wit_type *m = &pkg->types[w->m[i]];
            off = align_to(off, m->align);
            w->off[i] = off;
            off += m->size;
            if (m->align > maxa)
                maxa = m->align;
            for (j = 0; j < m->nflat && w->nflat >= 0; j++) {
                if (w->nflat >= WIT_MAX_FLAT)
                    w->nflat = -1;
                else
                    w->flat[w->nflat++] = m->flat[j];
            }
            if (m->nflat < 0)
                w->nflat = -1;
            if (strlen(buf) + strlen(m->mangle) + 2 > sizeof buf)
                return rerr("C name of a tuple too long");
            strcat(buf, "_");
            strcat(buf, m->mangle);
        }
        w->align = maxa;
        w->size = align_to(off, maxa);
        if (w->kind == W_TUPLE)
            return set_mangle(w, "tup%d%s", w->n, buf);
        cname_of(pkg->ifaces[w->iface].name, iname, sizeof iname);
        cname_of(w->name, part, sizeof part);
        return set_mangle(w, "%s_%s", iname, part);
    case W_ENUM:
    case W_VARIANT:
    case W_OPTION:
    case W_RESULT:
        w->disc = w->n <= 256 ? 1 : w->n <= 65536 ? 2 : 4;
        if (w->kind == W_OPTION) { /* none, some(T) */
            w->m[1] = w->m[0];
            w->m[0] = -1;
            w->n = 2;
        }
        maxa = w->disc;
        w->flat[0] = F_I32;
        w->nflat = 1;
        for (i = 0; i < w->n; i++) {
            wit_type *m;
            if (w->m[i] < 0)
                continue;
            m = &pkg->types[w->m[i]];
            if (m->align > maxa)
                maxa = m->align;
            if (m->size > maxs)
                maxs = m->size;
            if (m->nflat < 0 || m->nflat + 1 > WIT_MAX_FLAT) {
                w->nflat = -1;
                continue;
            }
            for (k = 0; k < m->nflat && w->nflat >= 0; k++) {
                if (k + 1 < w->nflat)
                    w->flat[k + 1] = join(w->flat[k + 1], m->flat[k]);
                else
                    w->flat[w->nflat++] = m->flat[k];
            }
        }
        w->off[0] = align_to(w->disc, maxa);
        w->align = maxa;
        w->size = align_to(w->off[0] + maxs, maxa);
        if (w->kind == W_OPTION)
            return set_mangle(w, "opt_%s", pkg->types[w->m[1]].mangle);
        if (w->kind == W_RESULT)
            return set_mangle(w, "res_%s_%s", w->m[0] < 0 ? "unit" : pkg->types[w->m[0]].mangle,
                              w->m[1] < 0 ? "unit" : pkg->types[w->m[1]].mangle);
        cname_of(pkg->ifaces[w->iface].name, iname, sizeof iname);
        cname_of(w->name, part, sizeof part);
        return set_mangle(w, "%s_%s", iname, part);
    default:
        if (w->kind > W_CHAR)
            return rerr("internal: layout of kind %d", w->kind);
        w->size = w->align = psize[w->kind];
        w->flat[0] = w->kind == W_U64 || w->kind == W_S64 ? F_I64
                     : w->kind == W_F32                   ? F_F32
                     : w->kind == W_F64                   ? F_F64
                                                          : F_I32;
        w->nflat = 1;
        strcpy(w->mangle, pname[w->kind]);
        return 0;
    }
}

/* Canonicalize t: resolve references, canonicalize members, then share
 * one index among structurally equal anonymous types. */
static int canonicalize(wit_pkg *pkg, int t, int depth)
{
    wit_type *w;
    int i, c, u;

    if (pkg->types[t].canon >= 0)
        return pkg->types[t].canon;
    if (depth > 64)
        return rerr("type nesting too deep (a recursive type?)");
    c = target(pkg, t, 0);
    if (c < 0)
        return -1;
    if (c != t) {
        u = canonicalize(pkg, c, depth + 1);
        pkg->types[t].canon = u;
        return u;
    }
    w = &pkg->types[t];
    w->canon = -2; /* in progress */
    for (i = 0; i < w->n; i++) {
        if (w->m[i] < 0)
            continue;
        if (pkg->types[w->m[i]].canon == -2)
            return rerr("recursive type '%s'", w->name ? w->name : "?");
        u = canonicalize(pkg, w->m[i], depth + 1);
        if (u < 0)
            return -1;
        pkg->types[t].m[i] = u;
    }
    if (layout(pkg, t))
        return -1;
    w = &pkg->types[t];
    /* anonymous and primitive types are shared by their mangled name
     * (named types have unique mangled names already) */
    for (i = 0; i < pkg->ntypes; i++) {
        if (i != t && pkg->types[i].canon == i && strcmp(pkg->types[i].mangle, w->mangle) == 0) {
            if (w->name != NULL &&
                (w->kind == W_RECORD || w->kind == W_VARIANT || w->kind == W_ENUM))
                return rerr("two types map to the C name %s", w->mangle);
            w->canon = i;
            return i;
        }
    }
    w->canon = t;
    return t;
}

int wit_resolve(wit_pkg *pkg)
{
    int i, j, n = pkg->ntypes;

    for (i = 0; i < n; i++)
        if (canonicalize(pkg, i, 0) < 0)
            return -1;
    for (i = 0; i < pkg->nfuncs; i++) {
        wit_func *f = &pkg->funcs[i];
        for (j = 0; j < f->nparams; j++)
            f->params[j].type = wit_canon(pkg, f->params[j].type);
        f->result = wit_canon(pkg, f->result);
    }
    return 0;
}

bool wit_owns(const wit_pkg *pkg, int t)
{
    const wit_type *w = &pkg->types[t];
    int i;

    if (w->kind == W_STRING || w->kind == W_LIST)
        return true;
    for (i = 0; i < w->n; i++)
        if (w->m[i] >= 0 && w->kind != W_ENUM && wit_owns(pkg, w->m[i]))
            return true;
    return false;
}

void wit_text(const wit_pkg *pkg, int t, char *out, size_t cap)
{
    static const char *const pname[] = {"bool", "u8",  "u16", "u32", "u64",  "s8",    "s16",
                                        "s32",  "s64", "f32", "f64", "char", "string"};
    const wit_type *w = &pkg->types[t];
    char a[512], b[512];
    size_t o;
    int i;

    switch (w->kind) {
    case W_LIST:
        wit_text(pkg, w->m[0], a, sizeof a);
        snprintf(out, cap, "list<%s>", a);
        return;
    case W_OPTION:
        wit_text(pkg, w->m[1], a, sizeof a);
        snprintf(out, cap, "option<%s>", a);
        return;
    case W_RESULT:
        if (w->m[0] < 0 && w->m[1] < 0) {
            snprintf(out, cap, "result");
            return;
        }
        if (w->m[0] >= 0)
            wit_text(pkg, w->m[0], a, sizeof a);
        else
            strcpy(a, "_");
        if (w->m[1] >= 0) {
            wit_text(pkg, w->m[1], b, sizeof b);
            snprintf(out, cap, "result<%s, %s>", a, b);
        } else {
            snprintf(out, cap, "result<%s>", a);
        }
        return;
    case W_TUPLE:
        o = (size_t)snprintf(out, cap, "tuple<");
        for (i = 0; i < w->n && o < cap; i++) {
            wit_text(pkg, w->m[i], a, sizeof a);
            o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", a);
        }
        if (o < cap)
            snprintf(out + o, cap - o, ">");
        return;
    case W_RECORD:
    case W_VARIANT:
    case W_ENUM: snprintf(out, cap, "%s", w->name); return;
    default: snprintf(out, cap, "%s", w->kind <= W_STRING ? pname[w->kind] : "?"); return;
    }
}

void wit_params_layout(const wit_pkg *pkg, const wit_func *f, unsigned *size, unsigned *align,
                       unsigned *offsets)
{
    unsigned off = 0, maxa = 1;
    int i;

    for (i = 0; i < f->nparams; i++) {
        const wit_type *m = &pkg->types[f->params[i].type];
        off = align_to(off, m->align);
        offsets[i] = off;
        off += m->size;
        if (m->align > maxa)
            maxa = m->align;
    }
    *align = maxa;
    *size = align_to(off, maxa);
}

int wit_params_nflat(const wit_pkg *pkg, const wit_func *f)
{
    int i, n = 0;

    for (i = 0; i < f->nparams; i++) {
        int k = pkg->types[f->params[i].type].nflat;
        if (k < 0)
            return -1;
        n += k;
    }
    return n;
}
