/*
 * test_sdk_wit_types.c - checks that the WIT in wit/, from which
 * tools/witgen generates the runtime's host glue and the SDK's layouts
 * (sdk/c/theater_wit.h), has the same types as the actor ABI (ABI.md, whose
 * WIT tests/abi_wit.h copies).
 *
 * Core signatures (test_sdk_abi) only see flat types: a u16 where the ABI
 * has a u32, two record fields swapped, a variant case moved, an option
 * dropped or a field renamed can leave every signature as it was while
 * changing memory layouts, and the runtime and the SDK would disagree with
 * an actor built from ABI.md by wit-bindgen. This test reads both with the
 * tests' own WIT parser (tests/wit_parse.c, not witgen's: a fault there
 * must not hide itself) and compares, for every interface ABI.md defines:
 *   - every named type definition: an alias's target, a record's fields
 *     (names and types, in order), an enum's or variant's cases (names in
 *     order, payloads);
 *   - every function: its parameters (names and types, in order) and its
 *     result, as full type trees (primitive widths, lists, options, results,
 *     tuples); a named type must be the same type of the same interface,
 *     which is compared where it is defined.
 * wit/ must have each such interface, type and function; whatever it has
 * beyond ABI.md must be one of the project's documented extensions listed
 * in known_extensions (and each listed one must exist). In wit/, a type is
 * visible in an interface only when declared there or named by a `use`; the
 * world must export exactly ABI.md's guest interfaces and import its host
 * ones.
 *
 * The comparison is checked first: copies of ABI.md's WIT changed in one
 * place each (a width, a case order, a field name, an option, a missing
 * function, ...) must be found different, with a message naming the
 * interface, the type or function, and the difference.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "abi_wit.h"
#include "test_skip.h"
#include "wit_parse.h"

/* The functions, types (interface.type) and interfaces wit/ may have beyond
 * ABI.md: this project's documented extensions. */
static const char *const known_extensions[] = {
    "actor#migrate",           /* docs/upgrade.md: the new code's step of a hot upgrade */
    "supervisor#update-child", /* docs/upgrade.md: hot upgrade of a child */
};

#define PACKAGE "theater:simple"

#define MSG_CAP 16384

static witp_pkg abi, wit, mutant;

/* The definition a named type of k denotes (witp_resolve_all saw them all). */
static int resolve_ok(const witp_pkg *k, const witp_type *t)
{
    char err[256];
    int d = witp_resolve(k, t->iface, t->name, err, sizeof err);
    if (d < 0)
        fail_msg("%s", err);
    return d;
}

/* ------------------------------------------------------------------------ */
/* Comparing                                                                */
/* ------------------------------------------------------------------------ */

/* The type written as WIT: "option<list<u8>>", "http-request", "(none)". */
static void type_text(const witp_pkg *k, int node, char *buf, size_t cap)
{
    if (node < 0) {
        snprintf(buf, cap, "(none)");
        return;
    }
    const witp_type *t = &k->nodes[node];
    if (t->kind == WITP_PRIM || t->kind == WITP_REF || t->kind == WITP_RECORD ||
        t->kind == WITP_ENUM || t->kind == WITP_VARIANT) {
        snprintf(buf, cap, "%s", t->name);
        return;
    }
    size_t n = (size_t)snprintf(buf, cap, "%s<", t->name);
    for (int i = 0; i < t->nargs && n < cap; i++) {
        if (i)
            n += (size_t)snprintf(buf + n, cap - n, ", ");
        if (n >= cap)
            break;
        if (t->args[i] < 0)
            n += (size_t)snprintf(buf + n, cap - n, "_");
        else
            type_text(k, t->args[i], buf + n, cap - n);
        n = strlen(buf);
    }
    if (n < cap)
        snprintf(buf + n, cap - n, ">");
}

typedef struct comparison {
    const witp_pkg *a, *w; /* ABI.md, wit/ */
    char msgs[MSG_CAP];
    size_t len;
    int ndiff;
} comparison;

