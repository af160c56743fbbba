/*
 * test_sdk_abi.c - checks that the actors built with the C guest SDK have
 * exactly the core imports and exports the actor ABI prescribes.
 *
 * The expected core signatures are not written down here: they are derived
 * from the WIT of the `theater:simple` package (tests/abi_wit.h, a copy of
 * ABI.md's interfaces), read by the tests' WIT parser (tests/wit_parse.c),
 * and the Canonical ABI flattening rules
 * (flat types, variant joins, at most 16 flat params, at most 1 flat result,
 * an export returning a pointer, an import taking a trailing retptr). The
 * derivation is itself checked against the ABI's worked signatures and
 * against hand-flattened types (each join, variants with payloads, the
 * 16-param limit).
 *
 * Each module listed in <build>/sdk/abi_check.txt (written by
 * sdk/CMakeLists.txt when wasm guests are built) is read with
 * `wasm-objdump -x`, and every import and export must be a theater:simple
 * function with the derived signature, `cabi_realloc`, a `cabi_post_*` of an
 * export, or `memory`. Each example must have exactly its expected set, and
 * the SDK's probe actor must have the whole surface (all imports, all
 * exports). Without the file (THEATER_GUEST=OFF) the module tests skip.
 */
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

/* ------------------------------------------------------------------------ */
/* ABI.md's WIT                                                             */
/* ------------------------------------------------------------------------ */

static witp_pkg abi; /* tests/abi_wit.h, read by the tests' WIT parser */

/* Reads tests/abi_wit.h into abi, once: every name in it must resolve. */
static void parse_wit(void)
{
    static bool parsed;
    if (parsed)
        return;
    witp_pkg_init(&abi, "ABI.md", false);
    if (witp_parse(&abi, "ABI.md", abi_wit_text) < 0 || witp_resolve_all(&abi) < 0)
        fail_msg("WIT: %s", abi.err);
    parsed = true;
}

/* The type node `node` denotes, names and aliases followed. */
static const witp_type *type_of(int node)
{
    char err[256];
    int t = witp_type_of(&abi, node, err, sizeof err);
    if (t < 0)
        fail_msg("WIT: %s", err);
    return &abi.nodes[t];
}

/* ------------------------------------------------------------------------ */
/* Canonical ABI flattening                                                 */
/* ------------------------------------------------------------------------ */

/* Core value types as characters: 'i' i32, 'I' i64, 'f' f32, 'F' f64. */
typedef struct flat {
    char v[64];
    int n;
} flat;

static void push(flat *f, char c)
{
    assert_true(f->n < (int)sizeof f->v);
    f->v[f->n++] = c;
}

static char join(char a, char b)
{
    if (a == b)
        return a;
    if ((a == 'i' && b == 'f') || (a == 'f' && b == 'i'))
        return 'i';
    return 'I';
}

static void flatten(int node, flat *out);

/* A variant: an i32 discriminant, then its cases' values joined. */
static void flatten_variant(const int *cases, int ncases, flat *out)
{
    flat joined = {.n = 0};
    for (int c = 0; c < ncases; c++) {
        flat cf = {.n = 0};
        if (cases[c] >= 0)
            flatten(cases[c], &cf);
        for (int i = 0; i < cf.n; i++) {
            if (i < joined.n)
                joined.v[i] = join(joined.v[i], cf.v[i]);
            else
                push(&joined, cf.v[i]);
        }
    }
    push(out, 'i');
    for (int i = 0; i < joined.n; i++)
        push(out, joined.v[i]);
}

static void flatten(int node, flat *out)
{
    const witp_type *t = type_of(node);
    switch (t->kind) {
    case WITP_PRIM:
        if (strcmp(t->name, "string") == 0) {
            push(out, 'i');
            push(out, 'i');
        } else if (strcmp(t->name, "u64") == 0 || strcmp(t->name, "s64") == 0) {
            push(out, 'I');
        } else if (strcmp(t->name, "f32") == 0) {
            push(out, 'f');
        } else if (strcmp(t->name, "f64") == 0) {
            push(out, 'F');
        } else {
            push(out, 'i');
        }
        break;
    case WITP_LIST:
        push(out, 'i');
        push(out, 'i');
        break;
    case WITP_ENUM: push(out, 'i'); break;
    case WITP_TUPLE:
    case WITP_RECORD:
        for (int i = 0; i < t->nargs; i++)
            flatten(t->args[i], out);
        break;
    case WITP_OPTION: {
        int cases[2] = {-1, t->args[0]};
        flatten_variant(cases, 2, out);
        break;
    }
    case WITP_RESULT: flatten_variant(t->args, 2, out); break;
    case WITP_VARIANT: flatten_variant(t->args, t->nargs, out); break;
    default: fail_msg("WIT: cannot flatten node %d", node);
    }
}

