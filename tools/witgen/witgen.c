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

#include "wit.h"

static FILE *out;
static wit_pkg P;
static char *used; /* canonical types reachable from a function */

static void E(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void E(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
}

static wit_type *T(int t)
{
    return &P.types[t];
}

/* C identifier of a WIT name ("parent-hash" -> "parent_hash"). */
static const char *cid(const char *s)
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

static const char *upper(const char *s)
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

static bool prim(int t)
{
    return T(t)->kind <= W_CHAR;
}

static const char *ctype(int t)
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
    snprintf(o, sizeof buf[0], "wit_%s", T(t)->mangle);
    return o;
}

static void mark(int t)
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

static char *declared;

static void declare(int t)
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

/* ------------------------------------------------------------------ */
/* Per-type functions                                                 */

/* Member access and type of case i of a variant-like type, or NULL. */
static const char *case_field(int t, int i, char *buf, size_t cap)
{
    wit_type *w = T(t);

    if (w->m[i] < 0)
        return NULL;
    if (w->kind == W_OPTION)
        return "val";
    if (w->kind == W_RESULT)
        return i == 0 ? "ok" : "err";
    snprintf(buf, cap, "%s", cid(w->names[i]));
    return buf;
}

static const char *field_of(int t, int i, char *buf, size_t cap)
{
    if (T(t)->kind == W_TUPLE)
        snprintf(buf, cap, "f%d", i);
    else
        snprintf(buf, cap, "%s", cid(T(t)->names[i]));
    return buf;
}

/* The expression of the current case of a variant-like value `v`. */
static void emit_tag_get(int t, const char *v)
{
    if (T(t)->kind == W_OPTION)
        E("(uint32_t)%s->some", v);
    else if (T(t)->kind == W_RESULT)
        E("(uint32_t)%s->is_err", v);
    else if (T(t)->kind == W_ENUM)
        E("*%s", v);
    else
        E("%s->tag", v);
}

static void emit_tag_set(int t, const char *v, const char *x)
{
    if (T(t)->kind == W_OPTION)
        E("%s->some = %s != 0;\n", v, x);
    else if (T(t)->kind == W_RESULT)
        E("%s->is_err = %s != 0;\n", v, x);
    else if (T(t)->kind == W_ENUM)
        E("*%s = %s;\n", v, x);
    else
        E("%s->tag = %s;\n", v, x);
}

static bool variantish(int t)
{
    int k = T(t)->kind;

    return k == W_OPTION || k == W_RESULT || k == W_VARIANT || k == W_ENUM;
}

static void emit_protos(int t)
{
    const char *c = ctype(t), *m = T(t)->mangle;

    if (!prim(t))
        E("void wit_free_%s(%s *v);\n", m, c);
}

static void emit_static_protos(int t)
{
    const char *c = ctype(t), *m = T(t)->mangle;

    E("static int lm_%s(rt_guest *g, uint32_t a, %s *out) WIT_UNUSED;\n", m, c);
    E("static int lf_%s(rt_guest *g, const th_wasm_val *v, %s *out) WIT_UNUSED;\n", m, c);
    E("static int sm_%s(rt_guest *g, uint32_t a, const %s *in) WIT_UNUSED;\n", m, c);
    E("static int sf_%s(rt_guest *g, const %s *in, th_wasm_val *v) WIT_UNUSED;\n", m, c);
    E("static void js_%s(rt_buf *b, const %s *in) WIT_UNUSED;\n", m, c);
    E("static int jp_%s(rt_guest *g, const json_t *j, %s *out) WIT_UNUSED;\n", m, c);
}

static void emit_free(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i;

    if (prim(t))
        return;
    E("void wit_free_%s(%s *v)\n{\n", w->mangle, ctype(t));
    E("    if (v == NULL)\n        return;\n");
    switch (w->kind) {
    case W_STRING: E("    free(v->ptr);\n    v->ptr = NULL;\n    v->len = 0;\n"); break;
    case W_LIST:
        if (!prim(w->m[0]))
            E("    for (size_t i = 0; v->ptr != NULL && i < v->len; i++)\n        "
              "wit_free_%s(&v->ptr[i]);\n",
              T(w->m[0])->mangle);
        E("    free(v->ptr);\n    v->ptr = NULL;\n    v->len = 0;\n");
        break;
    case W_RECORD:
    case W_TUPLE:
        for (i = 0; i < w->n; i++)
            if (!prim(w->m[i]))
                E("    wit_free_%s(&v->%s);\n", T(w->m[i])->mangle,
                  field_of(t, i, buf, sizeof buf));
        break;
    case W_OPTION:
    case W_RESULT:
    case W_VARIANT:
        for (i = 0; i < w->n; i++)
            if ((f = case_field(t, i, buf, sizeof buf)) != NULL && !prim(w->m[i]))
                E("    wit_free_%s(&v->%s);\n", T(w->m[i])->mangle, f);
        break;
    default: break;
    }
    E("    (void)v;\n}\n\n");
}

static void emit_lm_prim(int t)
{
    static const unsigned bytes[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 4};
    int k = T(t)->kind;

    E("    uint64_t x;\n    int rc = wit_ld(g, a, %u, &x);\n\n    if (rc != 0)\n        return "
      "rc;\n",
      bytes[k]);
    switch (k) {
    case W_BOOL: E("    *out = x != 0;\n"); break;
    case W_S8: E("    *out = (int8_t)(uint8_t)x;\n"); break;
    case W_S16: E("    *out = (int16_t)(uint16_t)x;\n"); break;
    case W_S32: E("    *out = (int32_t)(uint32_t)x;\n"); break;
    case W_S64: E("    *out = (int64_t)x;\n"); break;
    case W_F32: E("    uint32_t b32 = (uint32_t)x;\n    memcpy(out, &b32, 4);\n"); break;
    case W_F64: E("    memcpy(out, &x, 8);\n"); break;
    case W_CHAR:
        E("    if (x >= 0x110000 || (x >= 0xd800 && x < 0xe000))\n");
        E("        return th_error_set(g->err, TH_ETRAP, \"invalid char U+%%llx\", (unsigned long "
          "long)x);\n");
        E("    *out = (uint32_t)x;\n");
        break;
    default: E("    *out = (%s)x;\n", ctype(t)); break;
    }
    E("    return 0;\n");
}

/* Lift a list (ptr, len already in `ptr`, `len`) into out. */
static void emit_list_lift(int t)
{
    int e = T(t)->m[0];

    if (T(e)->kind == W_U8) {
        E("    if ((rc = rt_abi_bytes(g, ptr, len, &out->ptr)) != 0)\n        return rc;\n");
        E("    out->len = len;\n    return 0;\n");
        return;
    }
    E("    if ((rc = wit_list_span(g, ptr, len, %u, %u)) != 0)\n        return rc;\n", T(e)->size,
      T(e)->align);
    E("    if ((out->ptr = calloc(len ? len : 1, sizeof *out->ptr)) == NULL)\n");
    E("        return th_error_set(g->err, TH_ENOMEM, \"out of memory lifting a list of %%u\", "
      "len);\n");
    E("    out->len = len;\n");
    E("    for (uint32_t i = 0; i < len; i++)\n");
    E("        if ((rc = lm_%s(g, ptr + i * %uu, &out->ptr[i])) != 0)\n            return rc;\n",
      T(e)->mangle, T(e)->size);
    E("    return 0;\n");
}

static void emit_lm(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i;

    E("static int lm_%s(rt_guest *g, uint32_t a, %s *out)\n{\n", w->mangle, ctype(t));
    if (prim(t)) {
        emit_lm_prim(t);
        E("}\n\n");
        return;
    }
    switch (w->kind) {
    case W_STRING:
    case W_LIST:
        E("    uint32_t ptr, len;\n    int rc;\n\n");
        E("    if ((rc = rt_abi_load_u32(g, a, &ptr)) != 0 || (rc = rt_abi_load_u32(g, a + 4, "
          "&len)) != 0)\n");
        E("        return rc;\n");
        if (w->kind == W_STRING)
            E("    if ((rc = rt_abi_string(g, ptr, len, &out->ptr, NULL)) != 0)\n        return "
              "rc;\n"
              "    out->len = len;\n    return 0;\n");
        else
            emit_list_lift(t);
        break;
    case W_RECORD:
    case W_TUPLE:
        E("    int rc;\n\n");
        for (i = 0; i < w->n; i++)
            E("    if ((rc = lm_%s(g, a + %uu, &out->%s)) != 0)\n        return rc;\n",
              T(w->m[i])->mangle, w->off[i], field_of(t, i, buf, sizeof buf));
        E("    return 0;\n");
        break;
    default: /* variant-like */
        E("    uint64_t d;\n    int rc = wit_ld(g, a, %u, &d);\n\n    if (rc != 0)\n        return "
          "rc;\n",
          w->disc);
        E("    if (d >= %d)\n        return th_error_set(g->err, TH_ETRAP, \"invalid %s "
          "discriminant %%llu\", "
          "(unsigned long long)d);\n",
          w->n,
          w->kind == W_OPTION   ? "option"
          : w->kind == W_RESULT ? "result"
                                : w->name);
        emit_tag_set(t, "out", "(uint32_t)d");
        for (i = 0; i < w->n; i++)
            if ((f = case_field(t, i, buf, sizeof buf)) != NULL)
                E("    if (d == %d)\n        return lm_%s(g, a + %uu, &out->%s);\n", i,
                  T(w->m[i])->mangle, w->off[0], f);
        E("    return 0;\n");
        break;
    }
    E("}\n\n");
}

/* Convert flat value `src` of type `from` to `dst` of type `to` (joins). */
static void emit_cvt(const char *dst, int to, const char *src, int from)
{
    if (to == from)
        E("%s = %s;\n", dst, src);
    else if (from == F_I32 && to == F_I64)
        E("%s.i64 = (int64_t)(uint32_t)%s.i32;\n", dst, src);
    else if (from == F_I64 && to == F_I32)
        E("%s.i32 = (int32_t)(uint32_t)%s.i64;\n", dst, src);
    else if (from == F_F32 && to == F_I32)
        E("memcpy(&%s.i32, &%s.f32, 4);\n", dst, src);
    else if (from == F_I32 && to == F_F32)
        E("memcpy(&%s.f32, &%s.i32, 4);\n", dst, src);
    else if (from == F_F32 && to == F_I64)
        E("{ uint32_t b; memcpy(&b, &%s.f32, 4); %s.i64 = (int64_t)b; }\n", src, dst);
    else if (from == F_I64 && to == F_F32)
        E("{ uint32_t b = (uint32_t)%s.i64; memcpy(&%s.f32, &b, 4); }\n", src, dst);
    else if (from == F_F64 && to == F_I64)
        E("memcpy(&%s.i64, &%s.f64, 8);\n", dst, src);
    else
        E("memcpy(&%s.f64, &%s.i64, 8);\n", dst, src);
}