static void differ(comparison *c, const char *where, const char *fmt, ...)
{
    va_list ap;
    c->ndiff++;
    if (c->len >= sizeof c->msgs)
        return;
    c->len += (size_t)snprintf(c->msgs + c->len, sizeof c->msgs - c->len, "%s: ", where);
    if (c->len >= sizeof c->msgs)
        return;
    va_start(ap, fmt);
    c->len += (size_t)vsnprintf(c->msgs + c->len, sizeof c->msgs - c->len, fmt, ap);
    va_end(ap);
    if (c->len < sizeof c->msgs)
        c->len += (size_t)snprintf(c->msgs + c->len, sizeof c->msgs - c->len, "\n");
}

static void differ_types(comparison *c, const char *where, int a, int w)
{
    char ta[256], tw[256];
    type_text(c->a, a, ta, sizeof ta);
    type_text(c->w, w, tw, sizeof tw);
    differ(c, where, "ABI.md has %s, wit/ has %s", ta, tw);
}

/* Compares the type trees a (of ABI.md) and w (of wit/). A named type is
 * compared by its name and interface only: its definition is compared where
 * it is defined (compare_def). */
static void compare_type(comparison *c, const char *where, int a, int w)
{
    static const char *const parts[] = {[WITP_LIST] = "list element", [WITP_OPTION] = "some"};
    char sub[512];
    if (a < 0 || w < 0) {
        if (a != w)
            differ_types(c, where, a, w);
        return;
    }
    const witp_type *ta = &c->a->nodes[a], *tw = &c->w->nodes[w];
    if (ta->kind != tw->kind || (ta->kind == WITP_PRIM && strcmp(ta->name, tw->name) != 0) ||
        (ta->kind == WITP_TUPLE && ta->nargs != tw->nargs)) {
        differ_types(c, where, a, w);
        return;
    }
    switch (ta->kind) {
    case WITP_REF: {
        const witp_def *da = &c->a->defs[resolve_ok(c->a, ta)],
                       *dw = &c->w->defs[resolve_ok(c->w, tw)];
        const char *ia = c->a->ifaces[da->iface], *iw = c->w->ifaces[dw->iface];
        if (strcmp(da->name, dw->name) != 0 || strcmp(ia, iw) != 0)
            differ(c, where, "ABI.md has %s (interface %s), wit/ has %s (interface %s)", da->name,
                   ia, dw->name, iw);
        break;
    }
    case WITP_LIST:
    case WITP_OPTION:
        snprintf(sub, sizeof sub, "%s, %s", where, parts[ta->kind]);
        compare_type(c, sub, ta->args[0], tw->args[0]);
        break;
    case WITP_RESULT:
        snprintf(sub, sizeof sub, "%s, ok", where);
        compare_type(c, sub, ta->args[0], tw->args[0]);
        snprintf(sub, sizeof sub, "%s, err", where);
        compare_type(c, sub, ta->args[1], tw->args[1]);
        break;
    case WITP_TUPLE:
        for (int i = 0; i < ta->nargs; i++) {
            snprintf(sub, sizeof sub, "%s, tuple element %d", where, i + 1);
            compare_type(c, sub, ta->args[i], tw->args[i]);
        }
        break;
    default: break; /* primitives are compared above; records etc. are definitions */
    }
}

/* The members of two records, enums or variants: names in order, then
 * each one's type (a case's payload). */
static void compare_members(comparison *c, const char *where, const witp_type *ta,
                            const witp_type *tw)
{
    const char *word = ta->kind == WITP_RECORD ? "field" : "case";
    char sub[512];
    int n = ta->nargs < tw->nargs ? ta->nargs : tw->nargs;
    for (int i = 0; i < n; i++) {
        if (strcmp(ta->names[i], tw->names[i]) != 0)
            differ(c, where, "%s %d: ABI.md has %s, wit/ has %s", word, i + 1, ta->names[i],
                   tw->names[i]);
        snprintf(sub, sizeof sub, "%s, %s %s", where, word, ta->names[i]);
        compare_type(c, sub, ta->args[i], tw->args[i]);
    }
    for (int i = n; i < ta->nargs; i++)
        differ(c, where, "%s %d (%s): in ABI.md, not in wit/", word, i + 1, ta->names[i]);
    for (int i = n; i < tw->nargs; i++)
        differ(c, where, "%s %d (%s): in wit/, not in ABI.md", word, i + 1, tw->names[i]);
}

