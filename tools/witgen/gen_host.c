/*
 * gen_host.c - witgen: the host glue (wit_glue.h, wit_glue.c): C types
 * with their free functions, per-type lifting, lowering and JSON, the host
 * functions and their tables, the guest exports' calls.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "witgen.h"
/* ------------------------------------------------------------------ */
/* Per-type functions                                                 */

/* Member access and type of case i of a variant-like type, or NULL. */
const char *case_field(int t, int i, char *buf, size_t cap)
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

const char *field_of(int t, int i, char *buf, size_t cap)
{
    if (T(t)->kind == W_TUPLE)
        snprintf(buf, cap, "f%d", i);
    else
        snprintf(buf, cap, "%s", cid(T(t)->names[i]));
    return buf;
}

/* The expression of the current case of a variant-like value `v`. */
void emit_tag_get(int t, const char *v)
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

void emit_tag_set(int t, const char *v, const char *x)
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

bool variantish(int t)
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
    E("static int jq_%s(rt_guest *g, base_jspan j, %s *out) WIT_UNUSED;\n", m, c);
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
void emit_cvt(const char *dst, int to, const char *src, int from)
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

/* jq_T: the inverse of js_T, for replay (replay.c): a recorded value
 * read back from its JSON text in place (base/jscan.h; the leaves by
 * recval.c's rt_jq_*), checked by type and range, without a JSON tree.
 * On failure g->err says what did not fit; *out may be partly filled (the
 * caller frees it with wit_free_T as usual). */