static void emit_lf(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i, j, k;

    E("static int lf_%s(rt_guest *g, const th_wasm_val *v, %s *out)\n{\n", w->mangle, ctype(t));
    switch (w->kind) {
    case W_BOOL: E("    (void)g;\n    *out = v[0].i32 != 0;\n    return 0;\n"); break;
    case W_U8:
    case W_U16:
    case W_U32:
        E("    (void)g;\n    *out = (%s)(uint32_t)v[0].i32;\n    return 0;\n", ctype(t));
        break;
    case W_S8:
    case W_S16:
    case W_S32: E("    (void)g;\n    *out = (%s)v[0].i32;\n    return 0;\n", ctype(t)); break;
    case W_U64: E("    (void)g;\n    *out = (uint64_t)v[0].i64;\n    return 0;\n"); break;
    case W_S64: E("    (void)g;\n    *out = v[0].i64;\n    return 0;\n"); break;
    case W_F32: E("    (void)g;\n    *out = v[0].f32;\n    return 0;\n"); break;
    case W_F64: E("    (void)g;\n    *out = v[0].f64;\n    return 0;\n"); break;
    case W_CHAR:
        E("    uint32_t x = (uint32_t)v[0].i32;\n\n");
        E("    if (x >= 0x110000 || (x >= 0xd800 && x < 0xe000))\n");
        E("        return th_error_set(g->err, TH_ETRAP, \"invalid char U+%%x\", x);\n");
        E("    *out = x;\n    return 0;\n");
        break;
    case W_STRING:
        E("    uint32_t len = (uint32_t)v[1].i32;\n    int rc = rt_abi_string(g, "
          "(uint32_t)v[0].i32, len, &out->ptr, NULL);\n\n");
        E("    if (rc == 0)\n        out->len = len;\n    return rc;\n");
        break;
    case W_LIST:
        E("    uint32_t ptr = (uint32_t)v[0].i32, len = (uint32_t)v[1].i32;\n    int rc;\n\n");
        emit_list_lift(t);
        break;
    case W_RECORD:
    case W_TUPLE:
        E("    int rc;\n\n");
        for (i = 0, k = 0; i < w->n; k += T(w->m[i])->nflat, i++)
            E("    if ((rc = lf_%s(g, v + %d, &out->%s)) != 0)\n        return rc;\n",
              T(w->m[i])->mangle, k, field_of(t, i, buf, sizeof buf));
        E("    return 0;\n");
        break;
    default:
        E("    uint32_t d = (uint32_t)v[0].i32;\n\n    (void)g;\n");
        E("    if (d >= %du)\n        return th_error_set(g->err, TH_ETRAP, \"invalid %s "
          "discriminant %%u\", d);\n",
          w->n,
          w->kind == W_OPTION   ? "option"
          : w->kind == W_RESULT ? "result"
                                : w->name);
        emit_tag_set(t, "out", "d");
        for (i = 0; i < w->n; i++) {
            wit_type *c;
            if ((f = case_field(t, i, buf, sizeof buf)) == NULL)
                continue;
            c = T(w->m[i]);
            E("    if (d == %d) {\n        th_wasm_val c[%d];\n", i, c->nflat > 0 ? c->nflat : 1);
            for (j = 0; j < c->nflat; j++) {
                char dst[32], src[32];
                snprintf(dst, sizeof dst, "c[%d]", j);
                snprintf(src, sizeof src, "v[%d]", j + 1);
                E("        ");
                emit_cvt(dst, c->flat[j], src, w->flat[j + 1]);
            }
            E("        return lf_%s(g, c, &out->%s);\n    }\n", c->mangle, f);
        }
        E("    return 0;\n");
        break;
    }
    E("}\n\n");
}

static void emit_sm(int t)
{
    static const unsigned bytes[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 4};
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i, e;

    E("static int sm_%s(rt_guest *g, uint32_t a, const %s *in)\n{\n", w->mangle, ctype(t));
    if (w->kind == W_F32) {
        E("    uint32_t b;\n\n    memcpy(&b, in, 4);\n    return wit_st(g, a, 4, b);\n}\n\n");
        return;
    }
    if (w->kind == W_F64) {
        E("    uint64_t b;\n\n    memcpy(&b, in, 8);\n    return wit_st(g, a, 8, b);\n}\n\n");
        return;
    }
    if (w->kind == W_BOOL) {
        E("    return wit_st(g, a, 1, *in ? 1 : 0);\n}\n\n");
        return;
    }
    if (prim(t)) {
        E("    return wit_st(g, a, %u, (uint64_t)*in);\n}\n\n", bytes[w->kind]);
        return;
    }
    switch (w->kind) {
    case W_STRING: E("    return rt_abi_store_list(g, a, in->ptr, in->len);\n"); break;
    case W_LIST:
        e = w->m[0];
        if (T(e)->kind == W_U8) {
            E("    return rt_abi_store_list(g, a, in->ptr, in->len);\n");
            break;
        }
        E("    uint32_t p;\n    int rc;\n\n");
        E("    if ((rc = rt_abi_fits(g, a, 8)) != 0)\n        return rc;\n");
        E("    if (in->len > UINT32_MAX / %uu)\n", T(e)->size);
        E("        return th_error_set(g->err, TH_ETOOBIG, \"list of %%zu elements is too long\", "
          "in->len);\n");
        E("    if ((rc = rt_abi_alloc(g, %u, (uint32_t)(in->len * %uu), &p)) != 0)\n        return "
          "rc;\n",
          T(e)->align, T(e)->size);
        E("    for (size_t i = 0; i < in->len; i++)\n");
        E("        if ((rc = sm_%s(g, p + (uint32_t)i * %uu, &in->ptr[i])) != 0)\n            "
          "return rc;\n",
          T(e)->mangle, T(e)->size);
        E("    if ((rc = rt_abi_store_u32(g, a, p)) != 0)\n        return rc;\n");
        E("    return rt_abi_store_u32(g, a + 4, (uint32_t)in->len);\n");
        break;
    case W_RECORD:
    case W_TUPLE:
        E("    int rc;\n\n");
        for (i = 0; i < w->n; i++)
            E("    if ((rc = sm_%s(g, a + %uu, &in->%s)) != 0)\n        return rc;\n",
              T(w->m[i])->mangle, w->off[i], field_of(t, i, buf, sizeof buf));
        E("    return 0;\n");
        break;
    default:
        E("    uint32_t d = ");
        emit_tag_get(t, "in");
        E(";\n    int rc;\n\n");
        E("    if (d >= %du)\n        return th_error_set(g->err, TH_EINVAL, \"invalid %s case "
          "%%u\", d);\n",
          w->n,
          w->kind == W_OPTION   ? "option"
          : w->kind == W_RESULT ? "result"
                                : w->name);
        E("    if ((rc = wit_st(g, a, %u, d)) != 0)\n        return rc;\n", w->disc);
        for (i = 0; i < w->n; i++)
            if ((f = case_field(t, i, buf, sizeof buf)) != NULL)
                E("    if (d == %d)\n        return sm_%s(g, a + %uu, &in->%s);\n", i,
                  T(w->m[i])->mangle, w->off[0], f);
        E("    return 0;\n");
        break;
    }
    E("}\n\n");
}

static void emit_sf(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i, j, k;

    E("static int sf_%s(rt_guest *g, const %s *in, th_wasm_val *v)\n{\n", w->mangle, ctype(t));
    switch (w->kind) {
    case W_BOOL: E("    (void)g;\n    v[0].i32 = *in ? 1 : 0;\n    return 0;\n"); break;
    case W_U8:
    case W_U16:
    case W_U32:
    case W_CHAR: E("    (void)g;\n    v[0].i32 = (int32_t)*in;\n    return 0;\n"); break;
    case W_S8:
    case W_S16:
    case W_S32: E("    (void)g;\n    v[0].i32 = *in;\n    return 0;\n"); break;
    case W_U64: E("    (void)g;\n    v[0].i64 = (int64_t)*in;\n    return 0;\n"); break;
    case W_S64: E("    (void)g;\n    v[0].i64 = *in;\n    return 0;\n"); break;
    case W_F32: E("    (void)g;\n    v[0].f32 = *in;\n    return 0;\n"); break;
    case W_F64: E("    (void)g;\n    v[0].f64 = *in;\n    return 0;\n"); break;
    case W_STRING:
    case W_LIST:
        if (w->kind == W_STRING || T(w->m[0])->kind == W_U8) {
            E("    uint32_t p;\n    int rc = rt_abi_put(g, in->ptr, in->len, 1, &p);\n\n");
        } else {
            int e = w->m[0];
            E("    uint32_t p;\n    int rc;\n\n");
            E("    if (in->len > UINT32_MAX / %uu)\n", T(e)->size);
            E("        return th_error_set(g->err, TH_ETOOBIG, \"list of %%zu elements is too "
              "long\", in->len);\n");
            E("    rc = rt_abi_alloc(g, %u, (uint32_t)(in->len * %uu), &p);\n", T(e)->align,
              T(e)->size);
            E("    for (size_t i = 0; rc == 0 && i < in->len; i++)\n");
            E("        rc = sm_%s(g, p + (uint32_t)i * %uu, &in->ptr[i]);\n", T(e)->mangle,
              T(e)->size);
        }
        E("    if (rc != 0)\n        return rc;\n");
        E("    v[0].i32 = (int32_t)p;\n    v[1].i32 = (int32_t)in->len;\n    return 0;\n");
        break;
    case W_RECORD:
    case W_TUPLE:
        E("    int rc;\n\n");
        for (i = 0, k = 0; i < w->n; k += T(w->m[i])->nflat, i++)
            E("    if ((rc = sf_%s(g, &in->%s, v + %d)) != 0)\n        return rc;\n",
              T(w->m[i])->mangle, field_of(t, i, buf, sizeof buf), k);
        E("    return 0;\n");
        break;
    default:
        E("    uint32_t d = ");
        emit_tag_get(t, "in");
        E(";\n\n");
        E("    if (d >= %du)\n        return th_error_set(g->err, TH_EINVAL, \"invalid %s case "
          "%%u\", d);\n",
          w->n,
          w->kind == W_OPTION   ? "option"
          : w->kind == W_RESULT ? "result"
                                : w->name);
        E("    v[0].i32 = (int32_t)d;\n");
        for (j = 1; j < w->nflat; j++)
            E("    v[%d].bits = 0;\n", j);
        for (i = 0; i < w->n; i++) {
            wit_type *c;
            if ((f = case_field(t, i, buf, sizeof buf)) == NULL)
                continue;
            c = T(w->m[i]);
            E("    if (d == %d) {\n        th_wasm_val c[%d];\n        int rc = sf_%s(g, &in->%s, "
              "c);\n\n",
              i, c->nflat > 0 ? c->nflat : 1, c->mangle, f);
            E("        if (rc != 0)\n            return rc;\n");
            for (j = 0; j < c->nflat; j++) {
                char dst[32], src[32];
                snprintf(dst, sizeof dst, "v[%d]", j + 1);
                snprintf(src, sizeof src, "c[%d]", j);
                E("        ");
                emit_cvt(dst, w->flat[j + 1], src, c->flat[j]);
            }
            E("    }\n");
        }
        E("    (void)g;\n    return 0;\n");
        break;
    }
    E("}\n\n");
}