static const char *def_kind(const witp_pkg *k, const witp_def *d)
{
    return d->alias ? "type" : witp_kind_name(k->nodes[d->node].kind);
}

/* A named type definition of ABI.md against wit/'s. */
static void compare_def(comparison *c, const witp_def *da, const witp_def *dw)
{
    char where[256];
    snprintf(where, sizeof where, "interface %s, %s %s", c->a->ifaces[da->iface],
             def_kind(c->a, da), da->name);
    if (dw->node < 0) {
        differ(c, where, "defined in ABI.md, wit/ only uses it (from %s)", dw->from);
        return;
    }
    if (da->alias != dw->alias ||
        (!da->alias && c->a->nodes[da->node].kind != c->w->nodes[dw->node].kind)) {
        differ(c, where, "ABI.md defines it as %s, wit/ as %s", def_kind(c->a, da),
               def_kind(c->w, dw));
        return;
    }
    if (da->alias)
        compare_type(c, where, da->node, dw->node);
    else
        compare_members(c, where, &c->a->nodes[da->node], &c->w->nodes[dw->node]);
}

static void func_text(const witp_pkg *k, const witp_func *f, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "func(");
    for (int i = 0; i < f->nparams && n < cap; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s%s: ", i ? ", " : "", f->pnames[i]);
        if (n < cap)
            type_text(k, f->params[i], buf + n, cap - n);
        n = strlen(buf);
    }
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, ")");
    if (n < cap && f->result >= 0) {
        n += (size_t)snprintf(buf + n, cap - n, " -> ");
        if (n < cap)
            type_text(k, f->result, buf + n, cap - n);
    }
}

static void compare_func(comparison *c, const witp_func *fa, const witp_func *fw)
{
    char where[256], sub[512];
    snprintf(where, sizeof where, "function %s#%s", c->a->ifaces[fa->iface], fa->name);
    if (fa->nparams != fw->nparams) {
        char ta[1024], tw[1024];
        func_text(c->a, fa, ta, sizeof ta);
        func_text(c->w, fw, tw, sizeof tw);
        differ(c, where, "ABI.md has %s, wit/ has %s", ta, tw);
        return;
    }
    for (int i = 0; i < fa->nparams; i++) {
        if (strcmp(fa->pnames[i], fw->pnames[i]) != 0)
            differ(c, where, "parameter %d: ABI.md names it %s, wit/ names it %s", i + 1,
                   fa->pnames[i], fw->pnames[i]);
        snprintf(sub, sizeof sub, "%s, parameter %s", where, fa->pnames[i]);
        compare_type(c, sub, fa->params[i], fw->params[i]);
    }
    snprintf(sub, sizeof sub, "%s, result", where);
    compare_type(c, sub, fa->result, fw->result);
}