static void emit_jq(int t)
{
    static const char *const umax[] = {"1", "UINT8_MAX", "UINT16_MAX", "UINT32_MAX", "UINT64_MAX"};
    static const char *const smin[] = {"INT8_MIN", "INT16_MIN", "INT32_MIN", "INT64_MIN"};
    static const char *const smax[] = {"INT8_MAX", "INT16_MAX", "INT32_MAX", "INT64_MAX"};
    wit_type *w = T(t);
    char buf[128];
    const char *f;
    int i, k = w->kind;

    E("static int jq_%s(rt_guest *g, base_jspan j, %s *out)\n{\n", w->mangle, ctype(t));
    switch (k) {
    case W_BOOL: E("    return rt_jq_bool(g, j, out);\n"); break;
    case W_U8:
    case W_U16:
    case W_U32:
    case W_U64:
    case W_CHAR:
        E("    uint64_t v = 0;\n    int rc = rt_jq_uint(g, j, %s, &v);\n\n",
          k == W_CHAR ? "0x10FFFF" : umax[k]);
        E("    *out = (%s)v;\n    return rc;\n", ctype(t));
        break;
    case W_S8:
    case W_S16:
    case W_S32:
    case W_S64:
        E("    int64_t v = 0;\n    int rc = rt_jq_sint(g, j, %s, %s, &v);\n\n", smin[k - W_S8],
          smax[k - W_S8]);
        E("    *out = (%s)v;\n    return rc;\n", ctype(t));
        break;
    case W_F32:
    case W_F64:
        E("    double v = 0;\n    int rc = rt_jq_float(g, j, &v);\n\n");
        E("    *out = (%s)v;\n    return rc;\n", ctype(t));
        break;
    case W_STRING: E("    return rt_jq_str(g, j, &out->ptr, &out->len);\n"); break;
    case W_LIST:
        if (T(w->m[0])->kind == W_U8) {
            E("    return rt_jq_hex(g, j, &out->ptr, &out->len);\n");
            break;
        }
        E("    base_jspan e;\n    size_t at = 0, i = 0, n = 0;\n    int k, rc;\n\n");
        E("    while ((k = base_jscan_next(j, &at, &e)) == 1)\n        n++;\n");
        E("    if (k != 0)\n        return rt_jq_bad(g, \"array\");\n");
        E("    if ((out->ptr = calloc(n ? n : 1, sizeof *out->ptr)) == NULL)\n        return "
          "th_error_set(g->err, TH_ENOMEM, \"out of memory\");\n");
        E("    out->len = n;\n    at = 0;\n");
        E("    while (i < n && base_jscan_next(j, &at, &e) == 1)\n");
        E("        if ((rc = jq_%s(g, e, &out->ptr[i++])) != 0)\n            return rc;\n",
          T(w->m[0])->mangle);
        E("    return 0;\n");
        break;
    case W_TUPLE:
        E("    base_jspan e[%d], x;\n    size_t at = 0, n = 0;\n    int k, rc;\n\n", w->n);
        E("    while ((k = base_jscan_next(j, &at, &x)) == 1)\n        if (n++ < %d)\n"
          "            e[n - 1] = x;\n",
          w->n);
        E("    if (k != 0 || n != %d)\n        return rt_jq_bad(g, \"tuple\");\n", w->n);
        for (i = 0; i < w->n; i++)
            E("    if ((rc = jq_%s(g, e[%d], &out->f%d)) != 0)\n        return rc;\n",
              T(w->m[i])->mangle, i, i);
        E("    return 0;\n");
        break;
    case W_RECORD:
        E("    static const char *const keys[] = {");
        for (i = 0; i < w->n; i++)
            E("%s\"%s\"", i ? ", " : "", w->names[i]);
        E("};\n    base_jspan v[%d];\n    int rc;\n\n", w->n);
        E("    if (base_jscan_object(j, keys, %d, v) < 0)\n        return rt_jq_bad(g, \"record "
          "%s\");\n",
          w->n, w->name);
        for (i = 0; i < w->n; i++)
            E("    if ((rc = jq_%s(g, v[%d], &out->%s)) != 0)\n        return rc;\n",
              T(w->m[i])->mangle, i, cid(w->names[i]));
        E("    (void)rc;\n    return 0;\n");
        break;
    case W_OPTION:
        E("    out->some = !base_jscan_is(j, \"null\");\n");
        E("    return out->some ? jq_%s(g, j, &out->val) : 0;\n", T(w->m[1])->mangle);
        break;
    case W_RESULT:
        E("    static const char *const keys[] = {\"ok\", \"err\"};\n    base_jspan v[2];\n\n");
        E("    if (base_jscan_object(j, keys, 2, v) != 1 || (v[0].p == NULL) == (v[1].p == "
          "NULL))\n        return rt_jq_bad(g, \"result\");\n");
        E("    out->is_err = v[1].p != NULL;\n");
        for (i = 0; i < 2; i++) {
            E("    if (%sout->is_err)\n        ", i ? "" : "!");
            if (w->m[i] >= 0)
                E("return jq_%s(g, v[%d], &out->%s);\n", T(w->m[i])->mangle, i, i ? "err" : "ok");
            else
                E("return base_jscan_is(v[%d], \"null\") ? 0 : rt_jq_bad(g, \"null\");\n", i);
        }
        E("    return 0;\n");
        break;
    case W_ENUM:
    case W_VARIANT:
        E("    base_jspan key = {NULL, 0}, pay = {NULL, 0};\n\n");
        E("    if (!base_jscan_plain(j, &key) && base_jscan_single(j, &key, &pay) != 0)\n");
        E("        return rt_jq_bad(g, \"%s\");\n", w->name);
        for (i = 0; i < w->n; i++) {
            E("    if (key.n == %zu && memcmp(key.p, \"%s\", %zu) == 0) {\n        ",
              strlen(w->names[i]), w->names[i], strlen(w->names[i]));
            char num[16];
            snprintf(num, sizeof num, "%d", i);
            emit_tag_set(t, "out", num);
            if (k == W_VARIANT && (f = case_field(t, i, buf, sizeof buf)) != NULL)
                E("        return pay.p != NULL ? jq_%s(g, pay, &out->%s) : rt_jq_bad(g, "
                  "\"payload\");\n",
                  T(w->m[i])->mangle, f);
            else
                E("        return pay.p == NULL ? 0 : rt_jq_bad(g, \"case without payload\");\n");
            E("    }\n");
        }
        E("    return rt_jq_bad(g, \"%s case\");\n", w->name);
        break;
    default: E("    (void)j, (void)out;\n    return rt_jq_bad(g, \"value\");\n"); break;
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

const char *fn_mangle(const wit_func *f)
{
    static char buf[4][256];
    static int k;
    char *o = buf[k++ % 4];

    snprintf(o, sizeof buf[0], "%s_%s", cid(P.ifaces[f->iface].name), cid(f->name));
    return o;
}

/* The parameter list of an implementation / export call, after `lead`. */
void emit_params_decl(const wit_func *f, bool konst)
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

/* The flat shape of f's parameters for rt_replay_args, into d: per
 * parameter 's' (a string), 'b' (a list<u8>), 'i', 'I', 'f', 'F' (a
 * primitive of one flat i32, i64, f32, f64).  False when a parameter has
 * another shape (the replay then lifts them always). */
static bool args_shape(const wit_func *f, char *d, size_t cap)
{
    size_t n = 0;
    int i;

    for (i = 0; i < f->nparams; i++) {
        const wit_type *t = T(f->params[i].type);
        char c;

        if (t->kind == W_STRING)
            c = 's';
        else if (t->kind == W_LIST && T(t->m[0])->kind == W_U8)
            c = 'b';
        else if (prim(f->params[i].type) && t->nflat == 1)
            c = "iIfF"[t->flat[0]];
        else
            return false;
        if (n + 1 >= cap)
            return false;
        d[n++] = c;
    }
    d[n] = 0;
    return n > 0;
}

static void emit_host_fn(const wit_func *f)
{
    wit_iface *fc = &P.ifaces[f->iface];
    int np = wit_params_nflat(&P, f), nr = f->result >= 0 ? T(f->result)->nflat : 0, i, k;
    bool spill = np < 0 || np > 16, retptr = nr < 0 || nr > 1;
    bool keep = f->result >= 0 && !prim(f->result), same;
    unsigned psize, palign, poff[WIT_MAX_MEMBERS];
    char shape[WIT_MAX_MEMBERS + 1];

    wit_params_layout(&P, f, &psize, &palign, poff);
    /* a replay keeps the last output value it read (rt_replay_keep),
     * named by this function's release */
    if (keep)
        E("static void wk_%s(void *v)\n{\n    wit_free_%s(v);\n}\n\n", fn_mangle(f),
          T(f->result)->mangle);
    E("static int wit_host_%s(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val "
      "*results)\n{\n",
      fn_mangle(f));
    E("    const wit_impl_%s *impl = ctx;\n    rt_host h;\n", cid(fc->name));
    for (i = 0; i < f->nparams; i++)
        E("    %s p%d;\n", ctype(f->params[i].type), i);
    if (f->result >= 0)
        E("    %s ret;\n", ctype(f->result));
    same = !spill && args_shape(f, shape, sizeof shape);
    E("    rt_buf in = {0}, out = {0};\n    int rc;\n%s\n", same ? "    bool same;\n" : "");
    E("    (void)args, (void)results;\n");
    for (i = 0; i < f->nparams; i++)
        E("    memset(&p%d, 0, sizeof p%d);\n", i, i);
    if (f->result >= 0)
        E("    memset(&ret, 0, sizeof ret);\n");
    E("    rt_host_begin(&h, call);\n");
    if (same) {
        E("    /* a replay: the same arguments as its last call have its input */\n");
        E("    same = h.a != NULL && h.a->replay != NULL &&\n"
          "           rt_replay_args(&h, \"%s\", \"%s\", \"%s\", args);\n",
          fc->name, f->name, shape);
        E("    if (!same) {\n");
    }
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
            E("%s    if ((rc = lf_%s(&h.g, args + %d, &p%d)) != 0)\n%s        goto trap;\n",
              same ? "    " : "", T(f->params[i].type)->mangle, k, i, same ? "    " : "");
    }
    if (same)
        E("    }\n");
    if (retptr) {
        E("    h.retptr = (uint32_t)args[%d].i32;\n", spill ? 1 : np);
        E("    if ((rc = wit_region(&h.g, h.retptr, %u, %u, \"retptr\")) != 0)\n        goto "
          "trap;\n",
          T(f->result)->size, T(f->result)->align);
    }
    if (f->nparams == 0) {
        E("    h.input = NULL;\n");
    } else {
        if (same)
            E("    if (!same) {\n");
        const char *ind = same ? "    " : "";

        for (i = 0; i < f->nparams; i++) {
            E("%s    rt_buf_puts(&in, \"%s\\\"%s\\\":\");\n", ind, i ? "," : "{",
              f->params[i].name);
            E("%s    js_%s(&in, &p%d);\n", ind, T(f->params[i].type)->mangle, i);
        }
        E("%s    rt_buf_puts(&in, \"}\");\n", ind);
        E("%s    h.input = in.oom ? NULL : (char *)in.data;\n%s    if (!in.oom)\n%s        in = "
          "(rt_buf){0};\n",
          ind, ind, ind);
        if (same) {
            E("        if (h.a != NULL && h.a->replay != NULL && h.input != NULL)\n"
              "            rt_replay_args_keep(&h, \"%s\", \"%s\", \"%s\", args);\n",
              fc->name, f->name, shape);
            E("    }\n");
        }
    }
    E("    if (h.a != NULL && h.a->replay != NULL) {\n");
    E("        /* a replay: the recorded output, nothing done (replay.c) */\n");
    E("        base_jspan rec = {NULL, 0};\n\n");
    E("        rc = rt_replay_host(&h, \"%s\", \"%s\", &rec);\n", fc->name, f->name);
    if (keep)
        E("        if (rc == 0 && !rt_replay_value(&h, &ret, sizeof ret, wk_%s))\n"
          "            rc = jq_%s(&h.g, rec, &ret);\n",
          fn_mangle(f), T(f->result)->mangle);
    else if (f->result >= 0)
        E("        if (rc == 0)\n            rc = jq_%s(&h.g, rec, &ret);\n", T(f->result)->mangle);
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
    if (keep)
        E("    if (h.a != NULL && h.a->replay != NULL && !h.replay_val)\n"
          "        rt_replay_keep(&h, &ret, sizeof ret, wk_%s);\n",
          fn_mangle(f));
    E("    rc = TH_OK;\n    goto done;\ntrap:\n    rc = rt_host_trap(&h);\ndone:\n");
    for (i = 0; i < f->nparams; i++)
        if (!prim(f->params[i].type))
            E("    wit_free_%s(&p%d);\n", T(f->params[i].type)->mangle, i);
    if (keep)
        E("    if (!h.replay_val) /* (else the replay's) */\n        wit_free_%s(&ret);\n",
          T(f->result)->mangle);
    E("    if (!h.replay_in)\n        free(h.input);\n    if (!h.replay_out)\n        "
      "free(h.output);\n");
    E("    if (h.replay_lent)\n        rt_replay_return(&h);\n");
    E("    rt_buf_release(&in);\n    rt_buf_release(&out);\n    return rc;\n}\n\n");
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

/* An export the handlers call with (state, params: tuple<...>) (an inbound
 * event, rt_host.h): its recorded "params" array is the JSON of that tuple
 * (js_T, written by wit_inbound_params_F), which replay lowers back
 * (jq_T). */
static bool inbound_shape(const wit_func *f)
{
    return P.ifaces[f->iface].role == 2 && f->nparams == 2 &&
           strcmp(T(f->params[0].type)->mangle, "opt_bytes") == 0 &&
           T(f->params[1].type)->kind == W_TUPLE && f->result >= 0;
}

/* Its result carries only the new state: result<tuple<option<list<u8>>>,
 * string>. */
static bool state_only(const wit_func *f)
{
    return strcmp(T(f->result)->mangle, "res_tup1_opt_bytes_str") == 0;
}

/* The value its result carries besides the state: X of
 * result<tuple<option<list<u8>>, tuple<X>>, string>, or -1. */
static int inbound_more(const wit_func *f)
{
    const wit_type *r = T(f->result), *ok, *x;

    if (r->kind != W_RESULT || r->m[0] < 0 || r->m[1] < 0 || T(r->m[1])->kind != W_STRING)
        return -1;
    ok = T(r->m[0]);
    if (ok->kind != W_TUPLE || ok->n != 2 || strcmp(T(ok->m[0])->mangle, "opt_bytes") != 0)
        return -1;
    x = T(ok->m[1]);
    return x->kind == W_TUPLE && x->n == 1 ? x->m[0] : -1;
}

/* Does the record X have a field that is also a member of the recorded
 * result already ("state")? */
static bool more_flat(int x)
{
    const wit_type *w = T(x);

    if (w->kind != W_RECORD)
        return false;
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->names[i], "state") == 0)
            return false;
    return true;
}

