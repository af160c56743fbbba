/*
 * gen_test.c - witgen: the test glue (wit_test.h, wit_test.c): values,
 * comparison, implementations and the round trips through host and guest glue.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "witgen.h"
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

int write_test(const char *hpath, const char *cpath)
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