static bool listed(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* What wit/ has that ABI.md has not: each must be in ext[0..next). */
static void compare_extras(comparison *c, const char *const *ext, size_t next)
{
    const witp_pkg *a = c->a, *w = c->w;
    char key[2 * WITP_NAME_LEN + 2];
    for (int i = 0; i < w->nifaces; i++) {
        int ai = witp_iface_find(a, w->ifaces[i]);
        if (ai < 0 && !listed(ext, next, w->ifaces[i])) {
            differ(c, w->ifaces[i], "interface in wit/, not in ABI.md (nor a known extension)");
            continue;
        }
        for (int d = 0; d < w->ndefs && ai >= 0; d++) {
            const witp_def *dw = &w->defs[d];
            if (dw->iface != i || dw->node < 0 || witp_scope_find(a, ai, dw->name) >= 0)
                continue;
            snprintf(key, sizeof key, "%s.%s", w->ifaces[i], dw->name);
            if (!listed(ext, next, key))
                differ(c, key, "type in wit/, not in ABI.md (nor a known extension)");
        }
        for (int f = 0; f < w->nfuncs && ai >= 0; f++) {
            if (w->funcs[f].iface != i || witp_func_find(a, ai, w->funcs[f].name))
                continue;
            snprintf(key, sizeof key, "%s#%s", w->ifaces[i], w->funcs[f].name);
            if (!listed(ext, next, key))
                differ(c, key, "function in wit/, not in ABI.md (nor a known extension)");
        }
    }
}

/* Compares every interface, named type and function of c->a (ABI.md) with
 * c->w (wit/); ext lists what wit/ may have beyond. */
static void compare(comparison *c, const char *const *ext, size_t next)
{
    const witp_pkg *a = c->a, *w = c->w;
    for (int i = 0; i < a->nifaces; i++) {
        const char *name = a->ifaces[i];
        int wi = witp_iface_find(w, name);
        if (wi < 0) {
            differ(c, name, "interface in ABI.md, not in wit/");
            continue;
        }
        for (int d = 0; d < a->ndefs; d++) {
            const witp_def *da = &a->defs[d];
            if (da->iface != i || da->node < 0)
                continue;
            int e = witp_scope_find(w, wi, da->name);
            if (e < 0)
                differ(c, name, "%s %s: in ABI.md, not in wit/", def_kind(a, da), da->name);
            else
                compare_def(c, da, &w->defs[e]);
        }
        for (int f = 0; f < a->nfuncs; f++) {
            const witp_func *fa = &a->funcs[f];
            if (fa->iface != i)
                continue;
            const witp_func *fw = witp_func_find(w, wi, fa->name);
            if (!fw)
                differ(c, name, "function %s: in ABI.md, not in wit/", fa->name);
            else
                compare_func(c, fa, fw);
        }
    }
    compare_extras(c, ext, next);
}

/* ------------------------------------------------------------------------ */
/* Reading ABI.md's WIT and wit/                                            */
/* ------------------------------------------------------------------------ */

static void load_abi(void)
{
    if (abi.nifaces)
        return;
    witp_pkg_init(&abi, "ABI.md", false);
    if (witp_parse(&abi, "ABI.md", abi_wit_text) < 0 || witp_resolve_all(&abi) < 0)
        fail_msg("%s", abi.err);
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = 0;
    fclose(f);
    return text;
}

/* Parses every .wit file of the source tree's wit/ into `wit`; each file must
 * declare the package. Returns the number of files. */
static int load_wit(void)
{
    char dir[1024], path[2048];
    char *names[64];
    int n = 0;
    const char *src = getenv("THEATER_SOURCE_DIR");
    if (!src)
        fail_msg("THEATER_SOURCE_DIR is not set (ctest sets it)");
    snprintf(dir, sizeof dir, "%s/wit", src);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".wit") == 0) {
            assert_true(n < 64);
            names[n] = strdup(e->d_name);
            assert_non_null(names[n++]);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_names);
    witp_pkg_init(&wit, "wit/", true);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = read_file(path);
        wit.package[0] = 0; /* each file must declare it */
        int rc = witp_parse(&wit, path, text);
        free(text);
        if (rc < 0)
            fail_msg("%s", wit.err);
        if (strcmp(wit.package, PACKAGE) != 0)
            fail_msg("%s: declares package '%s', not " PACKAGE, path, wit.package);
        free(names[i]);
    }
    if (witp_resolve_all(&wit) < 0)
        fail_msg("%s", wit.err);
    return n;
}

/* ------------------------------------------------------------------------ */
/* The comparison, checked                                                  */
/* ------------------------------------------------------------------------ */

/* ABI.md's WIT with `old` (which must occur once) replaced by `new`. */
static void mutate(const char *old, const char *new, char *out, size_t cap)
{
    const char *at = strstr(abi_wit_text, old);
    if (!at || strstr(at + 1, old))
        fail_msg("'%s' does not occur exactly once in ABI.md's WIT", old);
    int n = snprintf(out, cap, "%.*s%s%s", (int)(at - abi_wit_text), abi_wit_text, new,
                     at + strlen(old));
    assert_true(n > 0 && (size_t)n < cap);
}

static comparison cmp;

/* Compares ABI.md's WIT with a copy changed from `old` to `new`: the copy
 * must differ, and one message must be `want`. */