static void emit_inbound_protos(const wit_func *f)
{
    int x = inbound_more(f);

    E("void wit_inbound_params_%s(rt_buf *b, const %s *p);\n", fn_mangle(f),
      ctype(f->params[1].type));
    if (x >= 0)
        E("void wit_inbound_more_%s(rt_buf *b, const %s *v);\n", fn_mangle(f), ctype(x));
}

/* The record of an inbound call, written by the handler that makes it
 * and, for the result, by replay: wit_inbound_params_F writes the params
 * tuple as the members of the "params" array; wit_inbound_more_F the
 * members the "result" object has after "state" (the value X the result
 * carries besides the state: a record's fields, else "value": X). */
static void emit_inbound_json(const wit_func *f)
{
    const wit_type *pt = T(f->params[1].type);
    int x = inbound_more(f), i;

    E("void wit_inbound_params_%s(rt_buf *b, const %s *p)\n{\n", fn_mangle(f),
      ctype(f->params[1].type));
    for (i = 0; i < pt->n; i++) {
        if (i)
            E("    rt_buf_puts(b, \",\");\n");
        E("    js_%s(b, &p->f%d);\n", T(pt->m[i])->mangle, i);
    }
    E("}\n\n");
    if (x < 0)
        return;
    E("void wit_inbound_more_%s(rt_buf *b, const %s *v)\n{\n", fn_mangle(f), ctype(x));
    if (more_flat(x)) {
        for (i = 0; i < T(x)->n; i++) {
            E("    rt_buf_puts(b, \",\\\"%s\\\":\");\n", T(x)->names[i]);
            E("    js_%s(b, &v->%s);\n", T(T(x)->m[i])->mangle, cid(T(x)->names[i]));
        }
    } else {
        E("    rt_buf_puts(b, \",\\\"value\\\":\");\n    js_%s(b, v);\n", T(x)->mangle);
    }
    E("}\n\n");
}

