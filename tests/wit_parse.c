/*
 * wit_parse.c - the tests' own WIT parser (see wit_parse.h for what it
 * reads, its limits and who owns what).
 *
 * A recursive-descent parser over a one-token lexer. A syntax error or an
 * exceeded limit unwinds with longjmp to witp_parse or witp_parse_types,
 * which return it as -1 with the message in the package's err; nothing is
 * allocated, so nothing leaks on the way. Names are resolved afterwards
 * (witp_resolve_all), when every interface has been read.
 */
#include "wit_parse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The state of one parse: the text read so far, the current token and
 * where errors go. */
typedef struct lexer {
    const char *p, *file;
    int line;
    char tok[WITP_NAME_LEN];
    witp_pkg *k;
    jmp_buf fail; /* where syntax() goes */
} lexer;

/* Puts "file:line: message" in the package's err and unwinds to the
 * setjmp of witp_parse or witp_parse_types. */
static void syntax(lexer *lx, const char *fmt, ...)
{
    va_list ap;
    char *err = lx->k->err;
    int n = snprintf(err, WITP_ERR_LEN, "%s:%d: ", lx->file, lx->line);
    if (n < 0 || n >= WITP_ERR_LEN)
        n = 0;
    va_start(ap, fmt);
    vsnprintf(err + n, WITP_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(lx->fail, 1);
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Reads the next token into lx->tok: a name, "->", or one punctuation
 * character; "" at the end. Skips // and block comments. */
static void lex(lexer *lx)
{
    for (;;) {
        if (*lx->p == '\n')
            lx->line++;
        if (*lx->p == ' ' || *lx->p == '\n' || *lx->p == '\t' || *lx->p == '\r') {
            lx->p++;
        } else if (lx->p[0] == '/' && lx->p[1] == '/') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
        } else if (lx->p[0] == '/' && lx->p[1] == '*') {
            const char *end = strstr(lx->p + 2, "*/");
            if (!end)
                syntax(lx, "unterminated comment");
            for (; lx->p < end + 2; lx->p++)
                lx->line += *lx->p == '\n';
        } else {
            break;
        }
    }
    size_t n = 0;
    if (lx->p[0] == '-' && lx->p[1] == '>') {
        strcpy(lx->tok, "->");
        lx->p += 2;
        return;
    }
    while (name_char(*lx->p)) {
        if (n + 1 >= WITP_NAME_LEN)
            syntax(lx, "name too long");
        lx->tok[n++] = *lx->p++;
    }
    if (n == 0 && *lx->p)
        lx->tok[n++] = *lx->p++;
    lx->tok[n] = 0;
}

static bool is(const lexer *lx, const char *tok)
{
    return strcmp(lx->tok, tok) == 0;
}

static void expect(lexer *lx, const char *tok)
{
    if (!is(lx, tok))
        syntax(lx, "expected '%s', got '%s'", tok, lx->tok);
    lex(lx);
}

/* The current token as a name (copied to out), then the next token. */
static void take_name(lexer *lx, char out[WITP_NAME_LEN])
{
    if (!name_char(lx->tok[0]))
        syntax(lx, "expected a name, got '%s'", lx->tok);
    snprintf(out, WITP_NAME_LEN, "%s", lx->tok);
    lex(lx);
}

static int new_node(lexer *lx, enum witp_kind kind, const char *name)
{
    witp_pkg *k = lx->k;
    if (k->nnodes >= WITP_MAX_NODES)
        syntax(lx, "more than %d types", WITP_MAX_NODES);
    witp_type *t = &k->nodes[k->nnodes];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->iface = -1;
    snprintf(t->name, sizeof t->name, "%s", name);
    return k->nnodes++;
}

static void add_member(lexer *lx, int node, const char *name, int type)
{
    witp_type *t = &lx->k->nodes[node];
    if (t->nargs >= WITP_MAX_MEMBERS)
        syntax(lx, "more than %d members", WITP_MAX_MEMBERS);
    snprintf(t->names[t->nargs], WITP_NAME_LEN, "%s", name);
    t->args[t->nargs++] = type;
}

static int parse_type(lexer *lx, int iface);

/* "<T, ...>" after list, option, result or tuple; `_` is no type. */
static void parse_type_args(lexer *lx, int iface, int node)
{
    expect(lx, "<");
    for (;;) {
        if (is(lx, "_")) {
            add_member(lx, node, "", -1);
            lex(lx);
        } else {
            add_member(lx, node, "", parse_type(lx, iface));
        }
        if (!is(lx, ","))
            break;
        lex(lx);
    }
    expect(lx, ">");
}

static int parse_type(lexer *lx, int iface)
{
    static const char *const prims[] = {"bool", "u8",  "u16", "u32", "u64",  "s8",    "s16",
                                        "s32",  "s64", "f32", "f64", "char", "string"};
    static const struct {
        const char *word;
        enum witp_kind kind;
        int nargs;
    } generic[] = {{"list", WITP_LIST, 1},
                   {"option", WITP_OPTION, 1},
                   {"result", WITP_RESULT, 2},
                   {"tuple", WITP_TUPLE, 0}};
    char word[WITP_NAME_LEN];
    take_name(lx, word);
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (strcmp(word, prims[i]) == 0)
            return new_node(lx, WITP_PRIM, word);
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++) {
        if (strcmp(word, generic[i].word) != 0)
            continue;
        int node = new_node(lx, generic[i].kind, word);
        if (generic[i].kind == WITP_RESULT && !is(lx, "<")) {
            add_member(lx, node, "", -1); /* bare `result` */
            add_member(lx, node, "", -1);
            return node;
        }
        parse_type_args(lx, iface, node);
        int n = lx->k->nodes[node].nargs;
        if (generic[i].kind == WITP_RESULT && n == 1)
            add_member(lx, node, "", -1); /* result<T> */
        else if (generic[i].nargs && n != generic[i].nargs)
            syntax(lx, "%s takes %d type(s), got %d", word, generic[i].nargs, n);
        return node;
    }
    int node = new_node(lx, WITP_REF, word);
    lx->k->nodes[node].iface = iface;
    return node;
}