static void emit_js(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i;

    E("static void js_%s(rt_buf *b, const %s *in)\n{\n", w->mangle, ctype(t));
    switch (w->kind) {
    case W_BOOL: E("    rt_buf_puts(b, *in ? \"true\" : \"false\");\n"); break;
    case W_U8:
    case W_U16:
    case W_U32:
    case W_U64:
    case W_CHAR: E("    rt_buf_printf(b, \"%%llu\", (unsigned long long)*in);\n"); break;
    case W_S8:
    case W_S16:
    case W_S32:
    case W_S64: E("    rt_buf_printf(b, \"%%lld\", (long long)*in);\n"); break;
    case W_F32:
    case W_F64:
        E("    if (isfinite(*in))\n        rt_buf_printf(b, \"%%.17g\", (double)*in);\n");
        E("    else\n        rt_buf_puts(b, \"null\");\n");
        break;
    case W_STRING: E("    rt_buf_json_str(b, in->ptr, in->len);\n"); break;
    case W_LIST:
        if (T(w->m[0])->kind == W_U8) {
            E("    rt_buf_json_hex(b, in->ptr, in->len);\n");
            break;
        }
        E("    rt_buf_puts(b, \"[\");\n    for (size_t i = 0; i < in->len; i++) {\n");
        E("        if (i)\n            rt_buf_puts(b, \",\");\n        js_%s(b, &in->ptr[i]);\n    "
          "}\n",
          T(w->m[0])->mangle);
        E("    rt_buf_puts(b, \"]\");\n");
        break;
    case W_TUPLE:
        E("    rt_buf_puts(b, \"[\");\n");
        for (i = 0; i < w->n; i++) {
            if (i)
                E("    rt_buf_puts(b, \",\");\n");
            E("    js_%s(b, &in->f%d);\n", T(w->m[i])->mangle, i);
        }
        E("    rt_buf_puts(b, \"]\");\n");
        break;
    case W_RECORD:
        for (i = 0; i < w->n; i++) {
            E("    rt_buf_puts(b, \"%s\\\"%s\\\":\");\n", i ? "," : "{", w->names[i]);
            E("    js_%s(b, &in->%s);\n", T(w->m[i])->mangle, cid(w->names[i]));
        }
        E("    rt_buf_puts(b, \"}\");\n");
        break;
    case W_OPTION:
        E("    if (in->some)\n        js_%s(b, &in->val);\n    else\n        rt_buf_puts(b, "
          "\"null\");\n",
          T(w->m[1])->mangle);
        break;
    case W_RESULT:
        E("    rt_buf_puts(b, in->is_err ? \"{\\\"err\\\":\" : \"{\\\"ok\\\":\");\n");
        for (i = 0; i < 2; i++) {
            E("    %sif (%sin->is_err) ", i ? "else " : "", i ? "" : "!");
            if (w->m[i] >= 0)
                E("js_%s(b, &in->%s);\n", T(w->m[i])->mangle, i ? "err" : "ok");
            else
                E("rt_buf_puts(b, \"null\");\n");
        }
        E("    rt_buf_puts(b, \"}\");\n");
        break;
    default:
        E("    switch (");
        emit_tag_get(t, "in");
        E(") {\n");
        for (i = 0; i < w->n; i++) {
            if ((f = case_field(t, i, buf, sizeof buf)) != NULL)
                E("    case %d:\n        rt_buf_puts(b, \"{\\\"%s\\\":\");\n        js_%s(b, "
                  "&in->%s);\n"
                  "        rt_buf_puts(b, \"}\");\n        break;\n",
                  i, w->names[i], T(w->m[i])->mangle, f);
            else
                E("    case %d:\n        rt_buf_puts(b, \"\\\"%s\\\"\");\n        break;\n", i,
                  w->names[i]);
        }
        E("    default:\n        rt_buf_puts(b, \"null\");\n        break;\n    }\n");
        break;
    }
    E("}\n\n");
}

/* jp_T: the inverse of js_T, for replay (replay.c): a recorded value (a
 * jansson value) back into the C value, checked by type and range.  On
 * failure g->err says what did not fit; *out may be partly filled (the
 * caller frees it with wit_free_T as usual). */
static void emit_jp(int t)
{
    static const char *const umax[] = {"1", "UINT8_MAX", "UINT16_MAX", "UINT32_MAX", "INT64_MAX"};
    static const char *const smin[] = {"INT8_MIN", "INT16_MIN", "INT32_MIN", "INT64_MIN"};
    static const char *const smax[] = {"INT8_MAX", "INT16_MAX", "INT32_MAX", "INT64_MAX"};
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i, k = w->kind;

    E("static int jp_%s(rt_guest *g, const json_t *j, %s *out)\n{\n", w->mangle, ctype(t));
    switch (k) {
    case W_BOOL:
        E("    if (!json_is_boolean(j))\n        return wit_jp_bad(g, \"bool\");\n");
        E("    *out = json_is_true(j);\n    return 0;\n");
        break;
    case W_U8:
    case W_U16:
    case W_U32:
    case W_U64:
    case W_CHAR:
        E("    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > "
          "%s)\n",
          k == W_CHAR ? "0x10FFFF" : umax[k]);
        E("        return wit_jp_bad(g, \"%s\");\n", k == W_CHAR ? "char" : "unsigned integer");
        E("    *out = (%s)json_integer_value(j);\n    return 0;\n", ctype(t));
        break;
    case W_S8:
    case W_S16:
    case W_S32:
    case W_S64:
        E("    if (!json_is_integer(j) || json_integer_value(j) < %s || json_integer_value(j) > "
          "%s)\n",
          smin[k - W_S8], smax[k - W_S8]);
        E("        return wit_jp_bad(g, \"signed integer\");\n");
        E("    *out = (%s)json_integer_value(j);\n    return 0;\n", ctype(t));
        break;
    case W_F32:
    case W_F64:
        E("    if (json_is_null(j)) {\n        *out = (%s)NAN;\n        return 0;\n    }\n",
          ctype(t));
        E("    if (!json_is_number(j))\n        return wit_jp_bad(g, \"number\");\n");
        E("    *out = (%s)json_number_value(j);\n    return 0;\n", ctype(t));
        break;
    case W_STRING:
        E("    if (!json_is_string(j))\n        return wit_jp_bad(g, \"string\");\n");
        E("    out->len = json_string_length(j);\n");
        E("    if ((out->ptr = malloc(out->len + 1)) == NULL)\n        return "
          "th_error_set(g->err, TH_ENOMEM, \"out of memory\");\n");
        E("    memcpy(out->ptr, json_string_value(j), out->len + 1);\n    return 0;\n");
        break;
    case W_LIST:
        if (T(w->m[0])->kind == W_U8) {
            E("    size_t n = json_is_string(j) ? json_string_length(j) : 1;\n\n");
            E("    if (!json_is_string(j) || n %% 2 != 0)\n        return wit_jp_bad(g, \"hex "
              "bytes\");\n");
            E("    if ((out->ptr = malloc(n / 2 + 1)) == NULL)\n        return "
              "th_error_set(g->err, TH_ENOMEM, \"out of memory\");\n");
            E("    out->len = n / 2;\n");
            E("    if (base_hex_decode(json_string_value(j), out->ptr, n / 2) != 0)\n        "
              "return wit_jp_bad(g, \"hex bytes\");\n    return 0;\n");
            break;
        }
        E("    size_t i, n = json_is_array(j) ? json_array_size(j) : 0;\n    int rc;\n\n");
        E("    if (!json_is_array(j))\n        return wit_jp_bad(g, \"array\");\n");
        E("    if ((out->ptr = calloc(n ? n : 1, sizeof *out->ptr)) == NULL)\n        return "
          "th_error_set(g->err, TH_ENOMEM, \"out of memory\");\n");
        E("    out->len = n;\n    for (i = 0; i < n; i++)\n");
        E("        if ((rc = jp_%s(g, json_array_get(j, i), &out->ptr[i])) != 0)\n            "
          "return rc;\n    return 0;\n",
          T(w->m[0])->mangle);
        break;
    case W_TUPLE:
        E("    int rc;\n\n    if (!json_is_array(j) || json_array_size(j) != %d)\n        return "
          "wit_jp_bad(g, \"tuple\");\n",
          w->n);
        for (i = 0; i < w->n; i++)
            E("    if ((rc = jp_%s(g, json_array_get(j, %d), &out->f%d)) != 0)\n        return "
              "rc;\n",
              T(w->m[i])->mangle, i, i);
        E("    return 0;\n");
        break;
    case W_RECORD:
        E("    int rc;\n\n    if (!json_is_object(j))\n        return wit_jp_bad(g, \"record "
          "%s\");\n",
          w->name);
        for (i = 0; i < w->n; i++)
            E("    if ((rc = jp_%s(g, json_object_get(j, \"%s\"), &out->%s)) != 0)\n        return "
              "rc;\n",
              T(w->m[i])->mangle, w->names[i], cid(w->names[i]));
        E("    return 0;\n");
        break;
    case W_OPTION:
        E("    out->some = !json_is_null(j);\n");
        E("    return out->some ? jp_%s(g, j, &out->val) : 0;\n", T(w->m[1])->mangle);
        break;
    case W_RESULT:
        E("    const json_t *ok = json_object_get(j, \"ok\"), *er = json_object_get(j, "
          "\"err\");\n\n");
        E("    if (!json_is_object(j) || json_object_size(j) != 1 || (ok == NULL && er == NULL))\n"
          "        return wit_jp_bad(g, \"result\");\n");
        E("    out->is_err = er != NULL;\n");
        for (i = 0; i < 2; i++) {
            E("    if (%sout->is_err)\n        ", i ? "" : "!");
            if (w->m[i] >= 0)
                E("return jp_%s(g, %s, &out->%s);\n", T(w->m[i])->mangle, i ? "er" : "ok",
                  i ? "err" : "ok");
            else
                E("return json_is_null(%s) ? 0 : wit_jp_bad(g, \"null\");\n", i ? "er" : "ok");
        }
        E("    return 0;\n");
        break;
    case W_ENUM:
    case W_VARIANT:
        E("    const char *key = json_is_string(j) ? json_string_value(j) : NULL;\n");
        E("    const json_t *pay = NULL;\n\n");
        E("    if (json_is_object(j) && json_object_size(j) == 1) {\n");
        E("        key = json_object_iter_key(json_object_iter((json_t *)j));\n");
        E("        pay = json_object_iter_value(json_object_iter((json_t *)j));\n    }\n");
        E("    if (key == NULL)\n        return wit_jp_bad(g, \"%s\");\n", w->name);
        for (i = 0; i < w->n; i++) {
            E("    if (strcmp(key, \"%s\") == 0) {\n        ", w->names[i]);
            char num[16];
            snprintf(num, sizeof num, "%d", i);
            emit_tag_set(t, "out", num);
            if (k == W_VARIANT && (f = case_field(t, i, buf, sizeof buf)) != NULL)
                E("        return pay != NULL ? jp_%s(g, pay, &out->%s) : wit_jp_bad(g, "
                  "\"payload\");\n",
                  T(w->m[i])->mangle, f);
            else
                E("        return pay == NULL ? 0 : wit_jp_bad(g, \"case without payload\");\n");
            E("    }\n");
        }
        E("    return wit_jp_bad(g, \"%s case\");\n", w->name);
        break;
    default: E("    (void)j, (void)out;\n    return wit_jp_bad(g, \"value\");\n"); break;
    }
    E("}\n\n");
}