static void emit_inbound(const wit_func *f)
{
    const char *pt = T(f->params[1].type)->mangle;
    int x = inbound_more(f);

    emit_inbound_json(f);
    E("static int wit_replay_lower_%s(rt_guest *g, const wit_opt_bytes *state, base_jspan params,\n"
      "                                 th_wasm_val *args, uint32_t *nargs)\n{\n",
      fn_mangle(f));
    E("    %s p;\n    int rc;\n\n    memset(&p, 0, sizeof p);\n", ctype(f->params[1].type));
    E("    if ((rc = jq_%s(g, params, &p)) == 0)\n", pt);
    E("        rc = wit_call_lower_%s(g, state, &p, args, nargs);\n", fn_mangle(f));
    E("    wit_free_%s(&p);\n    return rc;\n}\n\n", pt);
    if (!state_only(f) && x < 0)
        return;
    E("static int wit_replay_lift_%s(rt_guest *g, const th_wasm_val *res, bool *has, uint8_t "
      "**state,\n                                size_t *len, char **err, void **more)\n{\n",
      fn_mangle(f));
    E("    %s v;\n    int rc;\n\n    memset(&v, 0, sizeof v);\n    *more = NULL;\n",
      ctype(f->result));
    E("    if ((rc = wit_call_lift_%s(g, res, &v)) == 0 && v.is_err) {\n", fn_mangle(f));
    E("        *err = v.err.ptr;\n        v.err.ptr = NULL;\n    } else if (rc == 0) {\n");
    E("        *has = v.ok.f0.some;\n        *state = v.ok.f0.val.ptr;\n        *len = "
      "v.ok.f0.val.len;\n        v.ok.f0.val.ptr = NULL;\n");
    if (x >= 0) {
        E("        %s *x = malloc(sizeof *x);\n", ctype(x));
        E("        if (x == NULL) {\n            rc = th_error_set(g->err, TH_ENOMEM, \"out of "
          "memory\");\n        } else {\n");
        E("            *x = v.ok.f1.f0;\n            memset(&v.ok.f1.f0, 0, sizeof "
          "v.ok.f1.f0);\n            *more = x;\n        }\n");
    }
    E("    }\n    wit_free_%s(&v);\n    return rc;\n}\n\n", T(f->result)->mangle);
    if (x < 0)
        return;
    E("static void wit_replay_more_json_%s(rt_buf *b, const void *more)\n{\n"
      "    wit_inbound_more_%s(b, more);\n}\n\n",
      fn_mangle(f), fn_mangle(f));
    E("static void wit_replay_more_free_%s(void *more)\n{\n", fn_mangle(f));
    if (!prim(x))
        E("    if (more != NULL)\n        wit_free_%s(more);\n", T(x)->mangle);
    E("    free(more);\n}\n\n");
}