static void expect_difference(const char *old, const char *new, const char *want)
{
    static char text[sizeof abi_wit_text + 1024];
    load_abi();
    mutate(old, new, text, sizeof text);
    witp_pkg_init(&mutant, "wit/", false);
    if (witp_parse(&mutant, "mutant", text) < 0 || witp_resolve_all(&mutant) < 0)
        fail_msg("%s", mutant.err);
    memset(&cmp, 0, sizeof cmp);
    cmp.a = &abi;
    cmp.w = &mutant;
    compare(&cmp, NULL, 0);
    if (cmp.ndiff == 0)
        fail_msg("'%s' -> '%s': no difference found", old, new);
    char line[1024];
    snprintf(line, sizeof line, "%s\n", want);
    if (!strstr(cmp.msgs, line))
        fail_msg("'%s' -> '%s': wanted the message\n  %s\ngot:\n%s", old, new, want, cmp.msgs);
}

static void test_compare_detects(void **state)
{
    (void)state;
    load_abi();
    memset(&cmp, 0, sizeof cmp);
    cmp.a = cmp.w = &abi;
    compare(&cmp, NULL, 0);
    assert_int_equal(cmp.ndiff, 0);

    /* primitive widths, in records, parameters, options and tuples */
    expect_difference("status: u16", "status: u32",
                      "interface http-types, record http-response, field status: "
                      "ABI.md has u16, wit/ has u32");
    expect_difference("exit-code: option<s32>", "exit-code: option<u32>",
                      "interface process, record process-status, field exit-code, some: "
                      "ABI.md has s32, wit/ has u32");
    expect_difference(
        "random-bytes: func(length: u32)", "random-bytes: func(length: u64)",
        "function random#random-bytes, parameter length: ABI.md has u32, wit/ has u64");
    expect_difference("params: tuple<u64, s32>", "params: tuple<s32, u64>",
                      "function process-handlers#handle-exit, parameter params, tuple element 1: "
                      "ABI.md has u64, wit/ has s32");
    /* case order, missing and extra cases, payloads */
    expect_difference("{ text, binary,", "{ binary, text,",
                      "interface websocket-types, variant message-type: case 1: "
                      "ABI.md has text, wit/ has binary");
    expect_difference("pong, other(string)", "pong, other",
                      "interface websocket-types, variant message-type, case other: "
                      "ABI.md has string, wit/ has (none)");
    expect_difference("raw, line-by-line, json, chunked", "raw, line-by-line, json",
                      "interface process, variant output-mode: case 4 (chunked): "
                      "in ABI.md, not in wit/");
    expect_difference("update-component-error, paused", "update-component-error, paused, stopped",
                      "interface types, enum wit-error-type: case 10 (stopped): "
                      "in wit/, not in ABI.md");
    /* field names and order, options */
    expect_difference("routes-count: u32", "route-count: u32",
                      "interface http-types, record server-info: field 5: "
                      "ABI.md has routes-count, wit/ has route-count");
    expect_difference("{ cert-path: string, key-path: string }",
                      "{ key-path: string, cert-path: string }",
                      "interface http-types, record tls-config: field 1: "
                      "ABI.md has cert-path, wit/ has key-path");
    expect_difference("cwd: option<string>", "cwd: string",
                      "interface process, record process-config, field cwd: "
                      "ABI.md has option<string>, wit/ has string");
    /* aliases, named types, results, parameter names, the kind of a type */
    expect_difference("type channel-id = string;", "type channel-id = list<u8>;",
                      "interface types, type channel-id: ABI.md has string, wit/ has list<u8>");
    expect_difference("-> result<http-response, string>", "-> result<http-request, string>",
                      "function http-client#send-http, result, ok: ABI.md has http-response "
                      "(interface http-types), wit/ has http-request (interface http-types)");
    expect_difference("sleep: func(duration: u64) -> result<_, string>",
                      "sleep: func(duration: u64) -> result<string, string>",
                      "function timing#sleep, result, ok: ABI.md has (none), wit/ has string");
    expect_difference("respond-to-request: func(request-id: string",
                      "respond-to-request: func(req-id: string",
                      "function message-server-host#respond-to-request: parameter 1: "
                      "ABI.md names it request-id, wit/ names it req-id");
    expect_difference("variant output-mode { raw, line-by-line, json, chunked }",
                      "enum output-mode { raw, line-by-line, json, chunked }",
                      "interface process, variant output-mode: ABI.md defines it as variant, "
                      "wit/ as enum");
    /* missing and undocumented functions */
    expect_difference("  os-kill: func(pid: u64) -> result<_, string>;\n", "",
                      "process: function os-kill: in ABI.md, not in wit/");
    expect_difference("  os-kill: func(pid: u64) -> result<_, string>;\n",
                      "  os-kill: func(pid: u64) -> result<_, string>;\n"
                      "  os-wait: func(pid: u64) -> result<_, string>;\n",
                      "process#os-wait: function in wit/, not in ABI.md (nor a known extension)");
    expect_difference("  record tls-config ",
                      "  record tls-config2 { a: u8 }\n  record tls-config ",
                      "http-types.tls-config2: type in wit/, not in ABI.md (nor a known "
                      "extension)");
}