/* Formats a core signature the way wasm-objdump prints it:
 * "(i32, i32) -> nil", "() -> i64", "(i32) -> i32". */
static void sig_string(const flat *params, const flat *results, char *buf, size_t cap)
{
    static const char *const names[128] = {
        ['i'] = "i32", ['I'] = "i64", ['f'] = "f32", ['F'] = "f64"};
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < params->n; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", names[(int)params->v[i]]);
    n += (size_t)snprintf(buf + n, cap - n, ") -> ");
    if (results->n == 0)
        snprintf(buf + n, cap - n, "nil");
    else if (results->n == 1)
        snprintf(buf + n, cap - n, "%s", names[(int)results->v[0]]);
    else
        fail_msg("more than one core result");
}

static bool is_export_iface(const char *iface)
{
    for (size_t i = 0; i < sizeof abi_export_ifaces / sizeof abi_export_ifaces[0]; i++)
        if (strcmp(iface, abi_export_ifaces[i]) == 0)
            return true;
    return false;
}

/* The core signature of f lowered as an export (export=true) or an import;
 * with post=true, the signature of the export's cabi_post_ function. */
static void core_sig(const witp_func *f, bool post, char *buf, size_t cap)
{
    flat params = {.n = 0}, results = {.n = 0};
    bool exported = is_export_iface(abi.ifaces[f->iface]);
    for (int i = 0; i < f->nparams; i++)
        flatten(f->params[i], &params);
    if (params.n > 16) { /* MAX_FLAT_PARAMS */
        params.n = 0;
        push(&params, 'i');
    }
    if (f->result >= 0)
        flatten(f->result, &results);
    if (results.n > 1) { /* MAX_FLAT_RESULTS */
        results.n = 0;
        if (exported) {
            push(&results, 'i'); /* pointer to the result in guest memory */
        } else {
            push(&params, 'i'); /* retptr */
        }
    }
    if (post) {
        flat none = {.n = 0};
        sig_string(&results, &none, buf, cap);
        return;
    }
    sig_string(&params, &results, buf, cap);
}

static const witp_func *find_func(const char *iface, const char *name)
{
    int i = witp_iface_find(&abi, iface);
    return i < 0 ? NULL : witp_func_find(&abi, i, name);
}

/* The flat core values of the WIT type written in `type` (which may name the
 * types of the WIT above), formatted as a parameter list: "(i32, i64)". */
static void expect_flat(const char *type, const char *want)
{
    char got[256];
    flat params = {.n = 0}, none = {.n = 0};
    int node, n;
    if (witp_parse_types(&abi, -1, type, &node, 1, &n) < 0 || n != 1)
        fail_msg("WIT: %s: not one type: %s", type, abi.err);
    flatten(node, &params);
    sig_string(&params, &none, got, sizeof got);
    got[strlen(got) - strlen(" -> nil")] = 0;
    if (strcmp(got, want) != 0)
        fail_msg("%s: flattened to %s, the Canonical ABI says %s", type, got, want);
}

/* The core signature of a function of interface `iface` (which decides import
 * or export) with the parameter types `params` ("t1, t2, ...") and the
 * result type `result` (NULL: none). The function is not added to the WIT. */
static void expect_lowered(const char *iface, const char *params, const char *result,
                           const char *want)
{
    char got[256];
    witp_func f = {.iface = witp_iface_find(&abi, iface), .result = -1};
    int n = 1;
    assert_true(f.iface >= 0);
    if (witp_parse_types(&abi, f.iface, params, f.params, WITP_MAX_MEMBERS, &f.nparams) < 0 ||
        (result && (witp_parse_types(&abi, f.iface, result, &f.result, 1, &n) < 0 || n != 1)))
        fail_msg("WIT: %s", abi.err);
    core_sig(&f, false, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s (%s) -> %s: derived %s, the Canonical ABI says %s", iface, params,
                 result ? result : "()", got, want);
}