static void emit_inbound_table(void)
{
    int i;

    E("const wit_inbound_desc wit_inbound[] = {\n");
    for (i = 0; i < P.nfuncs; i++) {
        const wit_func *f = &P.funcs[i];
        if (!inbound_shape(f))
            continue;
        E("    {\"%s\", \"%s\", \"%s/%s#%s\", wit_replay_lower_%s, ", P.ifaces[f->iface].name,
          f->name, P.package, P.ifaces[f->iface].name, f->name, fn_mangle(f));
        if (inbound_more(f) >= 0)
            E("wit_replay_lift_%s, wit_replay_more_json_%s, wit_replay_more_free_%s},\n",
              fn_mangle(f), fn_mangle(f), fn_mangle(f));
        else if (state_only(f))
            E("wit_replay_lift_%s, NULL, NULL},\n", fn_mangle(f));
        else
            E("NULL, NULL, NULL},\n");
    }
    E("};\nconst size_t wit_ninbound = sizeof wit_inbound / sizeof wit_inbound[0];\n\n");
}

/* ------------------------------------------------------------------ */
/* Files                                                              */

/* wit_wake_T: the rt_result of a result of type r carried by a wake; an
 * error string it carries is made UTF-8 (rt_utf8_repair). */
static void emit_wake(int r)
{
    const char *m = T(r)->mangle, *c = ctype(r);

    E("typedef struct wit_result_%s {\n    rt_result base;\n    %s v;\n} wit_result_%s;\n\n", m, c,
      m);
    E("static int wit_result_lower_%s(rt_result *r, rt_guest *g, uint32_t retptr, rt_buf "
      "*json)\n{\n",
      m);
    E("    wit_result_%s *x = (wit_result_%s *)r;\n    int rc = wit_lower_%s(g, retptr, "
      "&x->v);\n\n",
      m, m, m);
    E("    if (rc == 0)\n        js_%s(json, &x->v);\n    return rc;\n}\n\n", m);
    E("static void wit_result_free_%s(rt_result *r)\n{\n    wit_result_%s *x = (wit_result_%s "
      "*)r;\n\n",
      m, m, m);
    E("    wit_free_%s(&x->v);\n    free(x);\n}\n\n", m);
    E("void wit_wake_%s(rt_runtime *rt, const char *actor, uint64_t token, %s *v)\n{\n", m, c);
    E("    wit_result_%s *x = calloc(1, sizeof *x);\n    rt_actor *a;\n\n", m);
    E("    if (x == NULL) {\n        wit_free_%s(v);\n        memset(v, 0, sizeof *v);\n"
      "        return;\n    }\n",
      m);
    E("    x->base.lower = wit_result_lower_%s;\n    x->base.free = wit_result_free_%s;\n", m, m);
    if (T(r)->kind == W_RESULT && T(r)->m[1] >= 0 && T(T(r)->m[1])->kind == W_STRING)
        /* an error text is the host's (NUL-ended), made UTF-8 as every
         * host string is (wit_str_set) */
        E("    if (v->is_err && v->err.ptr != NULL)\n        rt_utf8_repair(v->err.ptr);\n");
    E("    x->v = *v;\n    memset(v, 0, sizeof *v);\n");
    E("    if ((a = rt_actor_find(rt, actor, RT_ID_LEN)) == NULL) {\n"
      "        wit_result_free_%s(&x->base);\n        return;\n    }\n",
      m);
    E("    rt_actor_wake_result(a, token, &x->base);\n    rt_actor_release(a);\n}\n\n");
}

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
    "/* A string the host gives the guest: a copy, made UTF-8 (a WIT string is;\n"
    " * a host text may quote a path, or an actor's string cut mid-character by\n"
    " * a buffer: such bytes become '?'). */\n"
    "int wit_str_set(rt_host *h, wit_str *out, const char *s)\n{\n"
    "    size_t n = strlen(s);\n\n"
    "    free(out->ptr);\n    out->len = 0;\n"
    "    if ((out->ptr = malloc(n + 1)) == NULL)\n"
    "        return th_error_set(&h->err, TH_ENOMEM, \"out of memory\");\n"
    "    memcpy(out->ptr, s, n + 1);\n    rt_utf8_repair(out->ptr);\n"
    "    out->len = n;\n    return 0;\n}\n\n"
    "/* The elements of a list: aligned, inside memory, no overflow. */\n"
    "static WIT_UNUSED int wit_list_span(rt_guest *g, uint32_t ptr, uint32_t len, uint32_t size, "
    "uint32_t align)\n{\n"
    "    uint8_t *p = NULL;\n\n"
    "    if (ptr % align != 0)\n"
    "        return th_error_set(g->err, TH_ETRAP, \"misaligned list pointer 0x%x (needs %u-byte "
    "alignment)\", ptr, align);\n"
    "    return rt_abi_span(g, ptr, (uint64_t)len * size, &p);\n}\n\n";