/* ------------------------------------------------------------------ */
/* Functions                                                          */

static char *sig_of(const wit_func *f, bool is_export, char *buf, size_t cap)
{
    static const char letter[] = {'i', 'I', 'f', 'F'};
    size_t o = 0;
    int i, j, np = wit_params_nflat(&P, f), nr = f->result >= 0 ? T(f->result)->nflat : 0;

    if (np < 0 || np > 16) {
        buf[o++] = 'i';
    } else {
        for (i = 0; i < f->nparams; i++)
            for (j = 0; j < T(f->params[i].type)->nflat && o + 3 < cap; j++)
                buf[o++] = letter[T(f->params[i].type)->flat[j]];
    }
    if (!is_export && (nr < 0 || nr > 1))
        buf[o++] = 'i';
    buf[o++] = '>';
    if (nr == 1)
        buf[o++] = letter[T(f->result)->flat[0]];
    else if (is_export && (nr < 0 || nr > 1))
        buf[o++] = 'i';
    buf[o] = 0;
    return buf;
}

static const char *fn_mangle(const wit_func *f)
{
    static char buf[4][256];
    static int k;
    char *o = buf[k++ % 4];

    snprintf(o, sizeof buf[0], "%s_%s", cid(P.ifaces[f->iface].name), cid(f->name));
    return o;
}

/* The parameter list of an implementation / export call, after `lead`. */
static void emit_params_decl(const wit_func *f, bool konst)
{
    int i;

    for (i = 0; i < f->nparams; i++) {
        int t = f->params[i].type;
        if (prim(t))
            E(", %s %s", ctype(t), cid(f->params[i].name));
        else
            E(", %s%s *%s", konst ? "const " : "", ctype(t), cid(f->params[i].name));
    }
}

static void emit_impl_struct(int iface)
{
    wit_iface *fc = &P.ifaces[iface];
    int i;

    E("/* %s/%s: what its handler implements.  Each function gets the lifted\n"
      " * parameters (composite ones may be taken over: zero what you take) and\n"
      " * fills *ret, whose memory the glue frees after lowering it.  It returns\n"
      " * 0, TH_WASM_SUSPENDED after rt_op_wait (taking h->input), or an error\n"
      " * with h->err set, which traps the call. */\n",
      P.package, fc->name);
    E("typedef struct wit_impl_%s {\n", cid(fc->name));
    for (i = 0; i < fc->nfuncs; i++) {
        wit_func *f = &P.funcs[fc->funcs[i]];
        E("    int (*%s)(rt_host *h", cid(f->name));
        emit_params_decl(f, false);
        if (f->result >= 0)
            E(", %s *ret", ctype(f->result));
        E(");\n");
    }
    E("} wit_impl_%s;\n\n", cid(fc->name));
}

static void emit_host_fn(const wit_func *f)
{
    wit_iface *fc = &P.ifaces[f->iface];
    int np = wit_params_nflat(&P, f), nr = f->result >= 0 ? T(f->result)->nflat : 0, i, k;
    bool spill = np < 0 || np > 16, retptr = nr < 0 || nr > 1;
    unsigned psize, palign, poff[WIT_MAX_MEMBERS];

    wit_params_layout(&P, f, &psize, &palign, poff);
    E("static int wit_host_%s(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val "
      "*results)\n{\n",
      fn_mangle(f));
    E("    const wit_impl_%s *impl = ctx;\n    rt_host h;\n", cid(fc->name));
    for (i = 0; i < f->nparams; i++)
        E("    %s p%d;\n", ctype(f->params[i].type), i);
    if (f->result >= 0)
        E("    %s ret;\n", ctype(f->result));
    E("    rt_buf in = {0}, out = {0};\n    int rc;\n\n");
    E("    (void)args, (void)results;\n");
    for (i = 0; i < f->nparams; i++)
        E("    memset(&p%d, 0, sizeof p%d);\n", i, i);
    if (f->result >= 0)
        E("    memset(&ret, 0, sizeof ret);\n");
    E("    rt_host_begin(&h, call);\n");
    if (spill) {
        E("    /* more than 16 flat parameters: a pointer to their tuple */\n");
        E("    if ((rc = wit_region(&h.g, (uint32_t)args[0].i32, %u, %u, \"parameter\")) != 0)\n   "
          "     goto trap;\n",
          psize, palign);
        for (i = 0; i < f->nparams; i++)
            E("    if ((rc = lm_%s(&h.g, (uint32_t)args[0].i32 + %uu, &p%d)) != 0)\n        goto "
              "trap;\n",
              T(f->params[i].type)->mangle, poff[i], i);
    } else {
        for (i = 0, k = 0; i < f->nparams; k += T(f->params[i].type)->nflat, i++)
            E("    if ((rc = lf_%s(&h.g, args + %d, &p%d)) != 0)\n        goto trap;\n",
              T(f->params[i].type)->mangle, k, i);
    }
    if (retptr) {
        E("    h.retptr = (uint32_t)args[%d].i32;\n", spill ? 1 : np);
        E("    if ((rc = wit_region(&h.g, h.retptr, %u, %u, \"retptr\")) != 0)\n        goto "
          "trap;\n",
          T(f->result)->size, T(f->result)->align);
    }
    if (f->nparams == 0) {
        E("    h.input = NULL;\n");
    } else {
        for (i = 0; i < f->nparams; i++) {
            E("    rt_buf_puts(&in, \"%s\\\"%s\\\":\");\n", i ? "," : "{", f->params[i].name);
            E("    js_%s(&in, &p%d);\n", T(f->params[i].type)->mangle, i);
        }
        E("    rt_buf_puts(&in, \"}\");\n");
        E("    h.input = in.oom ? NULL : (char *)in.data;\n    if (!in.oom)\n        in = "
          "(rt_buf){0};\n");
    }
    E("    if (h.a != NULL && h.a->replay != NULL) {\n");
    E("        /* a replay: the recorded output, nothing done (replay.c) */\n");
    E("        const json_t *rec = NULL;\n\n");
    E("        rc = rt_replay_host(&h, \"%s\", \"%s\", &rec);\n", fc->name, f->name);
    if (f->result >= 0)
        E("        if (rc == 0)\n            rc = jp_%s(&h.g, rec, &ret);\n", T(f->result)->mangle);
    E("    } else {\n");
    E("        rc = impl->%s(&h", cid(f->name));
    for (i = 0; i < f->nparams; i++)
        E(prim(f->params[i].type) ? ", p%d" : ", &p%d", i);
    if (f->result >= 0)
        E(", &ret");
    E(");\n    }\n");
    E("    if (rc == TH_WASM_SUSPENDED)\n        goto done;\n");
    E("    if (rc != 0)\n        goto trap;\n");
    if (f->result >= 0) {
        if (retptr)
            E("    if ((rc = sm_%s(&h.g, h.retptr, &ret)) != 0)\n        goto trap;\n",
              T(f->result)->mangle);
        else
            E("    if ((rc = sf_%s(&h.g, &ret, results)) != 0)\n        goto trap;\n",
              T(f->result)->mangle);
        E("    if (h.output == NULL) {\n        js_%s(&out, &ret);\n", T(f->result)->mangle);
        E("        if (!out.oom)\n            h.output = (char *)out.data, out = (rt_buf){0};\n    "
          "}\n");
    }
    E("    rt_record_host(h.a, \"%s\", \"%s\", h.input, h.output);\n", fc->name, f->name);
    E("    rc = TH_OK;\n    goto done;\ntrap:\n    rc = rt_host_trap(&h);\ndone:\n");
    for (i = 0; i < f->nparams; i++)
        if (!prim(f->params[i].type))
            E("    wit_free_%s(&p%d);\n", T(f->params[i].type)->mangle, i);
    if (f->result >= 0 && !prim(f->result))
        E("    wit_free_%s(&ret);\n", T(f->result)->mangle);
    E("    free(h.input);\n    free(h.output);\n    rt_buf_release(&in);\n    "
      "rt_buf_release(&out);\n    return rc;\n}\n\n");
}