int witp_iface_find(const witp_pkg *k, const char *name)
{
    for (int i = 0; i < k->nifaces; i++)
        if (strcmp(k->ifaces[i], name) == 0)
            return i;
    return -1;
}

int witp_scope_find(const witp_pkg *k, int iface, const char *name)
{
    for (int i = 0; i < k->ndefs; i++)
        if (k->defs[i].iface == iface && strcmp(k->defs[i].name, name) == 0)
            return i;
    return -1;
}

static witp_def *new_def(lexer *lx, int iface, const char *name)
{
    witp_pkg *k = lx->k;
    if (witp_scope_find(k, iface, name) >= 0)
        syntax(lx, "interface %s: %s declared twice", k->ifaces[iface], name);
    if (k->ndefs >= WITP_MAX_DEFS)
        syntax(lx, "more than %d named types", WITP_MAX_DEFS);
    witp_def *d = &k->defs[k->ndefs++];
    memset(d, 0, sizeof *d);
    d->iface = iface;
    d->node = -1;
    snprintf(d->name, sizeof d->name, "%s", name);
    return d;
}

/* "{ name: type, ... }" for records, "{ a, b }" for enums, "{ a, b(type) }"
 * for variants; a trailing comma is allowed. */
static void parse_body(lexer *lx, int iface, int node)
{
    enum witp_kind kind = lx->k->nodes[node].kind;
    expect(lx, "{");
    while (!is(lx, "}")) {
        char name[WITP_NAME_LEN];
        int type = -1;
        take_name(lx, name);
        if (kind == WITP_RECORD) {
            expect(lx, ":");
            type = parse_type(lx, iface);
        } else if (kind == WITP_VARIANT && is(lx, "(")) {
            lex(lx);
            type = parse_type(lx, iface);
            expect(lx, ")");
        }
        add_member(lx, node, name, type);
        if (is(lx, ","))
            lex(lx);
        else if (!is(lx, "}"))
            syntax(lx, "expected ',' or '}', got '%s'", lx->tok);
    }
    lex(lx);
}