int write_host(const char *hpath, const char *cpath)
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
      "\"base/jscan.h\"\n#include "
      "\"runtime/rt_host.h\"\n\n");
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
      " * memory) and write as a record's JSON; wit_wake_T wakes the suspended\n"
      " * call `token` of actor `actor` (RT_ID_LEN chars) with *v, which it takes\n"
      " * over (cleared; freed if the actor is gone or memory is short: the call's\n"
      " * timeout then ends the wait) as an RT_WAIT_RESULT (rt_result). */\n");
    memset(declared, 0, (size_t)P.ntypes);
    for (i = 0; i < P.nfuncs; i++) {
        int r = P.funcs[i].result;
        if (P.ifaces[P.funcs[i].iface].role != 1 || r < 0 || prim(r) || declared[r])
            continue;
        declared[r] = 1;
        E("int wit_lower_%s(rt_guest *g, uint32_t retptr, const %s *v);\n", T(r)->mangle, ctype(r));
        E("void wit_json_%s(rt_buf *b, const %s *v);\n", T(r)->mangle, ctype(r));
        E("void wit_wake_%s(rt_runtime *rt, const char *actor, uint64_t token, %s *v);\n",
          T(r)->mangle, ctype(r));
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
    E("/* The record of the exports the handlers call for inbound events\n"
      " * (rt_host.h), written by the handlers and by replay alike:\n"
      " * wit_inbound_params_F writes the params tuple as the members of the\n"
      " * call's \"params\" array; wit_inbound_more_F (results that carry a value X\n"
      " * besides the state) the members of \"result\" after \"state\": X's fields\n"
      " * for a record, else \"value\". */\n");
    for (i = 0; i < P.nfuncs; i++)
        if (inbound_shape(&P.funcs[i]))
            emit_inbound_protos(&P.funcs[i]);
    E("\n/* The same exports for replay: `lower` lowers the state and the recorded\n"
      " * \"params\" (read back by the generated jq_T); `lift` lifts the result:\n"
      " * the new state, or the err; the value it carries besides the state into\n"
      " * *more (malloc'd, NULL when none), which `more_json` writes as\n"
      " * wit_inbound_more_F does and `more_free` frees (both NULL for results\n"
      " * that carry only the state). */\n");
    E("typedef struct wit_inbound_desc {\n    const char *iface, *fn, *export_name;\n"
      "    int (*lower)(rt_guest *g, const wit_opt_bytes *state, base_jspan params, th_wasm_val "
      "*args,\n                 uint32_t *nargs);\n"
      "    int (*lift)(rt_guest *g, const th_wasm_val *res, bool *has, uint8_t **state, size_t "
      "*len,\n                char **err, void **more);\n"
      "    void (*more_json)(rt_buf *b, const void *more);\n"
      "    void (*more_free)(void *more);\n} wit_inbound_desc;\n");
    E("extern const wit_inbound_desc wit_inbound[];\nextern const size_t wit_ninbound;\n\n");
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
      "#include \"base/hex.h\"\n#include \"runtime/rt_int.h\"\n#include "
      "\"wit_glue.h\"\n\n");
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
        emit_jq(i);
    }
    for (i = 0; i < P.nifaces; i++) {
        if (P.ifaces[i].role == 1 && P.ifaces[i].nfuncs > 0) {
            for (j = 0; j < P.ifaces[i].nfuncs; j++)
                emit_host_fn(&P.funcs[P.ifaces[i].funcs[j]]);
            emit_host_table(i);
        }
        for (j = 0; P.ifaces[i].role != 0 && j < P.ifaces[i].nfuncs; j++)
            emit_export(&P.funcs[P.ifaces[i].funcs[j]]);
        for (j = 0; P.ifaces[i].role == 2 && j < P.ifaces[i].nfuncs; j++)
            if (inbound_shape(&P.funcs[P.ifaces[i].funcs[j]]))
                emit_inbound(&P.funcs[P.ifaces[i].funcs[j]]);
    }
    emit_inbound_table();
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
        emit_wake(r);
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