static void emit_host_table(int iface)
{
    wit_iface *fc = &P.ifaces[iface];
    char sig[128];
    int i;

    E("const rt_hostfn wit_fns_%s[WIT_NFNS_%s] = {\n", cid(fc->name), upper(fc->name));
    for (i = 0; i < fc->nfuncs; i++) {
        wit_func *f = &P.funcs[fc->funcs[i]];
        E("    {\"%s\", \"%s\", wit_host_%s},\n", f->name, sig_of(f, false, sig, sizeof sig),
          fn_mangle(f));
    }
    E("};\n\n");
}

static void emit_export_protos(const wit_func *f)
{
    if (P.ifaces[f->iface].role == 2)
        E("#define WIT_EXPORT_%s \"%s/%s#%s\"\n", upper(fn_mangle(f)), P.package,
          P.ifaces[f->iface].name, f->name);
    E("int wit_call_lower_%s(rt_guest *g", fn_mangle(f));
    emit_params_decl(f, true);
    E(", th_wasm_val *args, uint32_t *nargs);\n");
    if (f->result >= 0)
        E("int wit_call_lift_%s(rt_guest *g, const th_wasm_val *res, %s *out);\n", fn_mangle(f),
          ctype(f->result));
    E("\n");
}

static void emit_export(const wit_func *f)
{
    int np = wit_params_nflat(&P, f), nr = f->result >= 0 ? T(f->result)->nflat : 0, i, k;
    unsigned psize, palign, poff[WIT_MAX_MEMBERS];

    wit_params_layout(&P, f, &psize, &palign, poff);
    E("int wit_call_lower_%s(rt_guest *g", fn_mangle(f));
    emit_params_decl(f, true);
    E(", th_wasm_val *args, uint32_t *nargs)\n{\n    int rc = 0;\n\n    (void)g, (void)args, "
      "(void)rc;\n");
    if (np < 0 || np > 16) {
        E("    uint32_t p;\n\n    /* more than 16 flat parameters: pass a pointer to their tuple "
          "*/\n");
        E("    if ((rc = rt_abi_alloc(g, %u, %u, &p)) != 0)\n        return rc;\n", palign, psize);
        for (i = 0; i < f->nparams; i++)
            E(prim(f->params[i].type)
                  ? "    if ((rc = sm_%s(g, p + %uu, &%s)) != 0)\n        return rc;\n"
                  : "    if ((rc = sm_%s(g, p + %uu, %s)) != 0)\n        return rc;\n",
              T(f->params[i].type)->mangle, poff[i], cid(f->params[i].name));
        E("    args[0].i32 = (int32_t)p;\n    *nargs = 1;\n    return 0;\n}\n\n");
    } else {
        for (i = 0, k = 0; i < f->nparams; k += T(f->params[i].type)->nflat, i++)
            E(prim(f->params[i].type)
                  ? "    if ((rc = sf_%s(g, &%s, args + %d)) != 0)\n        return rc;\n"
                  : "    if ((rc = sf_%s(g, %s, args + %d)) != 0)\n        return rc;\n",
              T(f->params[i].type)->mangle, cid(f->params[i].name), k);
        E("    *nargs = %d;\n    return 0;\n}\n\n", np);
    }
    if (f->result < 0)
        return;
    E("int wit_call_lift_%s(rt_guest *g, const th_wasm_val *res, %s *out)\n{\n", fn_mangle(f),
      ctype(f->result));
    if (nr >= 0 && nr <= 1) {
        E("    return lf_%s(g, res, out);\n}\n\n", T(f->result)->mangle);
        return;
    }
    E("    /* more than one flat result: a pointer to it in the guest's memory */\n");
    E("    uint32_t p = (uint32_t)res[0].i32;\n    int rc = wit_region(g, p, %u, %u, "
      "\"result\");\n\n",
      T(f->result)->size, T(f->result)->align);
    E("    if (rc != 0)\n        return rc;\n    return lm_%s(g, p, out);\n}\n\n",
      T(f->result)->mangle);
}

/* ------------------------------------------------------------------ */
/* Files                                                              */

static const char prelude_c[] =
    "#define WIT_UNUSED __attribute__((unused))\n\n"
    "/* Little-endian load / store of n bytes at a (bounds-checked). */\n"
    "static int wit_ld(rt_guest *g, uint32_t a, unsigned n, uint64_t *v)\n{\n"
    "    uint8_t *p = NULL;\n    int rc = rt_abi_span(g, a, n, &p);\n    unsigned i;\n\n"
    "    *v = 0;\n    if (rc != 0)\n        return rc;\n"
    "    for (i = 0; i < n; i++)\n        *v |= (uint64_t)p[i] << (8 * i);\n    return 0;\n}\n\n"
    "static int wit_st(rt_guest *g, uint32_t a, unsigned n, uint64_t v)\n{\n"
    "    uint8_t *p = NULL, b[8];\n    int rc = rt_abi_span(g, a, n, &p);\n    unsigned i;\n\n"
    "    if (rc != 0)\n        return rc;\n"
    "    for (i = 0; i < n; i++)\n        b[i] = (uint8_t)(v >> (8 * i));\n    memcpy(p, b, n);\n  "
    "  return 0;\n}\n\n"
    "/* A value of `size` bytes at a: aligned and inside memory, checked before\n"
    " * any of it is read or written (Canonical ABI). */\n"
    "static int wit_region(rt_guest *g, uint32_t a, uint32_t size, uint32_t align, const char "
    "*what)\n{\n"
    "    if (a % align != 0)\n"
    "        return th_error_set(g->err, TH_ETRAP, \"misaligned %s pointer 0x%x (needs %u-byte "
    "alignment)\", what, a,\n"
    "                            align);\n"
    "    return rt_abi_fits(g, a, size);\n}\n\n"
    "int wit_str_set(rt_host *h, wit_str *out, const char *s)\n{\n"
    "    size_t n = strlen(s);\n\n"
    "    free(out->ptr);\n    out->len = 0;\n"
    "    if ((out->ptr = malloc(n + 1)) == NULL)\n"
    "        return th_error_set(&h->err, TH_ENOMEM, \"out of memory\");\n"
    "    memcpy(out->ptr, s, n + 1);\n    out->len = n;\n    return 0;\n}\n\n"
    "/* A recorded value that does not have the type it should (replay). */\n"
    "static WIT_UNUSED int wit_jp_bad(rt_guest *g, const char *what)\n{\n"
    "    return th_error_set(g->err, TH_EINVAL, \"the recorded output is not a %s\", what);\n}\n\n"
    "/* The elements of a list: aligned, inside memory, no overflow. */\n"
    "static WIT_UNUSED int wit_list_span(rt_guest *g, uint32_t ptr, uint32_t len, uint32_t size, "
    "uint32_t align)\n{\n"
    "    uint8_t *p = NULL;\n\n"
    "    if (ptr % align != 0)\n"
    "        return th_error_set(g->err, TH_ETRAP, \"misaligned list pointer 0x%x (needs %u-byte "
    "alignment)\", ptr, align);\n"
    "    return rt_abi_span(g, ptr, (uint64_t)len * size, &p);\n}\n\n";