/* "use iface.{a, b as c};"; the interface may be written ns:name/iface, of
 * the package this text declared. */
static void parse_use(lexer *lx, int iface)
{
    char from[WITP_NAME_LEN];
    take_name(lx, from);
    if (is(lx, ":")) {
        char pkgname[WITP_NAME_LEN * 2];
        lex(lx);
        snprintf(pkgname, sizeof pkgname, "%s:%s", from, lx->tok);
        lex(lx);
        if (strcmp(pkgname, lx->k->package) != 0)
            syntax(lx, "use of another package (%s)", pkgname);
        expect(lx, "/");
        take_name(lx, from);
    }
    expect(lx, ".");
    expect(lx, "{");
    while (!is(lx, "}")) {
        char orig[WITP_NAME_LEN], name[WITP_NAME_LEN];
        take_name(lx, orig);
        snprintf(name, sizeof name, "%s", orig);
        if (is(lx, "as")) {
            lex(lx);
            take_name(lx, name);
        }
        witp_def *d = new_def(lx, iface, name);
        snprintf(d->from, sizeof d->from, "%s", from);
        snprintf(d->orig, sizeof d->orig, "%s", orig);
        if (is(lx, ","))
            lex(lx);
        else if (!is(lx, "}"))
            syntax(lx, "expected ',' or '}', got '%s'", lx->tok);
    }
    lex(lx);
    expect(lx, ";");
}

static void parse_func(lexer *lx, int iface, const char *name)
{
    witp_pkg *k = lx->k;
    for (int i = 0; i < k->nfuncs; i++)
        if (k->funcs[i].iface == iface && strcmp(k->funcs[i].name, name) == 0)
            syntax(lx, "function %s#%s declared twice", k->ifaces[iface], name);
    if (k->nfuncs >= WITP_MAX_FUNCS)
        syntax(lx, "more than %d functions", WITP_MAX_FUNCS);
    witp_func *f = &k->funcs[k->nfuncs++];
    memset(f, 0, sizeof *f);
    f->iface = iface;
    f->result = -1;
    snprintf(f->name, sizeof f->name, "%s", name);
    expect(lx, "func");
    expect(lx, "(");
    while (!is(lx, ")")) {
        if (f->nparams >= WITP_MAX_MEMBERS)
            syntax(lx, "more than %d parameters", WITP_MAX_MEMBERS);
        take_name(lx, f->pnames[f->nparams]);
        expect(lx, ":");
        f->params[f->nparams++] = parse_type(lx, iface);
        if (is(lx, ","))
            lex(lx);
        else if (!is(lx, ")"))
            syntax(lx, "expected ',' or ')', got '%s'", lx->tok);
    }
    lex(lx);
    if (is(lx, "->")) {
        lex(lx);
        if (is(lx, "("))
            syntax(lx, "named results are not part of this package's WIT");
        f->result = parse_type(lx, iface);
    }
    expect(lx, ";");
}