/* In wit/, a name is visible only where it is declared or used, `use`
 * follows to the interface named, and syntax errors name the line. */
static void test_wit_scopes(void **state)
{
    (void)state;
    static const char good[] = "package theater:simple;\n"
                               "interface types { type actor-id = string; }\n"
                               "/* a block comment */\n"
                               "interface h {\n"
                               "  use types.{actor-id as id};\n"
                               "  use theater:simple/types.{actor-id};\n"
                               "  f: func(a: id, b: actor-id);\n"
                               "}\n";
    witp_pkg_init(&mutant, "wit/", true);
    assert_int_equal(0, witp_parse(&mutant, "good", good));
    assert_int_equal(0, witp_resolve_all(&mutant));
    assert_string_equal(mutant.package, PACKAGE);
    const witp_type *t = &mutant.nodes[mutant.funcs[0].params[0]];
    const witp_def *d = &mutant.defs[resolve_ok(&mutant, t)];
    assert_string_equal(d->name, "actor-id");
    assert_string_equal(mutant.ifaces[d->iface], "types");

    witp_pkg_init(&mutant, "wit/", true);
    assert_int_equal(0, witp_parse(&mutant, "unused",
                                   "interface types { type actor-id = string; }\n"
                                   "interface h { f: func(a: actor-id); }\n"));
    assert_int_equal(-1, witp_resolve_all(&mutant));
    assert_string_equal(mutant.err, "wit/: interface h: type actor-id is neither declared nor used "
                                    "there");

    witp_pkg_init(&mutant, "wit/", true);
    assert_int_equal(
        0, witp_parse(&mutant, "nowhere", "interface h { use nope.{x}; f: func(a: x); }\n"));
    assert_int_equal(-1, witp_resolve_all(&mutant));
    assert_string_equal(mutant.err, "wit/: interface h: use of unknown interface nope");

    witp_pkg_init(&mutant, "wit/", true);
    assert_int_equal(
        -1, witp_parse(&mutant, "bad", "interface h {\n  f: func(a: u8) -> (b: u8);\n}\n"));
    assert_string_equal(mutant.err, "bad:2: named results are not part of this package's WIT");

    witp_pkg_init(&mutant, "wit/", true);
    assert_int_equal(-1, witp_parse(&mutant, "other",
                                    "package theater:simple;\n"
                                    "interface h { use wasi:io/streams.{x}; }\n"));
    assert_string_equal(mutant.err, "other:2: use of another package (wasi:io)");
}

/* ------------------------------------------------------------------------ */
/* wit/ against ABI.md                                                      */
/* ------------------------------------------------------------------------ */

static bool wit_has(const char *ext)
{
    const char *sep = strpbrk(ext, "#.");
    char iface[WITP_NAME_LEN];
    snprintf(iface, sizeof iface, "%.*s", sep ? (int)(sep - ext) : (int)strlen(ext), ext);
    int i = witp_iface_find(&wit, iface);
    if (i < 0 || !sep)
        return i >= 0;
    if (*sep == '#')
        return witp_func_find(&wit, i, sep + 1) != NULL;
    int e = witp_scope_find(&wit, i, sep + 1);
    return e >= 0 && wit.defs[e].node >= 0;
}