static int write_host(const char *hpath, const char *cpath)
{
    int i, j, fi;
    char sig[128], text[512];

    declared = calloc((size_t)P.ntypes, 1);
    if ((out = fopen(hpath, "w")) == NULL)
        return perror(hpath), -1;
    E("/*\n * wit_glue.h - GENERATED by tools/witgen from the WIT in wit/; do not edit.\n"
      " *\n * C types of the %s WIT types, the implementation tables of the host\n"
      " * interfaces and the glue of the guest exports (see tools/witgen/witgen.c).\n */\n",
      P.package);
    E("#ifndef THEATER_WIT_GLUE_H\n#define THEATER_WIT_GLUE_H\n\n#include "
      "\"runtime/rt_int.h\"\n\n");
    for (i = 0; i < P.ntypes; i++)
        if (used[i])
            declare(i);
    for (i = 0; i < P.ntypes; i++)
        if (used[i])
            emit_protos(i);
    E("\n/* Set a string of a result to a copy of s (for handlers): 0, or\n"
      " * TH_ENOMEM with h->err set. */\n"
      "int wit_str_set(rt_host *h, wit_str *out, const char *s);\n\n");
    for (i = 0; i < P.nifaces; i++) {
        if (P.ifaces[i].role != 1 || P.ifaces[i].nfuncs == 0)
            continue;
        emit_impl_struct(i);
        E("#define WIT_NFNS_%s %d\n", upper(P.ifaces[i].name), P.ifaces[i].nfuncs);
        E("extern const rt_hostfn wit_fns_%s[WIT_NFNS_%s];\n\n", cid(P.ifaces[i].name),
          upper(P.ifaces[i].name));
    }
    E("/* The results of host functions, for results written later (a suspended\n"
      " * call's wake): lower into the guest at a retptr (checked: aligned, inside\n"
      " * memory) and write as a record's JSON. */\n");
    memset(declared, 0, (size_t)P.ntypes);
    for (i = 0; i < P.nfuncs; i++) {
        int r = P.funcs[i].result;
        if (P.ifaces[P.funcs[i].iface].role != 1 || r < 0 || prim(r) || declared[r])
            continue;
        declared[r] = 1;
        E("int wit_lower_%s(rt_guest *g, uint32_t retptr, const %s *v);\n", T(r)->mangle, ctype(r));
        E("void wit_json_%s(rt_buf *b, const %s *v);\n", T(r)->mangle, ctype(r));
    }
    E("\n");
    E("/* The caller's side of every function: lowering its arguments into the\n"
      " * callee's core values (for an import, without the trailing retptr) and\n"
      " * lifting its result (from res[0] when it is returned through memory: the\n"
      " * export's returned pointer or the import's retptr).  The runtime uses\n"
      " * them to call exports; the tests use the imports' ones as the guest. */\n");
    for (i = 0; i < P.nifaces; i++)
        for (j = 0; P.ifaces[i].role != 0 && j < P.ifaces[i].nfuncs; j++)
            emit_export_protos(&P.funcs[P.ifaces[i].funcs[j]]);
    E("/* Every function of the package with its core signature (imports:\n"
      " * module \"theater:simple/<iface>\"; exports: name \"...#<fn>\", module \"\"). */\n");
    E("typedef struct wit_fn_desc {\n    const char *module, *name, *sig;\n    bool is_export;\n} "
      "wit_fn_desc;\n");
    E("extern const wit_fn_desc wit_functions[];\nextern const size_t wit_nfunctions;\n\n");
    E("/* The Canonical ABI layout of every type the functions use. off[] holds\n"
      " * record and tuple field offsets, or a variant's payload offset. */\n");
    E("typedef struct wit_layout_desc {\n    const char *wit;\n    uint32_t size, align, noff;\n"
      "    uint32_t off[%d];\n} wit_layout_desc;\n",
      WIT_MAX_MEMBERS);
    E("extern const wit_layout_desc wit_layouts[];\nextern const size_t wit_nlayouts;\n\n#endif\n");
    fclose(out);

    if ((out = fopen(cpath, "w")) == NULL)
        return perror(cpath), -1;
    E("/*\n * wit_glue.c - GENERATED by tools/witgen from the WIT in wit/; do not edit.\n */\n");
    E("#include <math.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
      "#include <jansson.h>\n\n#include \"base/hex.h\"\n#include \"wit_glue.h\"\n\n");
    E("%s", prelude_c);
    for (i = 0; i < P.ntypes; i++)
        if (used[i])
            emit_static_protos(i);
    E("\n");
    for (i = 0; i < P.ntypes; i++) {
        if (!used[i])
            continue;
        emit_free(i);
        emit_lm(i);
        emit_lf(i);
        emit_sm(i);
        emit_sf(i);
        emit_js(i);
        emit_jp(i);
    }
    for (i = 0; i < P.nifaces; i++) {
        if (P.ifaces[i].role == 1 && P.ifaces[i].nfuncs > 0) {
            for (j = 0; j < P.ifaces[i].nfuncs; j++)
                emit_host_fn(&P.funcs[P.ifaces[i].funcs[j]]);
            emit_host_table(i);
        }
        for (j = 0; P.ifaces[i].role != 0 && j < P.ifaces[i].nfuncs; j++)
            emit_export(&P.funcs[P.ifaces[i].funcs[j]]);
    }
    memset(declared, 0, (size_t)P.ntypes);
    for (i = 0; i < P.nfuncs; i++) {
        int r = P.funcs[i].result;
        if (P.ifaces[P.funcs[i].iface].role != 1 || r < 0 || prim(r) || declared[r])
            continue;
        declared[r] = 1;
        E("int wit_lower_%s(rt_guest *g, uint32_t retptr, const %s *v)\n{\n", T(r)->mangle,
          ctype(r));
        E("    int rc = wit_region(g, retptr, %u, %u, \"retptr\");\n\n", T(r)->size, T(r)->align);
        E("    return rc != 0 ? rc : sm_%s(g, retptr, v);\n}\n\n", T(r)->mangle);
        E("void wit_json_%s(rt_buf *b, const %s *v)\n{\n    js_%s(b, v);\n}\n\n", T(r)->mangle,
          ctype(r), T(r)->mangle);
    }
    E("const wit_fn_desc wit_functions[] = {\n");
    for (fi = 0; fi < P.nfuncs; fi++) {
        wit_func *f = &P.funcs[fi];
        bool ex = P.ifaces[f->iface].role == 2;
        if (P.ifaces[f->iface].role == 0)
            continue;
        if (ex)
            E("    {\"\", \"%s/%s#%s\", \"%s\", true},\n", P.package, P.ifaces[f->iface].name,
              f->name, sig_of(f, true, sig, sizeof sig));
        else
            E("    {\"%s/%s\", \"%s\", \"%s\", false},\n", P.package, P.ifaces[f->iface].name,
              f->name, sig_of(f, false, sig, sizeof sig));
    }
    E("};\nconst size_t wit_nfunctions = sizeof wit_functions / sizeof wit_functions[0];\n\n");
    E("const wit_layout_desc wit_layouts[] = {\n");
    for (i = 0; i < P.ntypes; i++) {
        wit_type *w = T(i);
        if (!used[i])
            continue;
        wit_text(&P, i, text, sizeof text);
        E("    {\"%s\", %u, %u, ", text, w->size, w->align);
        if (w->kind == W_RECORD || w->kind == W_TUPLE) {
            E("%d, {", w->n);
            for (j = 0; j < w->n; j++)
                E("%s%u", j ? ", " : "", w->off[j]);
            E("}},\n");
        } else if (variantish(i) && w->kind != W_ENUM) {
            E("1, {%u}},\n", w->off[0]);
        } else {
            E("0, {0}},\n");
        }
    }
    E("};\nconst size_t wit_nlayouts = sizeof wit_layouts / sizeof wit_layouts[0];\n");
    fclose(out);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Test support: values, comparison, implementations, round trips     */

static void emit_fill(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i;

    E("static void fill_%s(wit_fill *c, %s *v)\n{\n", w->mangle, ctype(t));
    switch (w->kind) {
    case W_BOOL: E("    *v = (wit_fill_next(c) & 1) != 0;\n"); break;
    case W_F32:
    case W_F64: E("    *v = (%s)((double)(int64_t)wit_fill_next(c) / 3.0);\n", ctype(t)); break;
    case W_CHAR: E("    *v = (uint32_t)(wit_fill_next(c) %% 0xd800u);\n"); break;
    case W_STRING: E("    wit_fill_str(c, &v->ptr, &v->len);\n"); break;
    case W_LIST:
        if (T(w->m[0])->kind == W_U8) {
            E("    wit_fill_bytes(c, &v->ptr, &v->len);\n");
            break;
        }
        E("    v->len = wit_fill_count(c);\n    v->ptr = calloc(v->len ? v->len : 1, sizeof "
          "*v->ptr);\n");
        E("    for (size_t i = 0; v->ptr != NULL && i < v->len; i++)\n        fill_%s(c, "
          "&v->ptr[i]);\n",
          T(w->m[0])->mangle);
        break;
    case W_RECORD:
    case W_TUPLE:
        for (i = 0; i < w->n; i++)
            E("    fill_%s(c, &v->%s);\n", T(w->m[i])->mangle, field_of(t, i, buf, sizeof buf));
        break;
    default:
        if (prim(t)) {
            E("    *v = (%s)wit_fill_next(c);\n", ctype(t));
            break;
        }
        E("    uint32_t d = wit_fill_case(c, %d);\n\n", w->n);
        emit_tag_set(t, "v", "d");
        for (i = 0; i < w->n; i++)
            if ((f = case_field(t, i, buf, sizeof buf)) != NULL)
                E("    if (d == %d)\n        fill_%s(c, &v->%s);\n", i, T(w->m[i])->mangle, f);
        break;
    }
    E("}\n\n");
}

static void emit_eq(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i;

    E("static bool eq_%s(const %s *a, const %s *b)\n{\n", w->mangle, ctype(t), ctype(t));
    switch (w->kind) {
    case W_F32:
    case W_F64: E("    return memcmp(a, b, sizeof *a) == 0;\n"); break;
    case W_STRING:
        E("    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0) &&\n"
          "           b->ptr != NULL && b->ptr[b->len] == 0;\n");
        break;
    case W_LIST:
        if (T(w->m[0])->kind == W_U8) {
            E("    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == "
              "0);\n");
            break;
        }
        E("    if (a->len != b->len)\n        return false;\n");
        E("    for (size_t i = 0; i < a->len; i++)\n        if (!eq_%s(&a->ptr[i], &b->ptr[i]))\n"
          "            return false;\n    return true;\n",
          T(w->m[0])->mangle);
        break;
    case W_RECORD:
    case W_TUPLE:
        E("    return true");
        for (i = 0; i < w->n; i++)
            E(" &&\n           eq_%s(&a->%s, &b->%s)", T(w->m[i])->mangle,
              field_of(t, i, buf, sizeof buf), buf);
        E(";\n");
        break;
    default:
        if (prim(t)) {
            E("    return *a == *b;\n");
            break;
        }
        E("    if (");
        emit_tag_get(t, "a");
        E(" != ");
        emit_tag_get(t, "b");
        E(")\n        return false;\n");
        for (i = 0; i < w->n; i++)
            if ((f = case_field(t, i, buf, sizeof buf)) != NULL) {
                E("    if (");
                emit_tag_get(t, "a");
                E(" == %d)\n        return eq_%s(&a->%s, &b->%s);\n", i, T(w->m[i])->mangle, f, f);
            }
        E("    return true;\n");
        break;
    }
    E("}\n\n");
}

static void emit_test_impl(const wit_func *f)
{
    int i;

    E("static int ti_%s(rt_host *h", fn_mangle(f));
    emit_params_decl(f, false);
    if (f->result >= 0)
        E(", %s *ret", ctype(f->result));
    E(")\n{\n    wit_fill c = wit_test_state.params;\n\n    (void)h;\n");
    for (i = 0; i < f->nparams; i++) {
        int t = f->params[i].type;
        E("    {\n        %s e;\n\n        memset(&e, 0, sizeof e);\n        fill_%s(&c, &e);\n",
          ctype(t), T(t)->mangle);
        E("        if (!eq_%s(&e, %s%s) && wit_test_state.mismatch == NULL)\n", T(t)->mangle,
          prim(t) ? "&" : "", cid(f->params[i].name));
        E("            wit_test_state.mismatch = \"parameter %s\";\n", f->params[i].name);
        if (!prim(t))
            E("        wit_free_%s(&e);\n", T(t)->mangle);
        E("    }\n");
    }
    if (f->result >= 0)
        E("    c = wit_test_state.result;\n    fill_%s(&c, ret);\n", T(f->result)->mangle);
    E("    wit_test_state.calls++;\n    return 0;\n}\n\n");
}

static void emit_test_driver(const wit_func *f, int index_in_iface)
{
    int np = wit_params_nflat(&P, f), nr = f->result >= 0 ? T(f->result)->nflat : 0, i;
    bool retptr = nr < 0 || nr > 1;

    E("static int td_%s(th_wasm_call *call, rt_guest *g, const char **why)\n{\n", fn_mangle(f));
    E("    th_wasm_val args[%d], res[1];\n    uint32_t n = 0;\n    wit_fill c = "
      "wit_test_state.params;\n    int rc;\n",
      (np < 0 || np > 16 ? 1 : np) + 1);
    for (i = 0; i < f->nparams; i++)
        E("    %s p%d;\n", ctype(f->params[i].type), i);
    if (f->result >= 0)
        E("    %s got, want;\n", ctype(f->result));
    E("\n    memset(args, 0, sizeof args);\n    res[0].i64 = 0;\n");
    for (i = 0; i < f->nparams; i++)
        E("    memset(&p%d, 0, sizeof p%d);\n    fill_%s(&c, &p%d);\n", i, i,
          T(f->params[i].type)->mangle, i);
    if (f->result >= 0)
        E("    memset(&got, 0, sizeof got);\n    memset(&want, 0, sizeof want);\n");
    E("    rc = wit_call_lower_%s(g", fn_mangle(f));
    for (i = 0; i < f->nparams; i++)
        E(prim(f->params[i].type) ? ", p%d" : ", &p%d", i);
    E(", args, &n);\n    if (rc != 0) {\n        *why = \"lowering the arguments\";\n        goto "
      "out;\n    }\n");
    if (retptr) {
        E("    {\n        uint32_t rp;\n\n        if ((rc = rt_abi_alloc(g, %u, %u, &rp)) != 0) "
          "{\n",
          T(f->result)->align, T(f->result)->size);
        E("            *why = \"allocating the return area\";\n            goto out;\n        }\n");
        E("        args[n++].i32 = (int32_t)rp;\n        res[0].i32 = (int32_t)rp;\n    }\n");
    }
    E("    wit_test_state.calls = 0;\n    wit_test_state.mismatch = NULL;\n");
    E("    rc = wit_fns_%s[%d].fn(call, (void *)&wit_test_impl_%s, args, %s);\n",
      cid(P.ifaces[f->iface].name), index_in_iface, cid(P.ifaces[f->iface].name),
      retptr ? "NULL" : "res");
    E("    if (rc != 0) {\n        *why = \"the host function failed\";\n        goto out;\n    "
      "}\n");
    E("    if (wit_test_state.calls != 1 || wit_test_state.mismatch != NULL) {\n");
    E("        *why = wit_test_state.mismatch ? wit_test_state.mismatch : \"the implementation was "
      "not called\";\n");
    E("        rc = -1;\n        goto out;\n    }\n");
    if (f->result >= 0) {
        E("    if ((rc = wit_call_lift_%s(g, res, &got)) != 0) {\n        *why = \"lifting the "
          "result\";\n"
          "        goto out;\n    }\n",
          fn_mangle(f));
        E("    c = wit_test_state.result;\n    fill_%s(&c, &want);\n", T(f->result)->mangle);
        E("    if (!eq_%s(&want, &got)) {\n        *why = \"the result differs\";\n        rc = "
          "-1;\n    }\n",
          T(f->result)->mangle);
    }
    E("out:\n");
    for (i = 0; i < f->nparams; i++)
        if (!prim(f->params[i].type))
            E("    wit_free_%s(&p%d);\n", T(f->params[i].type)->mangle, i);
    if (f->result >= 0 && !prim(f->result))
        E("    wit_free_%s(&got);\n    wit_free_%s(&want);\n", T(f->result)->mangle,
          T(f->result)->mangle);
    E("    return rc;\n}\n\n");
}

static const char test_prelude[] =
    "wit_test_ctx wit_test_state;\n\n"
    "/* Edge values by round: 0, all ones, a spread value, 1. */\n"
    "static uint64_t wit_fill_next(wit_fill *c)\n{\n"
    "    uint64_t s = c->seq++;\n\n"
    "    switch ((c->round + s) % 4) {\n"
    "    case 0: return 0;\n    case 1: return UINT64_MAX;\n"
    "    case 2: return (s + 1) * 0x9e3779b97f4a7c15u;\n    default: return 1;\n    }\n}\n\n"
    "static WIT_UNUSED uint32_t wit_fill_case(wit_fill *c, uint32_t n)\n{\n"
    "    return (uint32_t)((c->round + c->seq++) % n);\n}\n\n"
    "static WIT_UNUSED size_t wit_fill_count(wit_fill *c)\n{\n"
    "    uint64_t s = c->seq++;\n\n"
    "    return c->round == 0 ? 0 : 1 + (size_t)((c->round + s) % 3);\n}\n\n"
    "/* Strings: empty in round 0, multi-byte UTF-8 in round 1, 1 MiB when\n"
    " * c->big, else short ASCII. */\n"
    "static WIT_UNUSED void wit_fill_str(wit_fill *c, char **p, size_t *n)\n{\n"
    "    static const char mb[] = \"a\\xc3\\xa9\\xe2\\x82\\xac\\xf0\\x9f\\x98\\x80\";\n"
    "    uint64_t s = c->seq++;\n    size_t i;\n\n"
    "    *n = c->big ? (size_t)1 << 20 : c->round == 0 ? 0 : c->round == 1 ? sizeof mb - 1 : 1 + "
    "(size_t)(s % 7);\n"
    "    *p = malloc(*n + 1);\n    if (*p == NULL) {\n        *n = 0;\n        return;\n    }\n"
    "    for (i = 0; i < *n; i++)\n        (*p)[i] = c->round == 1 && !c->big ? mb[i] : (char)('a' "
    "+ (i + s) % 26);\n"
    "    (*p)[*n] = 0;\n}\n\n"
    "/* list<u8>: empty in round 0, 1 MiB when c->big, else a few bytes\n"
    " * (including 0x00 and 0xff). */\n"
    "static WIT_UNUSED void wit_fill_bytes(wit_fill *c, uint8_t **p, size_t *n)\n{\n"
    "    uint64_t s = c->seq++;\n    size_t i;\n\n"
    "    *n = c->big ? (size_t)1 << 20 : c->round == 0 ? 0 : 1 + (size_t)(s % 5);\n"
    "    *p = malloc(*n ? *n : 1);\n    if (*p == NULL) {\n        *n = 0;\n        return;\n    "
    "}\n"
    "    for (i = 0; i < *n; i++)\n        (*p)[i] = (uint8_t)(i == 0 ? 0xff : (i * 7 + s) & "
    "0xff);\n}\n\n";

static int write_test(const char *hpath, const char *cpath)
{
    int i, j, k;

    if ((out = fopen(hpath, "w")) == NULL)
        return perror(hpath), -1;
    E("/*\n * wit_test.h - GENERATED by tools/witgen from the WIT in wit/; do not edit.\n"
      " *\n * Round trips of every host function for the tests: the arguments are\n"
      " * made from a deterministic fill state, lowered into the guest as a guest\n"
      " * does, lifted by the host function's glue and compared inside a test\n"
      " * implementation, whose result (made from a second fill state) is lowered\n"
      " * by the glue and lifted and compared again on the guest's side.\n */\n");
    E("#ifndef THEATER_WIT_TEST_H\n#define THEATER_WIT_TEST_H\n\n#include \"wit_glue.h\"\n\n");
    E("typedef struct wit_fill {\n    uint64_t round; /* which edge values */\n    uint64_t seq;   "
      "/* advanced per value */\n"
      "    bool big;       /* strings and list<u8> of 1 MiB */\n} wit_fill;\n\n");
    E("typedef struct wit_test_ctx {\n    wit_fill params, result;\n    int calls;\n    const char "
      "*mismatch;\n"
      "} wit_test_ctx;\nextern wit_test_ctx wit_test_state;\n\n");
    E("/* The host functions, in the order of wit_test_names. */\nextern const char *const "
      "wit_test_names[];\n"
      "extern const size_t wit_test_count;\n");
    E("/* Round trip of host function k with the fill states in wit_test_state;\n"
      " * 0, or nonzero with *why (and g->err when the glue refused). */\n"
      "int wit_test_roundtrip(size_t k, th_wasm_call *call, rt_guest *g, const char "
      "**why);\n\n#endif\n");
    fclose(out);

    if ((out = fopen(cpath, "w")) == NULL)
        return perror(cpath), -1;
    E("/*\n * wit_test.c - GENERATED by tools/witgen from the WIT in wit/; do not edit.\n */\n");
    E("#include <stdlib.h>\n#include <string.h>\n\n#include \"wit_test.h\"\n\n#define WIT_UNUSED "
      "__attribute__((unused))\n\n");
    E("%s", test_prelude);
    for (i = 0; i < P.ntypes; i++)
        if (used[i]) {
            E("static void fill_%s(wit_fill *c, %s *v) WIT_UNUSED;\n", T(i)->mangle, ctype(i));
            E("static bool eq_%s(const %s *a, const %s *b) WIT_UNUSED;\n", T(i)->mangle, ctype(i),
              ctype(i));
        }
    E("\n");
    for (i = 0; i < P.ntypes; i++)
        if (used[i]) {
            emit_fill(i);
            emit_eq(i);
        }
    for (i = 0; i < P.nifaces; i++) {
        wit_iface *fc = &P.ifaces[i];
        if (fc->role != 1 || fc->nfuncs == 0)
            continue;
        for (j = 0; j < fc->nfuncs; j++)
            emit_test_impl(&P.funcs[fc->funcs[j]]);
        E("static const wit_impl_%s wit_test_impl_%s = {\n", cid(fc->name), cid(fc->name));
        for (j = 0; j < fc->nfuncs; j++)
            E("    ti_%s,\n", fn_mangle(&P.funcs[fc->funcs[j]]));
        E("};\n\n");
        for (j = 0; j < fc->nfuncs; j++)
            emit_test_driver(&P.funcs[fc->funcs[j]], j);
    }
    E("const char *const wit_test_names[] = {\n");
    for (i = 0; i < P.nifaces; i++)
        for (j = 0; P.ifaces[i].role == 1 && j < P.ifaces[i].nfuncs; j++)
            E("    \"%s.%s\",\n", P.ifaces[i].name, P.funcs[P.ifaces[i].funcs[j]].name);
    E("};\nconst size_t wit_test_count = sizeof wit_test_names / sizeof wit_test_names[0];\n\n");
    E("int wit_test_roundtrip(size_t k, th_wasm_call *call, rt_guest *g, const char **why)\n{\n    "
      "switch (k) {\n");
    for (i = 0, k = 0; i < P.nifaces; i++)
        for (j = 0; P.ifaces[i].role == 1 && j < P.ifaces[i].nfuncs; j++)
            E("    case %d: return td_%s(call, g, why);\n", k++,
              fn_mangle(&P.funcs[P.ifaces[i].funcs[j]]));
    E("    default: *why = \"no such function\";\n        return -1;\n    }\n}\n");
    fclose(out);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Guest side (the C guest SDK, wasm32)                               */

static const char *gtype(int t)
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
    snprintf(o, sizeof buf[0], "thw_%s", T(t)->mangle);
    return o;
}

static void gdeclare(int t)
{
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i;

    if (declared[t] || prim(t))
        return;
    declared[t] = 1;
    for (i = 0; i < w->n; i++)
        if (w->m[i] >= 0 && w->kind != W_ENUM)
            gdeclare(w->m[i]);
    switch (w->kind) {
    case W_STRING:
        E("typedef struct thw_str {\n    const char *ptr;\n    size_t len;\n} thw_str;\n");
        break;
    case W_LIST:
        E("typedef struct %s {\n    const %s *ptr;\n    size_t len;\n} %s;\n", gtype(t),
          gtype(w->m[0]), gtype(t));
        break;
    case W_RECORD:
    case W_TUPLE:
        E("typedef struct %s {\n", gtype(t));
        for (i = 0; i < w->n; i++)
            E("    %s %s;\n", gtype(w->m[i]), field_of(t, i, buf, sizeof buf));
        E("} %s;\n", gtype(t));
        break;
    case W_ENUM: E("typedef uint%u_t %s;\n", w->disc * 8, gtype(t)); break;
    default: /* option, result, variant: discriminant, then the payload union */
        E("typedef struct %s {\n    uint%u_t %s;\n", gtype(t), w->disc * 8,
          w->kind == W_OPTION   ? "some"
          : w->kind == W_RESULT ? "is_err"
                                : "tag");
        for (i = 0, f = NULL; i < w->n; i++)
            if (w->m[i] >= 0)
                f = "u";
        if (f != NULL) {
            E("    union {\n");
            for (i = 0; i < w->n; i++)
                if ((f = case_field(t, i, buf, sizeof buf)) != NULL)
                    E("        %s %s;\n", gtype(w->m[i]), f);
            E("    } u;\n");
        }
        E("} %s;\n", gtype(t));
        break;
    }
    /* the layout the Canonical ABI gives the type, checked by the compiler */
    E("#if defined(__wasm32__)\n");
    E("_Static_assert(sizeof(%s) == %u && _Alignof(%s) == %u, \"%s layout\");\n", gtype(t), w->size,
      gtype(t), w->align, w->mangle);
    if (w->kind == W_RECORD || w->kind == W_TUPLE)
        for (i = 0; i < w->n; i++)
            E("_Static_assert(offsetof(%s, %s) == %u, \"%s field\");\n", gtype(t),
              field_of(t, i, buf, sizeof buf), w->off[i], w->mangle);
    if (variantish(t) && w->kind != W_ENUM)
        for (i = 0; i < w->n; i++)
            if (w->m[i] >= 0) {
                E("_Static_assert(offsetof(%s, u) == %u, \"%s payload\");\n", gtype(t), w->off[0],
                  w->mangle);
                break;
            }
    E("#endif\n\n");
}

/* Flatten the guest value `x` (an lvalue expression) of type t into
 * v[k...]; returns the next k. */
static int gflat(int t, const char *x, const char *v, int k, int depth)
{
    wit_type *w = T(t);
    char sub[512], buf[128], cv[16];
    const char *f;
    int i, j, kk;

    switch (w->kind) {
    case W_U64:
    case W_S64: E("%*s%s[%d].i64 = (int64_t)%s;\n", depth * 4, "", v, k, x); return k + 1;
    case W_F32: E("%*s%s[%d].f32 = %s;\n", depth * 4, "", v, k, x); return k + 1;
    case W_F64: E("%*s%s[%d].f64 = %s;\n", depth * 4, "", v, k, x); return k + 1;
    case W_STRING:
    case W_LIST:
        E("%*s%s[%d].i32 = (int32_t)(uintptr_t)%s.ptr;\n", depth * 4, "", v, k, x);
        E("%*s%s[%d].i32 = (int32_t)%s.len;\n", depth * 4, "", v, k + 1, x);
        return k + 2;
    case W_RECORD:
    case W_TUPLE:
        for (i = 0; i < w->n; i++) {
            snprintf(sub, sizeof sub, "%s.%s", x, field_of(t, i, buf, sizeof buf));
            k = gflat(w->m[i], sub, v, k, depth);
        }
        return k;
    case W_ENUM: E("%*s%s[%d].i32 = (int32_t)%s;\n", depth * 4, "", v, k, x); return k + 1;
    case W_OPTION:
    case W_RESULT:
    case W_VARIANT:
        E("%*s%s[%d].i32 = (int32_t)%s.%s;\n", depth * 4, "", v, k, x,
          w->kind == W_OPTION   ? "some"
          : w->kind == W_RESULT ? "is_err"
                                : "tag");
        for (j = 1; j < w->nflat; j++)
            E("%*s%s[%d].i64 = 0;\n", depth * 4, "", v, k + j);
        for (i = 0; i < w->n; i++) {
            wit_type *c;
            if ((f = case_field(t, i, buf, sizeof buf)) == NULL)
                continue;
            c = T(w->m[i]);
            snprintf(cv, sizeof cv, "c%d", depth);
            E("%*sif (%s.%s == %d) {\n%*s    thw_val %s[%d];\n", depth * 4, "", x,
              w->kind == W_OPTION   ? "some"
              : w->kind == W_RESULT ? "is_err"
                                    : "tag",
              i, depth * 4, "", cv, c->nflat > 0 ? c->nflat : 1);
            snprintf(sub, sizeof sub, "%s.u.%s", x, f);
            kk = gflat(w->m[i], sub, cv, 0, depth + 1);
            for (j = 0; j < kk; j++) {
                char dst[48], src[48];
                snprintf(dst, sizeof dst, "%s[%d]", v, k + 1 + j);
                snprintf(src, sizeof src, "%s[%d]", cv, j);
                E("%*s    ", depth * 4, "");
                emit_cvt(dst, w->flat[j + 1], src, c->flat[j]);
            }
            E("%*s}\n", depth * 4, "");
        }
        return k + w->nflat;
    default: /* bool, small ints, char */
        E("%*s%s[%d].i32 = (int32_t)%s;\n", depth * 4, "", v, k, x);
        return k + 1;
    }
}

static const char *core_c(int f)
{
    return f == F_I32 ? "int32_t" : f == F_I64 ? "int64_t" : f == F_F32 ? "float" : "double";
}

static const char *core_m(int f)
{
    return f == F_I32 ? "i32" : f == F_I64 ? "i64" : f == F_F32 ? "f32" : "f64";
}

static void emit_guest_import(const wit_func *f)
{
    int np = wit_params_nflat(&P, f), nr = f->result >= 0 ? T(f->result)->nflat : 0, i, j, k;
    bool retptr = nr < 0 || nr > 1;
    const char *iname = P.ifaces[f->iface].name;
    char x[64];

    if (np < 0 || np > 16) {
        fprintf(stderr,
                "witgen: guest glue for more than 16 flat parameters (%s) is not supported\n",
                f->name);
        exit(1);
    }
    if (nr == 1 && !prim(f->result)) {
        fprintf(stderr,
                "witgen: guest glue for a flat non-primitive result (%s) is not supported\n",
                f->name);
        exit(1);
    }
    /* the core import */
    E("__attribute__((import_module(\"%s/%s\"), import_name(\"%s\")))\n%s thw_imp_%s(", P.package,
      iname, f->name, nr == 1 ? core_c(T(f->result)->flat[0]) : "void", fn_mangle(f));
    for (i = 0, k = 0; i < f->nparams; i++)
        for (j = 0; j < T(f->params[i].type)->nflat; j++, k++)
            E("%s%s", k ? ", " : "", core_c(T(f->params[i].type)->flat[j]));
    if (retptr)
        E("%sint32_t", k ? ", " : "");
    else if (k == 0)
        E("void");
    E(");\n");
    /* the lowering wrapper */
    E("static inline void thw_call_%s(", fn_mangle(f));
    for (i = 0; i < f->nparams; i++)
        E("%sconst %s *%s", i ? ", " : "", gtype(f->params[i].type), cid(f->params[i].name));
    if (f->result >= 0)
        E("%s%s *ret", f->nparams ? ", " : "", gtype(f->result));
    if (f->nparams == 0 && f->result < 0)
        E("void");
    E(")\n{\n    thw_val v[%d];\n\n", np > 0 ? np : 1);
    for (i = 0, k = 0; i < f->nparams; i++) {
        snprintf(x, sizeof x, "(*%s)", cid(f->params[i].name));
        k = gflat(f->params[i].type, x, "v", k, 1);
    }
    if (nr == 1)
        E("    *ret = (%s)thw_imp_%s(", gtype(f->result), fn_mangle(f));
    else
        E("    thw_imp_%s(", fn_mangle(f));
    for (i = 0, k = 0; i < f->nparams; i++)
        for (j = 0; j < T(f->params[i].type)->nflat; j++, k++)
            E("%sv[%d].%s", k ? ", " : "", k, core_m(T(f->params[i].type)->flat[j]));
    if (retptr)
        E("%s(int32_t)(uintptr_t)ret", k ? ", " : "");
    E(");\n");
    E("    (void)v;\n}\n\n");
}

static int write_guest(const char *hpath)
{
    int i, j;

    memset(declared, 0, (size_t)P.ntypes);
    if ((out = fopen(hpath, "w")) == NULL)
        return perror(hpath), -1;
    E("/*\n * theater_wit.h - GENERATED by tools/witgen from the WIT in wit/; do not edit.\n"
      " * (The copy in sdk/c is checked against the build's by the test sdk_wit_current.)\n"
      " *\n * The guest side of the %s imports for the C guest SDK (wasm32):\n"
      " * C types whose layout is the Canonical ABI's (the compiler checks each\n"
      " * size, alignment and offset the generator computed), the core imports,\n"
      " * and per import a thw_call_* that lowers its arguments to core values and\n"
      " * passes a return area when the result does not fit one core value.\n"
      " * Included by theater_imports.c only.\n */\n",
      P.package);
    E("#ifndef THEATER_WIT_GUEST_H\n#define THEATER_WIT_GUEST_H\n\n"
      "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
    for (i = 0; i < P.nifaces; i++)
        for (j = 0; P.ifaces[i].role != 0 && j < P.ifaces[i].nfuncs; j++) {
            wit_func *f = &P.funcs[P.ifaces[i].funcs[j]];
            int k;
            for (k = 0; k < f->nparams; k++)
                gdeclare(f->params[k].type);
            if (f->result >= 0)
                gdeclare(f->result);
        }
    E("#if defined(__wasm32__)\n\n");
    E("typedef union thw_val {\n    int32_t i32;\n    int64_t i64;\n    float f32;\n    double "
      "f64;\n} thw_val;\n\n");
    for (i = 0; i < P.nifaces; i++)
        for (j = 0; P.ifaces[i].role == 1 && j < P.ifaces[i].nfuncs; j++)
            emit_guest_import(&P.funcs[P.ifaces[i].funcs[j]]);
    E("#endif /* __wasm32__ */\n\n#endif\n");
    fclose(out);
    return 0;
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