static void parse_interface(lexer *lx)
{
    witp_pkg *k = lx->k;
    char name[WITP_NAME_LEN];
    take_name(lx, name);
    if (witp_iface_find(k, name) >= 0)
        syntax(lx, "interface %s defined twice", name);
    if (k->nifaces >= WITP_MAX_IFACES)
        syntax(lx, "more than %d interfaces", WITP_MAX_IFACES);
    int iface = k->nifaces++;
    snprintf(k->ifaces[iface], WITP_NAME_LEN, "%s", name);
    expect(lx, "{");
    while (!is(lx, "}")) {
        if (is(lx, "use")) {
            lex(lx);
            parse_use(lx, iface);
        } else if (is(lx, "type")) {
            lex(lx);
            take_name(lx, name);
            witp_def *d = new_def(lx, iface, name);
            expect(lx, "=");
            d->alias = true;
            d->node = parse_type(lx, iface);
            expect(lx, ";");
        } else if (is(lx, "record") || is(lx, "enum") || is(lx, "variant")) {
            enum witp_kind kind = is(lx, "record") ? WITP_RECORD
                                  : is(lx, "enum") ? WITP_ENUM
                                                   : WITP_VARIANT;
            lex(lx);
            take_name(lx, name);
            witp_def *d = new_def(lx, iface, name);
            d->node = new_node(lx, kind, name);
            parse_body(lx, iface, d->node);
        } else if (name_char(lx->tok[0])) {
            take_name(lx, name);
            if (!is(lx, ":"))
                syntax(lx, "'%s' is not part of this package's WIT", name);
            lex(lx);
            parse_func(lx, iface, name);
        } else {
            syntax(lx, "unexpected '%s' in interface %s", lx->tok, k->ifaces[iface]);
        }
    }
    lex(lx);
}

/* "world w { import i; export e; }" */
static void parse_world(lexer *lx)
{
    witp_pkg *k = lx->k;
    char name[WITP_NAME_LEN];
    take_name(lx, name);
    k->nworlds++;
    expect(lx, "{");
    while (!is(lx, "}")) {
        bool exported = is(lx, "export");
        if (!exported && !is(lx, "import"))
            syntax(lx, "world %s: only `import i;` and `export i;` are understood, got '%s'", name,
                   lx->tok);
        lex(lx);
        if (k->nworld >= WITP_MAX_WORLD)
            syntax(lx, "more than %d world items", WITP_MAX_WORLD);
        take_name(lx, k->world[k->nworld].iface);
        k->world[k->nworld++].exported = exported;
        expect(lx, ";");
    }
    lex(lx);
}

/* "package ns:name;" */
static void parse_package(lexer *lx)
{
    char name[WITP_NAME_LEN] = "";
    while (!is(lx, ";") && lx->tok[0]) {
        if (strlen(name) + strlen(lx->tok) + 1 >= sizeof name)
            syntax(lx, "package name too long");
        strcat(name, lx->tok);
        lex(lx);
    }
    expect(lx, ";");
    if (lx->k->package[0] && strcmp(lx->k->package, name) != 0)
        syntax(lx, "package %s, another file has %s", name, lx->k->package);
    snprintf(lx->k->package, WITP_NAME_LEN, "%s", name);
}

/* The top level: package, interface and world declarations. */
static void parse_file(lexer *lx)
{
    lex(lx);
    while (lx->tok[0]) {
        if (is(lx, "package")) {
            lex(lx);
            parse_package(lx);
        } else if (is(lx, "interface")) {
            lex(lx);
            parse_interface(lx);
        } else if (is(lx, "world")) {
            lex(lx);
            parse_world(lx);
        } else {
            syntax(lx, "expected package, interface or world, got '%s'", lx->tok);
        }
    }
}

int witp_parse(witp_pkg *k, const char *file, const char *text)
{
    lexer lx = {.p = text, .file = file, .line = 1, .k = k}; /* not read after a longjmp */
    k->err[0] = 0;
    if (setjmp(lx.fail))
        return -1;
    parse_file(&lx);
    return 0;
}

/* Types separated by commas up to the end of the text. */
static void parse_type_list(lexer *lx, int iface, int *nodes, int cap, int *n)
{
    lex(lx);
    while (lx->tok[0]) {
        if (*n >= cap)
            syntax(lx, "more than %d types", cap);
        nodes[(*n)++] = parse_type(lx, iface);
        if (is(lx, ","))
            lex(lx);
        else if (lx->tok[0])
            syntax(lx, "expected ',' or the end, got '%s'", lx->tok);
    }
}

int witp_parse_types(witp_pkg *k, int iface, const char *text, int *nodes, int cap, int *n)
{
    lexer lx = {.p = text, .file = "types", .line = 1, .k = k};
    k->err[0] = 0;
    *n = 0;
    if (setjmp(lx.fail))
        return -1;
    parse_type_list(&lx, iface, nodes, cap, n);
    return 0;
}