/* The world imports every host interface of ABI.md and exports every
 * guest one; whatever else it names is a known extension. */
static void compare_world(comparison *c)
{
    size_t nexp = sizeof abi_export_ifaces / sizeof abi_export_ifaces[0];
    if (wit.nworlds != 1)
        differ(c, "wit/", "%d worlds, expected one", wit.nworlds);
    for (int i = 0; i < abi.nifaces; i++) {
        bool has_funcs = false;
        for (int f = 0; f < abi.nfuncs; f++)
            has_funcs |= abi.funcs[f].iface == i;
        if (!has_funcs)
            continue;
        bool want_export = listed(abi_export_ifaces, nexp, abi.ifaces[i]);
        int found = 0;
        for (int k = 0; k < wit.nworld; k++) {
            if (strcmp(wit.world[k].iface, abi.ifaces[i]) != 0)
                continue;
            found++;
            if (wit.world[k].exported != want_export)
                differ(c, "world", "%s: ABI.md has it %s, wit/ %s", abi.ifaces[i],
                       want_export ? "exported" : "imported",
                       want_export ? "imports it" : "exports it");
        }
        if (found != 1)
            differ(c, "world", "%s: named %d times, expected once", abi.ifaces[i], found);
    }
    for (int k = 0; k < wit.nworld; k++) {
        const char *name = wit.world[k].iface;
        if (witp_iface_find(&wit, name) < 0)
            differ(c, "world", "%s: no such interface in wit/", name);
        else if (witp_iface_find(&abi, name) < 0 &&
                 !listed(known_extensions, sizeof known_extensions / sizeof known_extensions[0],
                         name))
            differ(c, "world", "%s: not in ABI.md (nor a known extension)", name);
    }
}

static void test_wit_matches_abi(void **state)
{
    (void)state;
    size_t next = sizeof known_extensions / sizeof known_extensions[0];
    load_abi();
    int files = load_wit();
    assert_true(files > 0);
    memset(&cmp, 0, sizeof cmp);
    cmp.a = &abi;
    cmp.w = &wit;
    compare(&cmp, known_extensions, next);
    compare_world(&cmp);
    for (size_t i = 0; i < next; i++) {
        const char *sep = strpbrk(known_extensions[i], "#.");
        char iface[WITP_NAME_LEN];
        snprintf(iface, sizeof iface, "%.*s",
                 sep ? (int)(sep - known_extensions[i]) : (int)strlen(known_extensions[i]),
                 known_extensions[i]);
        int ai = witp_iface_find(&abi, iface);
        bool in_abi = ai >= 0 && (!sep || (*sep == '#' ? witp_func_find(&abi, ai, sep + 1) != NULL
                                                       : witp_scope_find(&abi, ai, sep + 1) >= 0));
        if (!wit_has(known_extensions[i]))
            differ(&cmp, known_extensions[i], "listed as a known extension, not in wit/");
        else if (in_abi)
            differ(&cmp, known_extensions[i], "listed as a known extension, but ABI.md has it");
    }
    if (cmp.ndiff) {
        print_error("%s", cmp.msgs);
        fail_msg("wit/ (%d files) differs from ABI.md in %d place(s), listed above", files,
                 cmp.ndiff);
    }
    /* all of ABI.md was read, and wit/ has it and the extensions' functions */
    int ext_funcs = 0;
    for (size_t i = 0; i < next; i++)
        ext_funcs += strchr(known_extensions[i], '#') != NULL;
    assert_int_equal(abi.nfuncs, 68 + 17);
    assert_int_equal(wit.nfuncs, abi.nfuncs + ext_funcs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_detects),
        cmocka_unit_test(test_wit_scopes),
        cmocka_unit_test(test_wit_matches_abi),
    };
    return th_test_exit(cmocka_run_group_tests_name("sdk_wit_types", tests, NULL, NULL));
}