static void expect_sig(const char *iface, const char *name, const char *want)
{
    char got[256];
    const witp_func *f = find_func(iface, name);
    assert_non_null(f);
    core_sig(f, false, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s#%s: derived %s, the ABI says %s", iface, name, got, want);
}

/* The derivation reproduces the worked signatures of the ABI. */
static void test_worked_signatures(void **state)
{
    (void)state;
    parse_wit();
    expect_sig("actor", "init", "(i32, i32, i32, i32, i32) -> i32");
    expect_sig("runtime", "log", "(i32, i32) -> nil");
    expect_sig("message-server-host", "send", "(i32, i32, i32, i32, i32) -> nil");
    expect_sig("timing", "now", "() -> i64");
    expect_sig("timing", "sleep", "(i64, i32) -> nil");
    /* and a few that exercise joins, records and enums */
    expect_sig("supervisor-handlers", "handle-child-error",
               "(i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32");
    expect_sig("environment", "exists", "(i32, i32) -> i32");
    expect_sig("random", "random-range", "(i64, i64, i32) -> nil");
    expect_sig("store", "label", "(i32, i32, i32, i32, i32, i32, i32) -> nil");
    expect_sig("supervisor", "spawn", "(i32, i32, i32, i32, i32, i32) -> nil");
    expect_sig("http-client", "send-http",
               "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> nil");
    /* 16 flat parameters: still flat (the timeout's option joins to i64) */
    expect_sig("process", "os-spawn",
               "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i64, "
               "i32) -> nil");
    expect_sig("process-handlers", "handle-exit", "(i32, i32, i32, i64, i32) -> i32");
    /* http-framework: an option of a record, option<u64>, a variant with a
     * payload in a record; results that take a retptr */
    expect_sig("http-framework", "create-server",
               "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> nil");
    expect_sig("http-framework", "start-server", "(i64, i32) -> nil");
    expect_sig("http-framework", "add-route", "(i64, i32, i32, i32, i32, i64, i32) -> nil");
    expect_sig("http-framework", "enable-websocket",
               "(i64, i32, i32, i32, i64, i64, i32, i64, i32) -> nil");
    expect_sig("http-framework", "send-websocket-message",
               "(i64, i64, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> nil");
    expect_sig("http-handlers", "handle-request",
               "(i32, i32, i32, i64, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32");
    expect_sig("http-handlers", "handle-websocket-message",
               "(i32, i32, i32, i64, i64, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32");
    assert_int_equal(abi.nfuncs, 68 + 17);
}

/* The flattening itself: variants put an i32 discriminant first, then join
 * their cases position by position (same type stays, i32+f32 -> i32, any
 * i64 -> i64, f32+f64 -> i64); more than 16 flat params go by pointer. */
static void test_flattening(void **state)
{
    (void)state;
    parse_wit();
    expect_flat("message-type", "(i32, i32, i32)");
    expect_flat("output-mode", "(i32)");
    expect_flat("websocket-message", "(i32, i32, i32, i32, i32, i32, i32, i32, i32)");
    expect_flat("option<tls-config>", "(i32, i32, i32, i32, i32)");
    expect_flat("server-config", "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)");
    expect_flat("server-info", "(i64, i32, i32, i32, i32, i32, i32, i32)");
    expect_flat("option<u64>", "(i32, i64)");
    expect_flat("result<u64, string>", "(i32, i64, i32)");
    expect_flat("result<u16, string>", "(i32, i32, i32)");
    expect_flat("result<f32, u32>", "(i32, i32)");
    expect_flat("result<f32, f32>", "(i32, f32)");
    expect_flat("result<f64, f64>", "(i32, f64)");
    expect_flat("result<f32, f64>", "(i32, i64)");
    expect_flat("result<f64, s32>", "(i32, i64)");
    expect_flat("result<tuple<u8, f32, f32>, tuple<f32, u64>>", "(i32, i32, i64, f32)");
    expect_flat("option<option<u64>>", "(i32, i32, i64)");
    expect_flat("list<websocket-message>", "(i32, i32)");
    expect_flat("tuple<u64, http-request>", "(i64, i32, i32, i32, i32, i32, i32, i32, i32, i32)");
    expect_flat("middleware-result", "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32)");
    /* 16 flat params stay flat, 17 go by pointer, for imports and exports */
    expect_lowered("http-framework", "server-config, option<u64>, u32, u32, u32, u32", "u64",
                   "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i64, i32, i32, i32, "
                   "i32) -> i64");
    expect_lowered("http-framework", "server-config, option<u64>, u32, u32, u32, u32, u8", "u64",
                   "(i32) -> i64");
    expect_lowered("http-framework", "server-config, websocket-message", "result<_, string>",
                   "(i32, i32) -> nil");
    expect_lowered("http-handlers", "server-config, websocket-message", "result<u64, string>",
                   "(i32) -> i32");
    expect_lowered("http-handlers", "server-config, websocket-message", "f64", "(i32) -> f64");
}

/* ------------------------------------------------------------------------ */
/* Reading a module with wasm-objdump                                       */
/* ------------------------------------------------------------------------ */

#define MAX_ITEMS 256

typedef struct item {
    char kind[16];  /* func, memory, table, global */
    char name[160]; /* export name, or "module.field" split into module/field */
    char module[96];
    char sig[256];
} item;

typedef struct module_info {
    char types[MAX_ITEMS][256];
    int ntypes;
    int func_type[MAX_ITEMS * 4]; /* function index -> type index */
    item imports[MAX_ITEMS], exports[MAX_ITEMS];
    int nimports, nexports;
    bool has_start;
} module_info;

static char objdump_path[1024];

/* Copies the text after `key` up to the next space (or the end). */
static bool after(const char *line, const char *key, char *out, size_t cap)
{
    const char *p = strstr(line, key);
    if (!p)
        return false;
    p += strlen(key);
    size_t n = strcspn(p, " \n");
    if (n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

static void parse_objdump_line(module_info *m, const char *section, const char *line)
{
    char buf[256];
    if (strcmp(section, "Start") == 0) {
        m->has_start = true;
        return;
    }
    if (strncmp(line, " - ", 3) != 0)
        return;
    const char *body = line + 3;
    if (strcmp(section, "Type") == 0) {
        const char *sig = strchr(body, '(');
        assert_non_null(sig);
        assert_true(m->ntypes < MAX_ITEMS);
        snprintf(m->types[m->ntypes++], 256, "%.*s", (int)strcspn(sig, "\n"), sig);
    } else if (strcmp(section, "Function") == 0 || strcmp(section, "Import") == 0) {
        int idx = -1, sig = -1;
        if (sscanf(body, "func[%d] sig=%d", &idx, &sig) == 2) {
            assert_true(idx >= 0 && idx < MAX_ITEMS * 4);
            m->func_type[idx] = sig;
        }
        if (strcmp(section, "Import") == 0) {
            assert_true(m->nimports < MAX_ITEMS);
            item *it = &m->imports[m->nimports++];
            snprintf(it->kind, sizeof it->kind, "%.*s", (int)strcspn(body, "["), body);
            const char *from = strstr(body, "<- ");
            assert_non_null(from);
            from += 3;
            const char *slash = strrchr(from, '/');
            const char *dot = strchr(slash ? slash : from, '.');
            assert_non_null(dot);
            snprintf(it->module, sizeof it->module, "%.*s", (int)(dot - from), from);
            snprintf(it->name, sizeof it->name, "%.*s", (int)strcspn(dot + 1, "\n"), dot + 1);
            if (idx >= 0)
                snprintf(it->sig, sizeof it->sig, "type %d", sig);
        }
    } else if (strcmp(section, "Export") == 0) {
        assert_true(m->nexports < MAX_ITEMS);
        item *it = &m->exports[m->nexports++];
        snprintf(it->kind, sizeof it->kind, "%.*s", (int)strcspn(body, "["), body);
        const char *q = strstr(body, "-> \"");
        assert_non_null(q);
        q += 4;
        snprintf(it->name, sizeof it->name, "%.*s", (int)strcspn(q, "\""), q);
        if (strcmp(it->kind, "func") == 0 && after(body, "func[", buf, sizeof buf))
            snprintf(it->sig, sizeof it->sig, "func %d", atoi(buf));
    }
}

/* Resolves "type N" / "func N" placeholders to signature strings. */
static void resolve_sigs(module_info *m)
{
    for (int i = 0; i < m->nimports; i++) {
        int t;
        if (sscanf(m->imports[i].sig, "type %d", &t) == 1) {
            assert_true(t >= 0 && t < m->ntypes);
            snprintf(m->imports[i].sig, 256, "%s", m->types[t]);
        }
    }
    for (int i = 0; i < m->nexports; i++) {
        int f;
        if (sscanf(m->exports[i].sig, "func %d", &f) == 1) {
            int t = m->func_type[f];
            assert_true(t >= 0 && t < m->ntypes);
            snprintf(m->exports[i].sig, 256, "%s", m->types[t]);
        }
    }
}

static void read_module(const char *path, module_info *m)
{
    char cmd[1200], line[1024], section[32] = "";
    memset(m, 0, sizeof *m);
    memset(m->func_type, -1, sizeof m->func_type);
    snprintf(cmd, sizeof cmd, "'%s' -x '%s' 2>&1", objdump_path, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        if (line[0] != ' ' && strchr(line, ':') && strncmp(line, "Section", 7) != 0) {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(line, "[:"), line);
            continue;
        }
        parse_objdump_line(m, section, line);
    }
    int rc = pclose(p);
    if (rc != 0)
        fail_msg("%s -x %s failed (status %d)", objdump_path, path, rc);
    resolve_sigs(m);
}

/* ------------------------------------------------------------------------ */
/* Checking a module                                                        */
/* ------------------------------------------------------------------------ */

#define IFACE_PREFIX "theater:simple/"
#define POST_PREFIX "cabi_post_"

/* Splits "theater:simple/I#F" into I and F and finds the WIT function. */
static const witp_func *export_func(const char *name)
{
    char iface[WITP_NAME_LEN];
    if (strncmp(name, IFACE_PREFIX, strlen(IFACE_PREFIX)) != 0)
        return NULL;
    name += strlen(IFACE_PREFIX);
    const char *hash = strchr(name, '#');
    if (!hash || (size_t)(hash - name) >= sizeof iface)
        return NULL;
    snprintf(iface, sizeof iface, "%.*s", (int)(hash - name), name);
    const witp_func *f = find_func(iface, hash + 1);
    return f && is_export_iface(abi.ifaces[f->iface]) ? f : NULL;
}

static bool has_export(const module_info *m, const char *name)
{
    for (int i = 0; i < m->nexports; i++)
        if (strcmp(m->exports[i].name, name) == 0)
            return true;
    return false;
}

/* Every import and export of m follows the ABI. */
static void check_conformance(const char *what, const module_info *m)
{
    char want[256];
    bool memory = false, realloc_seen = false;
    assert_false(m->has_start);
    for (int i = 0; i < m->nimports; i++) {
        const item *it = &m->imports[i];
        if (strcmp(it->kind, "func") != 0)
            fail_msg("%s: imports a %s (%s.%s)", what, it->kind, it->module, it->name);
        if (strncmp(it->module, IFACE_PREFIX, strlen(IFACE_PREFIX)) != 0)
            fail_msg("%s: import %s.%s is outside theater:simple", what, it->module, it->name);
        const witp_func *f = find_func(it->module + strlen(IFACE_PREFIX), it->name);
        if (!f || is_export_iface(abi.ifaces[f->iface]))
            fail_msg("%s: import %s.%s is not a host function of the ABI", what, it->module,
                     it->name);
        core_sig(f, false, want, sizeof want);
        if (strcmp(it->sig, want) != 0)
            fail_msg("%s: import %s.%s has %s, the ABI wants %s", what, it->module, it->name,
                     it->sig, want);
    }
    for (int i = 0; i < m->nexports; i++) {
        const item *it = &m->exports[i];
        if (strcmp(it->name, "memory") == 0 && strcmp(it->kind, "memory") == 0) {
            memory = true;
            continue;
        }
        if (strcmp(it->kind, "func") != 0)
            fail_msg("%s: exports a %s named %s", what, it->kind, it->name);
        if (strcmp(it->name, "cabi_realloc") == 0) {
            realloc_seen = true;
            if (strcmp(it->sig, "(i32, i32, i32, i32) -> i32") != 0)
                fail_msg("%s: cabi_realloc has %s", what, it->sig);
            continue;
        }
        bool post = strncmp(it->name, POST_PREFIX, strlen(POST_PREFIX)) == 0;
        const char *fname = post ? it->name + strlen(POST_PREFIX) : it->name;
        const witp_func *f = export_func(fname);
        if (!f)
            fail_msg("%s: export %s is not part of the ABI", what, it->name);
        if (post && !has_export(m, fname))
            fail_msg("%s: %s without its export", what, it->name);
        if (!post) {
            char post_name[200];
            snprintf(post_name, sizeof post_name, POST_PREFIX "%s", fname);
            if (!has_export(m, post_name))
                fail_msg("%s: %s has no post-return", what, fname);
        }
        core_sig(f, post, want, sizeof want);
        if (strcmp(it->sig, want) != 0)
            fail_msg("%s: export %s has %s, the ABI wants %s", what, it->name, it->sig, want);
    }
    if (!memory)
        fail_msg("%s: does not export its memory", what);
    if (!realloc_seen)
        fail_msg("%s: does not export cabi_realloc", what);
}

/* The exact theater:simple functions an example imports and exports,
 * written "interface#function" / "interface.function". */
typedef struct expected {
    const char *name;
    const char *exports[10];
    const char *imports[10];
} expected;

#define INIT "actor#init"
#define SEND "message-server-client#handle-send"
#define REQUEST "message-server-client#handle-request"
#define LOG "runtime.log"
#define SHUTDOWN "runtime.shutdown"

static const expected examples[] = {
    {"counter", {INIT, SEND, REQUEST}, {LOG}},
    {"pong", {INIT, SEND, REQUEST}, {LOG}},
    {"worker", {INIT, SEND, REQUEST}, {LOG}},
    {"ping",
     {INIT},
     {LOG, SHUTDOWN, "message-server-host.send", "message-server-host.request",
      "supervisor.spawn"}},
    {"echo",
     {INIT, "message-server-client#handle-channel-open",
      "message-server-client#handle-channel-message", "message-server-client#handle-channel-close"},
     {LOG, "message-server-host.send-on-channel"}},
    {"supervisor",
     {INIT, SEND, "supervisor-handlers#handle-child-error", "supervisor-handlers#handle-child-exit",
      "supervisor-handlers#handle-child-external-stop"},
     {LOG, SHUTDOWN, "message-server-host.send", "message-server-host.request", "supervisor.spawn",
      "supervisor.restart-child"}},
    {"kv",
     {INIT, SEND, REQUEST},
     {LOG, "store.new", "store.get", "store.get-by-label", "store.remove-label",
      "store.store-at-label", "store.list-labels"}},
    {"timer", {INIT}, {LOG, SHUTDOWN, "timing.now", "timing.sleep", "timing.deadline"}},
    {"fetcher", {INIT, REQUEST}, {LOG, SHUTDOWN, "http-client.send-http"}},
    {"runner",
     {INIT, "process-handlers#handle-stdout", "process-handlers#handle-stderr",
      "process-handlers#handle-exit"},
     {LOG, SHUTDOWN, "process.os-spawn"}},
    {"notes",
     {INIT, "http-handlers#handle-request", "http-handlers#handle-middleware",
      "http-handlers#handle-websocket-connect", "http-handlers#handle-websocket-message",
      "http-handlers#handle-websocket-disconnect"},
     {LOG, "timing.sleep", "http-framework.create-server", "http-framework.start-server",
      "http-framework.register-handler", "http-framework.add-route",
      "http-framework.add-middleware", "http-framework.enable-websocket",
      "http-framework.send-websocket-message"}},
};

static int count_listed(const char *const *list)
{
    int n = 0;
    while (n < 10 && list[n])
        n++;
    return n;
}

static bool listed(const char *const *list, const char *s)
{
    for (int i = 0; i < 10 && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* m's theater:simple exports and imports are exactly those of e. */
static void check_exact(const char *what, const module_info *m, const expected *e)
{
    int nexp = 0;
    char key[256];
    for (int i = 0; i < m->nexports; i++) {
        const char *n = m->exports[i].name;
        if (strncmp(n, IFACE_PREFIX, strlen(IFACE_PREFIX)) != 0)
            continue;
        if (!listed(e->exports, n + strlen(IFACE_PREFIX)))
            fail_msg("%s: unexpected export %s", what, n);
        nexp++;
    }
    if (nexp != count_listed(e->exports))
        fail_msg("%s: %d theater:simple exports, expected %d", what, nexp,
                 count_listed(e->exports));
    for (int i = 0; i < m->nimports; i++) {
        snprintf(key, sizeof key, "%s.%s", m->imports[i].module + strlen(IFACE_PREFIX),
                 m->imports[i].name);
        if (!listed(e->imports, key))
            fail_msg("%s: unexpected import %s", what, key);
    }
    if (m->nimports != count_listed(e->imports))
        fail_msg("%s: %d imports, expected %d", what, m->nimports, count_listed(e->imports));
}

/* The probe has every function of the ABI: each export interface function
 * (with its post-return) and each host function. */
static void check_complete(const module_info *m)
{
    char name[256];
    int imports = 0, exports = 0;
    for (int i = 0; i < abi.nfuncs; i++) {
        const witp_func *f = &abi.funcs[i];
        const char *iface = abi.ifaces[f->iface];
        if (is_export_iface(iface)) {
            snprintf(name, sizeof name, IFACE_PREFIX "%s#%s", iface, f->name);
            if (!has_export(m, name))
                fail_msg("abi_probe: missing export %s", name);
            exports++;
            continue;
        }
        bool found = false;
        snprintf(name, sizeof name, IFACE_PREFIX "%s", iface);
        for (int k = 0; k < m->nimports; k++)
            found |=
                strcmp(m->imports[k].module, name) == 0 && strcmp(m->imports[k].name, f->name) == 0;
        if (!found)
            fail_msg("abi_probe: missing import %s.%s", name, f->name);
        imports++;
    }
    assert_int_equal(imports, 68);
    assert_int_equal(exports, 17);
    assert_int_equal(m->nimports, 68);
    assert_int_equal(m->nexports, 1 + 1 + 2 * 17); /* memory, cabi_realloc, exports + posts */
}

typedef struct module_case {
    char name[64];
    char path[512];
} module_case;

static void test_module(void **state)
{
    const module_case *mc = *state;
    static module_info m;
    parse_wit();
    FILE *f = fopen(mc->path, "rb");
    if (!f)
        fail_msg("%s: %s was not built", mc->name, mc->path);
    fclose(f);
    read_module(mc->path, &m);
    check_conformance(mc->name, &m);
    if (strcmp(mc->name, "abi_probe") == 0) {
        check_complete(&m);
        return;
    }
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        if (strcmp(examples[i].name, mc->name) == 0) {
            check_exact(mc->name, &m, &examples[i]);
            return;
        }
    }
    fail_msg("%s: no expected import/export set in this test", mc->name);
}

static void test_guests_off(void **state)
{
    (void)state;
    th_skip_missing(
        "<build>/sdk/abi_check.txt (the example actors: THEATER_GUEST=ON and the wasm32 "
        "guest toolchain)");
}

int main(void)
{
    static module_case cases[64];
    static struct CMUnitTest tests[67];
    char path[1024], line[1024];
    int n = 0, ncases = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_worked_signatures);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_flattening);

    const char *bin = getenv("THEATER_BINARY_DIR");
    snprintf(path, sizeof path, "%s/sdk/abi_check.txt", bin ? bin : ".");
    FILE *cfg = fopen(path, "r");
    if (!cfg) {
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_guests_off);
    } else {
        while (fgets(line, sizeof line, cfg) && ncases < 64) {
            module_case *mc = &cases[ncases];
            line[strcspn(line, "\n")] = 0;
            if (strncmp(line, "objdump ", 8) == 0) {
                snprintf(objdump_path, sizeof objdump_path, "%s", line + 8);
            } else if (sscanf(line, "wasm %63s %511s", mc->name, mc->path) == 2) {
                tests[n++] = (struct CMUnitTest){mc->name, test_module, NULL, NULL, mc};
                ncases++;
            }
        }
        fclose(cfg);
    }
    return th_test_exit(_cmocka_run_group_tests("sdk_abi", tests, (size_t)n, NULL, NULL));
}