void witp_pkg_init(witp_pkg *k, const char *what, bool strict)
{
    memset(k, 0, sizeof *k);
    k->what = what;
    k->strict = strict;
}

/* ------------------------------------------------------------------------ */
/* Resolving names                                                          */
/* ------------------------------------------------------------------------ */

/* Through iface's scope (following `use`s); in a non-strict package (ABI.md,
 * which writes no `use`s) a name not in the scope may be defined by any one
 * interface. A chain of more than 16 uses is taken for a cycle. */
int witp_resolve(const witp_pkg *k, int iface, const char *name, char *err, size_t cap)
{
    char want[WITP_NAME_LEN];
    snprintf(want, sizeof want, "%s", name);
    for (int depth = 0; depth < 16; depth++) {
        int e = witp_scope_find(k, iface, want);
        if (e < 0 && !k->strict) {
            for (int i = 0; i < k->ndefs; i++) {
                if (k->defs[i].node < 0 || strcmp(k->defs[i].name, want) != 0)
                    continue;
                if (e >= 0) {
                    snprintf(err, cap, "%s: type %s is defined by %s and %s", k->what, want,
                             k->ifaces[k->defs[e].iface], k->ifaces[k->defs[i].iface]);
                    return -1;
                }
                e = i;
            }
        }
        if (e < 0) {
            if (iface < 0)
                snprintf(err, cap, "%s: no interface defines type %s", k->what, want);
            else
                snprintf(err, cap, "%s: interface %s: type %s is neither declared nor used there",
                         k->what, k->ifaces[iface], want);
            return -1;
        }
        if (k->defs[e].node >= 0)
            return e;
        iface = witp_iface_find(k, k->defs[e].from);
        if (iface < 0) {
            snprintf(err, cap, "%s: interface %s: use of unknown interface %s", k->what,
                     k->ifaces[k->defs[e].iface], k->defs[e].from);
            return -1;
        }
        snprintf(want, sizeof want, "%s", k->defs[e].orig);
    }
    snprintf(err, cap, "%s: interface %s: the uses of %s go round in circles", k->what,
             k->ifaces[iface], name);
    return -1;
}

int witp_resolve_all(witp_pkg *k)
{
    k->err[0] = 0;
    for (int i = 0; i < k->nnodes; i++)
        if (k->nodes[i].kind == WITP_REF &&
            witp_resolve(k, k->nodes[i].iface, k->nodes[i].name, k->err, sizeof k->err) < 0)
            return -1;
    for (int i = 0; i < k->ndefs; i++)
        if (k->defs[i].node < 0 &&
            witp_resolve(k, k->defs[i].iface, k->defs[i].name, k->err, sizeof k->err) < 0)
            return -1;
    return 0;
}

int witp_type_of(const witp_pkg *k, int node, char *err, size_t cap)
{
    for (int depth = 0; node >= 0 && k->nodes[node].kind == WITP_REF; depth++) {
        if (depth >= 16) {
            snprintf(err, cap, "%s: the aliases of %s go round in circles", k->what,
                     k->nodes[node].name);
            return -1;
        }
        int d = witp_resolve(k, k->nodes[node].iface, k->nodes[node].name, err, cap);
        if (d < 0)
            return -1;
        node = k->defs[d].node;
    }
    if (node < 0)
        snprintf(err, cap, "%s: no type", k->what);
    return node;
}

const witp_func *witp_func_find(const witp_pkg *k, int iface, const char *name)
{
    for (int i = 0; i < k->nfuncs; i++)
        if (k->funcs[i].iface == iface && strcmp(k->funcs[i].name, name) == 0)
            return &k->funcs[i];
    return NULL;
}

const char *witp_kind_name(enum witp_kind kind)
{
    static const char *const names[] = {"primitive", "list", "option",  "result",    "tuple",
                                        "record",    "enum", "variant", "named type"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}
