/*
 * gen_guest.c - witgen: the guest SDK's glue (sdk/c/theater_wit.h): the
 * imports as C functions for wasm32.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "witgen.h"
/* ------------------------------------------------------------------ */
/* Guest side (the C guest SDK, wasm32)                               */

/* The guest SDK's C type of `t` (thw_ prefix). */
static const char *gtype(int t)
{
    return ctype_prefixed(t, "thw");
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

int write_guest(const char *hpath)
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
