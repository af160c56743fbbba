/*
 * interp.c - the interpreter: runs the direct-threaded code that compile.c
 * produces (format in interp.h).
 *
 * run() is the one giant function of the engine: each handler is a
 * computed-goto label that decodes its operands from the instruction, works
 * on frame slots and jumps to the next handler.  Hot state lives in locals:
 * ip, fp (frame slots), the current frame record, the instance, its globals
 * array and memory 0's base and size.  The memory cache is reloaded after
 * every return, host call and memory.grow; the instance state after a call
 * or return that crosses instances.
 *
 * The macros that stamp out families of handlers (an operator and its
 * accumulator variants, branches, loads and stores) are interp_shapes.h.
 *
 * Slow or rare work (bulk memory and table operations, host calls) lives in
 * helpers below, so the loop stays small.  Every trap leaves through one
 * exit that records the trap in the exec; nothing here aborts.
 */
/* The dispatch loop and its macros are laid out by hand (one handler per
 * line where they fit); clang-format would fold them past reading. */
/* clang-format off */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/interp.h"
#include "wasm/simd.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------ */
/* Numeric helpers with exact WebAssembly semantics                   */

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline double bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* min/max: a NaN operand gives a NaN (a + b propagates it as an arithmetic
 * NaN); -0 is below +0. */
/* Rounding of a NaN must give a quiet NaN (the spec's nan:arithmetic).  At
 * -O2 gcc inlines floorf & co. as bit tricks that pass a signalling NaN
 * through unchanged, so NaNs get their quiet bit set here. */
static inline float f32_round(float a, float r)
{
    return a != a ? bits_f32(f32_bits(a) | 0x00400000u) : r;
}

static inline double f64_round(double a, double r)
{
    return a != a ? bits_f64(f64_bits(a) | 0x0008000000000000ull) : r;
}

static inline float f32_min(float a, float b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return bits_f32(f32_bits(a) | f32_bits(b));
    return a < b ? a : b;
}

static inline float f32_max(float a, float b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return bits_f32(f32_bits(a) & f32_bits(b));
    return a > b ? a : b;
}

static inline double f64_min(double a, double b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return bits_f64(f64_bits(a) | f64_bits(b));
    return a < b ? a : b;
}

static inline double f64_max(double a, double b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return bits_f64(f64_bits(a) & f64_bits(b));
    return a > b ? a : b;
}

/* Saturating truncations (NaN -> 0, out of range -> the nearest bound). */
static inline int32_t sat_i32_f64(double x)
{
    if (x != x)
        return 0;
    if (x <= -2147483649.0)
        return INT32_MIN;
    if (x >= 2147483648.0)
        return INT32_MAX;
    return (int32_t)x;
}

static inline uint32_t sat_u32_f64(double x)
{
    if (x != x || x <= -1.0)
        return 0;
    if (x >= 4294967296.0)
        return UINT32_MAX;
    return (uint32_t)x;
}

static inline int64_t sat_i64_f64(double x)
{
    if (x != x)
        return 0;
    if (x < -9223372036854775808.0)
        return INT64_MIN;
    if (x >= 9223372036854775808.0)
        return INT64_MAX;
    return (int64_t)x;
}

static inline uint64_t sat_u64_f64(double x)
{
    if (x != x || x <= -1.0)
        return 0;
    if (x >= 18446744073709551616.0)
        return UINT64_MAX;
    return (uint64_t)x;
}

/* ------------------------------------------------------------------ */
/* Slow paths: bulk memory, tables                                    */

/* Each returns true on success, false for an out-of-bounds trap. */

static bool mem_fill(th_wasm_memory *mem, uint32_t d, uint32_t val, uint32_t n)
{
    if ((uint64_t)d + n > mem->size)
        return false;
    if (n > 0)
        memset(mem->data + d, (int)(val & 0xff), n);
    return true;
}

static bool mem_copy(th_wasm_memory *mem, uint32_t d, uint32_t s, uint32_t n)
{
    if ((uint64_t)d + n > mem->size || (uint64_t)s + n > mem->size)
        return false;
    if (n > 0)
        memmove(mem->data + d, mem->data + s, n);
    return true;
}

static bool mem_init(th_wasm_instance *inst, uint32_t seg, uint32_t d,
                     uint32_t s, uint32_t n)
{
    th_wasm_memory *mem = inst->mem0;
    const wasm_data *data = &inst->mod->datas[seg];
    uint32_t len = inst->data_len[seg];

    if ((uint64_t)s + n > len || (uint64_t)d + n > mem->size)
        return false;
    if (n > 0)
        memcpy(mem->data + d, inst->mod->bytes + data->off + s, n);
    return true;
}

static bool table_fill(th_wasm_table *t, uint32_t i, void *ref, uint32_t n)
{
    if ((uint64_t)i + n > t->size)
        return false;
    for (uint32_t k = 0; k < n; k++)
        t->elems[i + k] = ref;
    return true;
}

static bool table_copy(th_wasm_table *dt, th_wasm_table *st, uint32_t d,
                       uint32_t s, uint32_t n)
{
    if ((uint64_t)d + n > dt->size || (uint64_t)s + n > st->size)
        return false;
    if (n > 0)
        memmove(dt->elems + d, st->elems + s, (size_t)n * sizeof(void *));
    return true;
}

static bool table_init(th_wasm_instance *inst, th_wasm_table *t, uint32_t seg,
                       uint32_t d, uint32_t s, uint32_t n)
{
    const wasm_elem_inst *e = &inst->elems[seg];

    if ((uint64_t)s + n > e->len || (uint64_t)d + n > t->size)
        return false;
    if (n > 0)
        memcpy(t->elems + d, e->refs + s, (size_t)n * sizeof(void *));
    return true;
}

/* ------------------------------------------------------------------ */
/* Host calls                                                         */

#define HOST_INLINE_VALS 16

int wasm_interp_call_host(th_wasm_exec *ex, th_wasm_func *f,
                          th_wasm_instance *caller, size_t argslot,
                          size_t stack_top)
{
    const wasm_functype *ft = f->type;
    uint32_t np = wasm_slot_count(ft->types, ft->nparams);
    uint32_t nr = wasm_slot_count(ft->types + ft->nparams, ft->nresults);
    th_wasm_val abuf[HOST_INLINE_VALS], rbuf[HOST_INLINE_VALS];
    th_wasm_val *args = abuf, *res = rbuf;
    th_wasm_call call;
    int rc;

    /* Copies: the host may call back into wasm, which may move the stack. */
    if (np > HOST_INLINE_VALS)
        args = malloc(np * sizeof *args);
    if (nr > HOST_INLINE_VALS)
        res = malloc(nr * sizeof *res);
    if (args == NULL || res == NULL) {
        wasm_exec_set_trap(ex, TH_WASM_TRAP_OOM, "out of memory calling a host function");
        rc = TH_WASM_TRAPPED;
        goto done;
    }
    if (np > 0)
        memcpy(args, ex->stack + argslot, np * sizeof *args);
    wasm_vals_normalize(args, ft->types, ft->nparams);
    memset(res, 0, nr * sizeof *res);

    call.ex = ex;
    call.inst = caller;
    call.stack_top = stack_top;
    call.trap_set = false;
    rc = f->host(&call, f->host_ctx, args, res);
    if (rc == TH_OK) {
        /* A nested call may have trapped and been ignored by the host. */
        ex->trap_kind = TH_WASM_TRAP_NONE;
        ex->trap_msg[0] = '\0';
        if (ex->backtrace != NULL)
            ex->backtrace[0] = '\0';
        if (nr > 0)
            memcpy(ex->stack + argslot, res, nr * sizeof *res);
    } else if (rc == TH_WASM_SUSPENDED) {
        if (ex->nested > 0) {
            wasm_exec_set_trap(ex, TH_WASM_TRAP_HOST,
                               "host function suspended inside a nested call");
            rc = TH_WASM_TRAPPED;
        } else {
            ex->susp_slot = argslot;
            ex->susp_nresults = nr;
        }
    } else if (rc == TH_WASM_TRAPPED) {
        if (!call.trap_set && ex->trap_kind == TH_WASM_TRAP_NONE)
            wasm_exec_set_trap(ex, TH_WASM_TRAP_HOST, "host function trapped");
    } else {
        wasm_exec_set_trap(ex, TH_WASM_TRAP_HOST,
                           "host function returned invalid status %d", rc);
        rc = TH_WASM_TRAPPED;
    }
done:
    if (args != abuf)
        free(args);
    if (res != rbuf)
        free(res);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The dispatch loop                                                  */

enum { MODE_RUN, MODE_LABELS, MODE_EXIT };

/* Operand k of the current instruction, and the slot it names. */
#define OP(k) WASM_OPND(ip, k)
#define SLOT(k) fp[OP(k)]
#define RI32(k) (SLOT(k).i32)
#define RU32(k) ((uint32_t)SLOT(k).i32)
#define RI64(k) (SLOT(k).i64)
#define RU64(k) (SLOT(k).bits)
#define RF32(k) (SLOT(k).f32)
#define RF64(k) (SLOT(k).f64)
/* Writes store all 8 bytes, so later 8-byte copies forward cleanly. */
#define WU32(k, v) (SLOT(k).bits = (uint32_t)(v))
#define WU64(k, v) (SLOT(k).bits = (uint64_t)(v))
#define WF32(k, v) (SLOT(k).bits = f32_bits(v))
#define WF64(k, v) (SLOT(k).bits = f64_bits(v))

#define NEXT() goto *(*(void *const *)(const void *)ip)
#define SKIP(n) do { ip += WASM_INSN_SIZE(n); NEXT(); } while (0)

#define TRAP(kind, msg) do { tkind = (kind); tmsg = (msg); goto trap; } while (0)

/* Spend one fuel unit; the current instruction is the resume point. */
#define FUEL() do { \
        if (UNLIKELY(fuel == 0)) \
            goto out_of_fuel; \
        fuel--; \
    } while (0)

#define SYNC_FUEL() do { if (ex->fuel_limited) ex->fuel = fuel; } while (0)
#define LOAD_FUEL() (fuel = ex->fuel_limited ? ex->fuel : UINT64_MAX)

#define LOAD_MEM() do { \
        const th_wasm_memory *mem_ = inst->mem0; \
        if (mem_ != NULL) { \
            mbase = mem_->data; \
            msize = mem_->size; \
        } \
    } while (0)

/* The handler families (operators with their accumulator variants,
 * branches, loads and stores, memory operands, read-modify-write). */
#include "wasm/interp_shapes.h"

/* SIMD handlers (shapes in interp.h): v128 operands move with memcpy, as
 * frame slots are only 8-aligned; the operation is simd.h's v128_FN. */
#ifdef TH_WASM_SIMD_DIFF
/* Fuzz builds: every operation also runs in the scalar form, and a
 * disagreement aborts (a crash the fuzzer reports). */
#define SIMD_FN(name) v128s_##name
#define SIMD_VEC 0
#include "wasm/simd_ops.h"
#undef SIMD_FN
#undef SIMD_VEC

static v128 simd_diff_v(const char *fn, v128 x, v128 y)
{
    if (!v128_same_result(fn, &x, &y)) {
        fprintf(stderr, "SIMD %s: vector %016llx%016llx, scalar %016llx%016llx\n", fn,
                (unsigned long long)x.u64[1], (unsigned long long)x.u64[0],
                (unsigned long long)y.u64[1], (unsigned long long)y.u64[0]);
        abort();
    }
    return x;
}

static uint64_t simd_diff_s(const char *fn, uint64_t x, uint64_t y)
{
    if (x != y) {
        fprintf(stderr, "SIMD %s: vector %llx, scalar %llx\n", fn, (unsigned long long)x,
                (unsigned long long)y);
        abort();
    }
    return x;
}
#define SIMD_V(fn, ...) simd_diff_v(#fn, v128_##fn(__VA_ARGS__), v128s_##fn(__VA_ARGS__))
#define SIMD_S(fn, ...) simd_diff_s(#fn, v128_##fn(__VA_ARGS__), v128s_##fn(__VA_ARGS__))
#else
#define SIMD_V(fn, ...) v128_##fn(__VA_ARGS__)
#define SIMD_S(fn, ...) v128_##fn(__VA_ARGS__)
#endif

#define VLD(k, v) memcpy(&(v), &fp[OP(k)], 16)
#define VST(k, v) memcpy(&fp[OP(k)], &(v), 16)
#define SIMD_HANDLER(X, name, shape, fn, n) SIMD_H_##shape(name, fn, n)
#define SIMD_H_VUN(name, f, n) \
    L_##name: { v128 a; VLD(1, a); a = SIMD_V(f, a); VST(0, a); SKIP(2); }
#define SIMD_H_VBIN(name, f, n) \
    L_##name: { v128 a, b; VLD(1, a); VLD(2, b); a = SIMD_V(f, a, b); VST(0, a); SKIP(3); }
#define SIMD_H_VTER(name, f, n) \
    L_##name: { v128 a, b, c; VLD(1, a); VLD(2, b); VLD(3, c); a = SIMD_V(f, a, b, c); \
                VST(0, a); SKIP(4); }
#define SIMD_H_VSHIFT(name, f, n) \
    L_##name: { v128 a; VLD(1, a); a = SIMD_V(f, a, RU32(2)); VST(0, a); SKIP(3); }
#define SIMD_H_VTEST(name, f, n) \
    L_##name: { v128 a; VLD(1, a); WU32(0, SIMD_S(f, a)); SKIP(2); }
#define SIMD_H_SPLAT(name, f, n) \
    L_##name: { v128 r = SIMD_V(f, RU64(1)); VST(0, r); SKIP(2); }
#define SIMD_H_EXTRACT(name, f, n) \
    L_##name: { v128 a; VLD(1, a); WU64(0, SIMD_S(f, a, OP(2))); SKIP(3); }
#define SIMD_H_REPLACE(name, f, n) \
    L_##name: { v128 a; VLD(1, a); a = SIMD_V(f, a, RU64(2), OP(3)); VST(0, a); SKIP(4); }
#define SIMD_H_SHUFFLE(name, f, n) \
    L_##name: { v128 a, b; VLD(1, a); VLD(2, b); \
                a = SIMD_V(f, a, b, (const uint8_t *)&OP(3)); VST(0, a); SKIP(7); }
#define SIMD_H_VLOAD(name, f, N) \
    L_##name: { \
        uint64_t ea = (uint64_t)RU32(1) + OP(2); v128 r; \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        r = SIMD_V(f, mbase + ea); VST(0, r); SKIP(3); \
    }
#define SIMD_H_VSTORE(name, f, N) \
    L_##name: { \
        uint64_t ea = (uint64_t)RU32(0) + OP(2); \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        memcpy(mbase + ea, &fp[OP(1)], (N)); SKIP(3); \
    }
#define SIMD_H_VLOAD_LANE(name, f, N) \
    L_##name: { \
        uint64_t ea = (uint64_t)RU32(1) + OP(3); v128 r; \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        VLD(2, r); memcpy(&r.u8[(OP(4) * (N)) & 15], mbase + ea, (N)); \
        VST(0, r); SKIP(5); \
    }
#define SIMD_H_VSTORE_LANE(name, f, N) \
    L_##name: { \
        uint64_t ea = (uint64_t)RU32(0) + OP(2); v128 v; \
        if (UNLIKELY(ea + (N) > msize)) goto trap_mem; \
        VLD(1, v); memcpy(mbase + ea, &v.u8[(OP(3) * (N)) & 15], (N)); SKIP(4); \
    }

/* Which operations have which accumulator variants (the label table). */
#define ACC_BIN_LIST(X) \
    X(I32_EQ) X(I32_NE) X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U) \
    X(I32_LE_S) X(I32_LE_U) X(I32_GE_S) X(I32_GE_U) X(I32_ADD) X(I32_SUB) \
    X(I32_MUL) X(I32_DIV_S) X(I32_DIV_U) X(I32_REM_S) X(I32_REM_U) X(I32_AND) \
    X(I32_OR) X(I32_XOR) X(I32_SHL) X(I32_SHR_S) X(I32_SHR_U) X(I32_ROTL) X(I32_ROTR) \
    X(I64_EQ) X(I64_NE) X(I64_LT_S) X(I64_LT_U) X(I64_GT_S) X(I64_GT_U) \
    X(I64_LE_S) X(I64_LE_U) X(I64_GE_S) X(I64_GE_U) X(I64_ADD) X(I64_SUB) \
    X(I64_MUL) X(I64_DIV_S) X(I64_DIV_U) X(I64_REM_S) X(I64_REM_U) X(I64_AND) \
    X(I64_OR) X(I64_XOR) X(I64_SHL) X(I64_SHR_S) X(I64_SHR_U) X(I64_ROTL) X(I64_ROTR) \
    X(F32_EQ) X(F32_NE) X(F32_LT) X(F32_GT) X(F32_LE) X(F32_GE) X(F32_ADD) \
    X(F32_SUB) X(F32_MUL) X(F32_DIV) X(F32_MIN) X(F32_MAX) \
    X(F64_EQ) X(F64_NE) X(F64_LT) X(F64_GT) X(F64_LE) X(F64_GE) X(F64_ADD) \
    X(F64_SUB) X(F64_MUL) X(F64_DIV) X(F64_MIN) X(F64_MAX) \
    WASM_LOAD_OPS(X, LOADX)
#define ACC_UN_LIST(X) \
    X(I32_EQZ) X(I64_EQZ) X(I64_EXTEND_I32_S) X(I64_EXTEND_I32_U) \
    X(I32_EXTEND8_S) X(I32_EXTEND16_S) X(I64_EXTEND8_S) X(I64_EXTEND16_S) \
    X(I64_EXTEND32_S) X(F32_NEG) X(F32_ABS) X(F32_SQRT) X(F64_NEG) X(F64_ABS) \
    X(F64_SQRT) X(F32_CONVERT_I32_S) X(F32_CONVERT_I32_U) X(F64_CONVERT_I32_S) \
    X(F64_CONVERT_I32_U) X(F64_CONVERT_I64_S) X(F64_CONVERT_I64_U) \
    X(F32_DEMOTE_F64) X(F64_PROMOTE_F32) \
    WASM_CMPK_OPS(X, I32) WASM_BINK_OPS(X, I32) WASM_BINK_OPS(X, I64) \
    X(LOAD32) X(LOAD64) X(LOAD8_S32) X(LOAD8_U32) X(LOAD16_S32) X(LOAD16_U32) \
    X(LOAD8_S64) X(LOAD16_S64) X(LOAD32_S64) \
    X(LOADK32) X(LOADK64) X(LOADK8_S32) X(LOADK8_U32) X(LOADK16_S32) X(LOADK16_U32) \
    X(LOADK8_S64) X(LOADK16_S64) X(LOADK32_S64) \
    WASM_LOAD_OPS(X, LOADSK) WASM_LOAD_OPS(X, LOADSX)
#define ACC_SRC2_LIST(X) \
    X(STORE8) X(STORE16) X(STORE32) X(STORE64) \
    WASM_CMP_OPS(X, BR_IF_I32) WASM_CMP_OPS(X, BR_IF_I64) \
    WASM_CMP_OPS(X, BRB_IF_I32) WASM_CMP_OPS(X, BRB_IF_I64)
#define ACC_SRC1_LIST(X) \
    X(BR_IF_NZ) X(BR_IF_Z) X(BR_IF_I64_NZ) X(BR_IF_I64_Z) \
    X(BR_IF_NZ_BACK) X(BR_IF_Z_BACK) X(BR_IF_I64_NZ_BACK) X(BR_IF_I64_Z_BACK) \
    WASM_CMPK_OPS(X, BRB_IF_I32) X(BR_TABLE) \
    WASM_CMPK_OPS(X, BR_IF_I32) X(RET1) \
    WASM_STORE_OPS(X, STOREK) WASM_STORE_OPS(X, STORESX)

#define ACC_R_LIST(X) \
    X(M_I32_ADD) X(M_F64_ADD1) X(M_F64_ADD2) X(M_F64_SUB1) X(M_F64_SUB2) \
    X(M_F64_MUL1) X(M_F64_MUL2) X(T_ROTLK3_XOR) X(T_ROTLK2_SHRUK_XOR)

#define FUSED_LABELS(X, kind, name, x, y, pos, expr) FL_##kind(name)
#define FL_KB(name) LABEL_BIN(name) /* _B: c from the accumulator */
#define FL_KK(name) LABEL_UN(name)
#define FL_UX64(name) LABEL_BIN(name) /* _B: c from the accumulator */
#define FL_BB32(name) LABEL_BIN(name)
#define FL_BBF64(name) LABEL_BIN(name)

#define NV WASM_NVARIANTS
#define LABEL_BASE(n) [WOP_##n * NV] = &&L_##n,
#define LABEL_BIN(n) \
    [WOP_##n * NV + WV_R] = &&L_##n##__R, [WOP_##n * NV + WV_A] = &&L_##n##_A, \
    [WOP_##n * NV + (WV_A | WV_R)] = &&L_##n##_A__R, [WOP_##n * NV + WV_B] = &&L_##n##_B, \
    [WOP_##n * NV + (WV_B | WV_R)] = &&L_##n##_B__R,
#define LABEL_UN(n) \
    [WOP_##n * NV + WV_R] = &&L_##n##__R, [WOP_##n * NV + WV_A] = &&L_##n##_A, \
    [WOP_##n * NV + (WV_A | WV_R)] = &&L_##n##_A__R,
#define LABEL_SRC2(n) [WOP_##n * NV + WV_A] = &&L_##n##_A, [WOP_##n * NV + WV_B] = &&L_##n##_B,
#define LABEL_SRC1(n) [WOP_##n * NV + WV_A] = &&L_##n##_A,
#define LABEL_R(n) [WOP_##n * NV + WV_R] = &&L_##n##__R,

#ifdef TH_WASM_OPSTATS
/*
 * Profiling builds (-DTH_WASM_OPSTATS, never in a normal build): every
 * dispatch is counted by instruction address, and at exit the instructions
 * that ran at least 0.1% of all dispatches are printed to stderr in code
 * order (address, share, operation, variant, first four operands): the hot
 * loops of the program as the interpreter runs them.  Single-threaded use
 * only (engine_bench --only NAME).
 */
#define OPSTATS_CAP (1u << 20)
struct opstat {
    const uint8_t *ip;
    uint64_t n;
    uint8_t copy[32]; /* the instruction (its code may be freed by exit) */
};
static struct opstat *opstats_tab;
static const void *const *opstats_labels;
#define OPSTATS_NAME(n) #n,
static const char *const opstats_names[] = {WASM_OP_LIST(OPSTATS_NAME)};
const void *const *wasm_interp_labels(void);

static uint32_t opstats_slot(const uint8_t *ip)
{
    uint32_t i = (uint32_t)(((uintptr_t)ip >> 3) * 2654435761u) & (OPSTATS_CAP - 1);
    while (opstats_tab[i].ip != NULL && opstats_tab[i].ip != ip)
        i = (i + 1) & (OPSTATS_CAP - 1);
    return i;
}

static int opstats_cmp(const void *a, const void *b)
{
    const struct opstat *x = a, *y = b;
    return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static void opstats_dump(void)
{
    uint64_t total = 0;
    size_t k = 0;

    for (uint32_t i = 0; i < OPSTATS_CAP; i++)
        total += opstats_tab[i].n;
    for (uint32_t i = 0; i < OPSTATS_CAP; i++)
        if (opstats_tab[i].ip != NULL && opstats_tab[i].n * 1000 >= total)
            opstats_tab[k++] = opstats_tab[i];
    qsort(opstats_tab, k, sizeof *opstats_tab, opstats_cmp);
    fprintf(stderr, "opstats: %llu dispatches\n", (unsigned long long)total);
    for (size_t j = 0; j < k; j++) {
        const uint8_t *cp = opstats_tab[j].copy;
        const void *h = *(void *const *)(const void *)cp;
        const char *name = "?";
        int var = 0;
        for (int i = 0; i < WOP_COUNT_ * WASM_NVARIANTS; i++)
            if (opstats_labels[i] == h) {
                name = opstats_names[i / WASM_NVARIANTS];
                var = i % WASM_NVARIANTS;
                break;
            }
        fprintf(stderr, "%p %6.2f%% %-22s v%d %u %u %u %u\n", (const void *)opstats_tab[j].ip,
                100.0 * (double)opstats_tab[j].n / (double)total, name, var, WASM_OPND(cp, 0),
                WASM_OPND(cp, 1), WASM_OPND(cp, 2), WASM_OPND(cp, 3));
    }
}

static void opstats_hit(const uint8_t *ip)
{
    uint32_t i;

    if (opstats_tab == NULL) {
        opstats_tab = calloc(OPSTATS_CAP, sizeof *opstats_tab);
        if (opstats_tab == NULL)
            abort();
        opstats_labels = wasm_interp_labels();
        atexit(opstats_dump);
    }
    i = opstats_slot(ip);
    if (opstats_tab[i].ip == NULL) {
        opstats_tab[i].ip = ip;
        memcpy(opstats_tab[i].copy, ip, sizeof opstats_tab[i].copy);
    }
    opstats_tab[i].n++;
}
#undef NEXT
#define NEXT() do { opstats_hit(ip); goto *(*(void *const *)(const void *)ip); } while (0)
#endif

static int run(th_wasm_exec *ex, int mode, const void *const **out)
{
    static const void *const labels[WOP_COUNT_ * NV] = {
        WASM_OP_LIST(LABEL_BASE) ACC_BIN_LIST(LABEL_BIN) ACC_UN_LIST(LABEL_UN)
        ACC_SRC2_LIST(LABEL_SRC2) ACC_SRC1_LIST(LABEL_SRC1) ACC_R_LIST(LABEL_R)
        WASM_FUSED_LIST(_, FUSED_LABELS)
        /* a call's result is in the accumulator after RET1 (below) */
        [WOP_CALL * NV + WV_R] = &&L_CALL,
        [WOP_STOREF64 * NV + WV_B] = &&L_STOREF64_B,
    };
    static const void *const exit_code[2] = { &&L_EXIT, NULL };

    const uint8_t *ip;
    th_wasm_val *fp;
    struct wasm_frame *frame;
    th_wasm_instance *inst;
    uint8_t *mbase = NULL;
    uint64_t msize = 0;
    uint64_t fuel;
    uint64_t acc = 0;
    double facc = 0; /* the f64 accumulator (interp_shapes.h) */
    uint32_t lsk_v;  /* a back-edge's value into its loop head (back_lsk) */
    /* call setup */
    const struct wasm_code *cc;
    th_wasm_instance *ci;
    th_wasm_func *cf;
    th_wasm_val *nfp;
    const uint8_t *ret_ip;
    uint32_t argoff;
    /* traps */
    th_wasm_trap_kind tkind;
    const char *tmsg;

    if (mode == MODE_LABELS) {
        *out = labels;
        return 0;
    }
    if (mode == MODE_EXIT) {
        *out = exit_code;
        return 0;
    }

    frame = ex->top;
    ip = frame->ip;
    fp = frame->fp;
    inst = frame->inst;
    acc = ex->acc; /* resuming where fuel ran out: the instruction may read it */
    LOAD_MEM();
    LOAD_FUEL();
    NEXT();

    /* ---- control ---- */
L_EXIT:
    frame->ip = ip;
    ex->top = frame;
    SYNC_FUEL();
    return TH_OK;

L_UNREACHABLE:
    TRAP(TH_WASM_TRAP_UNREACHABLE, "unreachable");

L_BR:
    ip += (int32_t)OP(0);
    NEXT();
L_BR_BACK:
    FUEL();
    ip += (int32_t)OP(0);
    NEXT();

    BRIF1(BR_IF_NZ, uint32_t, RU32, A32, a != 0)
    BRIF1(BR_IF_Z, uint32_t, RU32, A32, a == 0)
    BRIF1(BR_IF_I64_NZ, uint64_t, RU64, A64, a != 0)
    BRIF1(BR_IF_I64_Z, uint64_t, RU64, A64, a == 0)
    BRIF_CMPS(BR_IF_I32, BRB_IF_I32, uint32_t, int32_t, RU32, A32)
    BRIF_CMPS(BR_IF_I64, BRB_IF_I64, uint64_t, int64_t, RU64, A64)
    BRIFK_CMPS(BR_IF_I32, BRB_IF_I32)

#define BRTABLE(name, IDX) \
    L_##name: { \
        uint32_t i = (IDX), n = OP(1); \
        FUEL(); \
        if (i > n) \
            i = n; \
        ip += (int32_t)OP(2 + i); \
        NEXT(); \
    }
    BRTABLE(BR_TABLE, RU32(0))
    BRTABLE(BR_TABLE_A, A32)

    /* The memory cache stays valid within an instance: whatever grew its
     * memory meanwhile (memory.grow, a host call) reloaded it.  Each
     * return handler has its own copy (its own indirect jump). */
#define RETURN() do { \
        frame--; \
        ip = frame->ip; \
        fp = frame->fp; \
        if (UNLIKELY(frame->inst != inst)) \
            goto ret_other_instance; \
        NEXT(); \
    } while (0)
    /* A one-value return leaves the value in the accumulator too, so the
     * instruction after a CALL may read it there (CALL's __R variant). */
L_RET1_A:
    fp[0].bits = acc;
    RETURN();
L_RET1:
    acc = SLOT(0).bits;
    fp[0].bits = acc;
    RETURN();
L_RET:
    RETURN();
ret_other_instance:
    inst = frame->inst;
    LOAD_MEM();
    NEXT();

    /* The fast path: same instance, room on both stacks.  CALL0 and CALL1Z
     * are CALL for a callee with no slot to initialise at entry / one
     * slot to zero (compile.c picks them once the whole module is
     * translated). */
#define CALL_HANDLER(name, INIT, ACC) \
    L_##name: { \
        const struct wasm_code *c = (const struct wasm_code *)WASM_OPND_PTR(ip); \
        th_wasm_val *nf = fp + OP(2); \
        FUEL(); \
        if (UNLIKELY((nf + c->frame_slots > ex->stack_end) | (frame + 1 >= ex->frames_end))) { \
            cc = c; \
            ci = inst; \
            nfp = nf; \
            ret_ip = ip + WASM_CALL_SIZE; \
            goto do_call_grow; \
        } \
        frame->ip = ip + WASM_CALL_SIZE; \
        frame++; \
        frame->fp = nf; \
        frame->code = c; \
        frame->inst = inst; \
        INIT; \
        ACC; \
        fp = nf; \
        /* the entry is in the instruction: no load through c on the way */ \
        ip = *(const uint8_t *const *)(const void *)(ip + WASM_CALL_CODE_OFF); \
        NEXT(); \
    }
#define CALL_INIT_N do { \
        th_wasm_val *dst = nf + c->nparam_slots; \
        const th_wasm_val *src = c->init; \
        for (uint32_t n = c->ninit; n != 0; n--) \
            *dst++ = *src++; \
    } while (0)
    CALL_HANDLER(CALL, CALL_INIT_N, (void)0)
    CALL_HANDLER(CALL0, (void)0, (void)0)
    CALL_HANDLER(CALL1Z, nf[OP(3)].bits = 0, (void)0)
    /* the callee's first instruction reads its first parameter from the
     * accumulator (wasm_code.entry_acc) */
    CALL_HANDLER(CALL_A, CALL_INIT_N, acc = nf[0].bits)
    CALL_HANDLER(CALL0_A, (void)0, acc = nf[0].bits)
    CALL_HANDLER(CALL1Z_A, nf[OP(3)].bits = 0, acc = nf[0].bits)

L_CALL_IMPORT:
    cf = inst->funcs[OP(0)];
    argoff = OP(1);
    ret_ip = ip + WASM_INSN_SIZE(2);
    goto call_func;

L_CALL_INDIRECT: {
        th_wasm_table *t = inst->tables[OP(1)];
        uint32_t i = RU32(2);
        if (UNLIKELY(i >= t->size))
            TRAP(TH_WASM_TRAP_TABLE_OOB, "undefined element");
        cf = (th_wasm_func *)t->elems[i];
        if (UNLIKELY(cf == NULL)) {
            wasm_exec_set_trap(ex, TH_WASM_TRAP_INDIRECT_NULL, "uninitialized element %u", i);
            goto trap_set;
        }
        if (UNLIKELY(cf->type->canon != OP(0)))
            TRAP(TH_WASM_TRAP_INDIRECT_TYPE, "indirect call type mismatch");
        argoff = OP(3);
        ret_ip = ip + WASM_INSN_SIZE(4);
        goto call_func;
    }

call_func:
    /* cf with arguments at fp + argoff, returning to ret_ip */
    if (cf->host != NULL) {
        int rc;
        size_t fpoff = (size_t)(fp - ex->stack);
        frame->ip = ret_ip;
        ex->top = frame;
        SYNC_FUEL();
        rc = wasm_interp_call_host(ex, cf, inst, fpoff + argoff,
                                   fpoff + frame->code->frame_slots);
        frame = ex->top;
        fp = frame->fp;
        LOAD_FUEL();
        LOAD_MEM();
        if (LIKELY(rc == TH_OK)) {
            ip = ret_ip;
            NEXT();
        }
        return rc; /* suspended (resume at ret_ip) or trapped */
    }
    cc = cf->code;
    ci = cf->inst;
    nfp = fp + argoff;
    /* fall into do_call */

    /* do_call: */
    /* push a frame for cc (instance ci) at nfp, returning to ret_ip */
    FUEL();
    if (UNLIKELY(nfp + cc->frame_slots > ex->stack_end || frame + 1 >= ex->frames_end)) {
do_call_grow:;
        size_t fpoff = (size_t)(fp - ex->stack), noff = (size_t)(nfp - ex->stack);
        ex->top = frame;
        int grc = wasm_exec_grow(ex, noff, cc->frame_slots);
        if (grc != 0) {
            frame = ex->top;
            wasm_exec_stack_trap(ex, grc);
            goto trap_set;
        }
        frame = ex->top;
        fp = ex->stack + fpoff;
        nfp = ex->stack + noff;
    }
    frame->ip = ret_ip;
    frame++;
    frame->fp = nfp;
    frame->code = cc;
    frame->inst = ci;
    {
        th_wasm_val *dst = nfp + cc->nparam_slots;
        const th_wasm_val *src = cc->init;
        for (uint32_t n = cc->ninit; n != 0; n--)
            *dst++ = *src++;
    }
    fp = nfp;
    ip = cc->code;
    if (cc->entry_acc)
        acc = fp[0].bits;
    if (UNLIKELY(ci != inst)) {
        inst = ci;
        LOAD_MEM();
    }
    NEXT();

    /* ---- data movement ---- */
L_COPY:
    SLOT(0) = SLOT(1);
    SKIP(2);

    /* pairs */
#define ADDK_THEN(name, second) \
    L_##name: \
        WU32(0, RU32(1) + OP(2)); \
        ip += WASM_INSN_SIZE(3); \
        goto L_##second;
    ADDK_THEN(P_ADDK_ADDK, I32_ADD_K)
    ADDK_THEN(P_ADDK_BR_BACK, BR_BACK)
    ADDK_THEN(P_ADDK_BR_IF_NZ_BACK, BR_IF_NZ_BACK)
    ADDK_THEN(P_ADDK_BRB_EQ, BRB_IF_I32_EQ)
    ADDK_THEN(P_ADDK_BRB_NE, BRB_IF_I32_NE)
    ADDK_THEN(P_ADDK_BRB_LT_S, BRB_IF_I32_LT_S)
    ADDK_THEN(P_ADDK_BRB_LT_U, BRB_IF_I32_LT_U)
    ADDK_THEN(P_ADDK_BRB_GT_S, BRB_IF_I32_GT_S)
    ADDK_THEN(P_ADDK_BRB_GT_U, BRB_IF_I32_GT_U)
    ADDK_THEN(P_ADDK_BRB_LE_S, BRB_IF_I32_LE_S)
    ADDK_THEN(P_ADDK_BRB_LE_U, BRB_IF_I32_LE_U)
    ADDK_THEN(P_ADDK_BRB_GE_S, BRB_IF_I32_GE_S)
    ADDK_THEN(P_ADDK_BRB_GE_U, BRB_IF_I32_GE_U)
    ADDK_THEN(P_ADDK_BRB_EQ_K, BRB_IF_I32_EQ_K)
    ADDK_THEN(P_ADDK_BRB_NE_K, BRB_IF_I32_NE_K)
    ADDK_THEN(P_ADDK_BRB_LT_S_K, BRB_IF_I32_LT_S_K)
    ADDK_THEN(P_ADDK_BRB_LT_U_K, BRB_IF_I32_LT_U_K)
    ADDK_THEN(P_ADDK_BRB_GT_S_K, BRB_IF_I32_GT_S_K)
    ADDK_THEN(P_ADDK_BRB_GT_U_K, BRB_IF_I32_GT_U_K)
    ADDK_THEN(P_ADDK_BRB_LE_S_K, BRB_IF_I32_LE_S_K)
    ADDK_THEN(P_ADDK_BRB_LE_U_K, BRB_IF_I32_LE_U_K)
    ADDK_THEN(P_ADDK_BRB_GE_S_K, BRB_IF_I32_GE_S_K)
    ADDK_THEN(P_ADDK_BRB_GE_U_K, BRB_IF_I32_GE_U_K)
    ADDK_THEN(P_ADDK_RMW_MADD32, RMW_MADD32)
#define ADDK2_THEN(name) ADDK_THEN(P_ADDK2_##name, P_ADDK_##name)
    ADDK2_THEN(BR_BACK)
    ADDK2_THEN(BR_IF_NZ_BACK)
    WASM_CMP_OPS(ADDK2_THEN, BRB)
    WASM_CMPK_OPS(ADDK2_THEN, BRB)
    /* a return of a sum: the addition to the accumulator, then RET1_A */
#define THEN_RET1(name, n, expr) \
    L_##name: \
        acc = (expr); \
        ip += WASM_INSN_SIZE(n); \
        goto L_RET1_A;
    THEN_RET1(P_ADD32_RET1, 3, (uint32_t)(RU32(1) + RU32(2)))
    THEN_RET1(P_ADD64_RET1, 3, RU64(1) + RU64(2))
    THEN_RET1(P_EXTUADD64_RET1, 4, (uint64_t)RU32(1) + RU64(3))
L_P_LSK32_BR_TABLE: {
        uint64_t ea = (uint64_t)(uint32_t)((RU32(1) << (OP(2) & 31)) + OP(3)) + OP(4);
        uint32_t v;
        if (UNLIKELY(ea + 4 > msize))
            goto trap_mem;
        memcpy(&v, mbase + ea, 4);
        acc = v;
        ip += WASM_INSN_SIZE(5);
        goto L_BR_TABLE_A;
    }
L_P_COPY_BR_BACK:
    SLOT(0) = SLOT(1);
    ip += WASM_INSN_SIZE(2);
    goto L_BR_BACK;
L_P_COPY2_BR_BACK:
    SLOT(0) = SLOT(1);
    SLOT(2) = SLOT(3);
    ip += WASM_INSN_SIZE(4);
    goto L_BR_BACK;
L_P_COPY3_BR_BACK:
    SLOT(0) = SLOT(1);
    SLOT(2) = SLOT(3);
    SLOT(4) = SLOT(5);
    ip += WASM_INSN_SIZE(6);
    goto L_BR_BACK;
L_P_COPY4_BR_BACK:
    SLOT(0) = SLOT(1);
    SLOT(2) = SLOT(3);
    SLOT(4) = SLOT(5);
    SLOT(6) = SLOT(7);
    ip += WASM_INSN_SIZE(8);
    goto L_BR_BACK;
L_COPY2:
    SLOT(0) = SLOT(1);
    SLOT(2) = SLOT(3);
    SKIP(4);
L_COPY3:
    SLOT(0) = SLOT(1);
    SLOT(2) = SLOT(3);
    SLOT(4) = SLOT(5);
    SKIP(6);
L_COPY4:
    SLOT(0) = SLOT(1);
    SLOT(2) = SLOT(3);
    SLOT(4) = SLOT(5);
    SLOT(6) = SLOT(7);
    SKIP(8);
L_SELECT:
    SLOT(0) = RU32(3) ? SLOT(1) : SLOT(2);
    SKIP(4);
L_GLOBAL_GET:
    SLOT(0) = inst->globals[OP(1)]->val;
    SKIP(2);
L_GLOBAL_SET:
    inst->globals[OP(0)]->val = SLOT(1);
    SKIP(2);
L_GLOBAL_SET32:
    inst->globals[OP(0)]->val.bits = (uint32_t)SLOT(1).bits;
    SKIP(2);

    /* ---- memory ---- */
    LOAD(LOAD32, 4, uint32_t, v)
    LOAD(LOAD64, 8, uint64_t, v)
    LOAD(LOAD8_S32, 1, int8_t, (uint32_t)(int32_t)v)
    LOAD(LOAD8_U32, 1, uint8_t, v)
    LOAD(LOAD16_S32, 2, int16_t, (uint32_t)(int32_t)v)
    LOAD(LOAD16_U32, 2, uint16_t, v)
    LOAD(LOAD8_S64, 1, int8_t, (uint64_t)(int64_t)v)
    LOAD(LOAD16_S64, 2, int16_t, (uint64_t)(int64_t)v)
    LOAD(LOAD32_S64, 4, int32_t, (uint64_t)(int64_t)v)
    LOADK(LOADK32, 4, uint32_t, v)
    LOADK(LOADK64, 8, uint64_t, v)
    LOADK(LOADK8_S32, 1, int8_t, (uint32_t)(int32_t)v)
    LOADK(LOADK8_U32, 1, uint8_t, v)
    LOADK(LOADK16_S32, 2, int16_t, (uint32_t)(int32_t)v)
    LOADK(LOADK16_U32, 2, uint16_t, v)
    LOADK(LOADK8_S64, 1, int8_t, (uint64_t)(int64_t)v)
    LOADK(LOADK16_S64, 2, int16_t, (uint64_t)(int64_t)v)
    LOADK(LOADK32_S64, 4, int32_t, (uint64_t)(int64_t)v)
    MEMOP(M_I32_ADD, uint32_t, NOCONV, uint32_t, RU32, WU32, AW32, m + b)
    MEMOP(M_F64_ADD1, uint64_t, bits_f64, double, RF64, WF64, AWF64, m + b)
    MEMOP(M_F64_ADD2, uint64_t, bits_f64, double, RF64, WF64, AWF64, b + m)
    MEMOP(M_F64_SUB1, uint64_t, bits_f64, double, RF64, WF64, AWF64, m - b)
    MEMOP(M_F64_SUB2, uint64_t, bits_f64, double, RF64, WF64, AWF64, b - m)
    MEMOP(M_F64_MUL1, uint64_t, bits_f64, double, RF64, WF64, AWF64, m * b)
    MEMOP(M_F64_MUL2, uint64_t, bits_f64, double, RF64, WF64, AWF64, b * m)
    RMW(RMW_I32_ADD, uint32_t, NOCONV, uint32_t, RU32, NOCONV, m + b)
    RMW(RMW_F64_ADD1, uint64_t, bits_f64, double, RF64, f64_bits, m + b)
    RMW(RMW_F64_ADD2, uint64_t, bits_f64, double, RF64, f64_bits, b + m)
    RMW(RMW_F64_SUB1, uint64_t, bits_f64, double, RF64, f64_bits, m - b)
    RMW(RMW_F64_SUB2, uint64_t, bits_f64, double, RF64, f64_bits, b - m)
    RMW(RMW_F64_MUL1, uint64_t, bits_f64, double, RF64, f64_bits, m * b)
    RMW(RMW_F64_MUL2, uint64_t, bits_f64, double, RF64, f64_bits, b * m)
#define RMWA(name, expr) \
    L_##name: { \
        uint64_t ea = (uint64_t)RU32(0) + OP(1); \
        uint64_t mv; \
        if (UNLIKELY(ea + 8 > msize)) \
            goto trap_mem; \
        memcpy(&mv, mbase + ea, 8); \
        double m = bits_f64(mv), b = AF64; \
        mv = f64_bits(expr); \
        memcpy(mbase + ea, &mv, 8); \
        SKIP(2); \
    }
    RMWA(RMWA_F64_ADD, m + b)
    RMWA(RMWA_F64_SUB, m - b)
    RMWA(RMWA_F64_MUL, m * b)
L_RMW_MADD32: {
        uint64_t ea = (uint64_t)(uint32_t)(RU32(0) + OP(1)) + OP(2);
        uint64_t eb = (uint64_t)(uint32_t)(RU32(3) + OP(4)) + OP(5);
        uint32_t m, v;
        if (UNLIKELY(ea + 4 > msize))
            goto trap_mem;
        memcpy(&m, mbase + ea, 4);
        if (UNLIKELY(eb + 4 > msize))
            goto trap_mem;
        memcpy(&v, mbase + eb, 4);
        m = v * RU32(6) + m;
        memcpy(mbase + ea, &m, 4);
        SKIP(7);
    }
#define XOR3(name, third) \
    L_##name: { \
        uint32_t a = RU32(1), b = RU32(3), c = RU32(5); \
        WU32(0, ROTL32(a, OP(2)) ^ ROTL32(b, OP(4)) ^ (third)); \
        SKIP(7); \
    } \
    L_##name##__R: { \
        uint32_t a = RU32(1), b = RU32(3), c = RU32(5); \
        AW32(ROTL32(a, OP(2)) ^ ROTL32(b, OP(4)) ^ (third)); \
        SKIP(7); \
    }
    XOR3(T_ROTLK3_XOR, ROTL32(c, OP(6)))
    XOR3(T_ROTLK2_SHRUK_XOR, c >> (OP(6) & 31))
    LOAD_KINDS(LOADX, LOADX)
    LOAD_KINDS(LOADSK, LOADSK)
    LOAD_KINDS(LOADSX, LOADSX)
    STOREK(STOREK8, 1, uint8_t)
    STOREK(STOREK16, 2, uint16_t)
    STOREK(STOREK32, 4, uint32_t)
    STOREK(STOREK64, 8, uint64_t)
    STORESX(STORESX8, 1, uint8_t)
    STORESX(STORESX16, 2, uint16_t)
    STORESX(STORESX32, 4, uint32_t)
    STORESX(STORESX64, 8, uint64_t)
    STORE(STORE8, 1, uint8_t)
    STORE(STORE16, 2, uint16_t)
    STORE(STORE32, 4, uint32_t)
    STORE(STORE64, 8, uint64_t)
    STOREF(STOREF64)

L_MEMORY_SIZE:
    WU32(0, msize / WASM_PAGE_SIZE);
    SKIP(1);
L_MEMORY_GROW: {
        int64_t r = wasm_memory_grow(inst->mem0, RU32(1));
        WU32(0, (uint32_t)r);
        LOAD_MEM();
        SKIP(2);
    }
L_MEMORY_INIT:
    if (UNLIKELY(!mem_init(inst, OP(0), RU32(1), RU32(2), RU32(3))))
        goto trap_mem;
    SKIP(4);
L_DATA_DROP:
    inst->data_len[OP(0)] = 0;
    SKIP(1);
L_MEMORY_COPY:
    if (UNLIKELY(!mem_copy(inst->mem0, RU32(0), RU32(1), RU32(2))))
        goto trap_mem;
    SKIP(3);
L_MEMORY_FILL:
    if (UNLIKELY(!mem_fill(inst->mem0, RU32(0), RU32(1), RU32(2))))
        goto trap_mem;
    SKIP(3);

    /* ---- tables and references ---- */
L_TABLE_GET: {
        th_wasm_table *t = inst->tables[OP(1)];
        uint32_t i = RU32(2);
        if (UNLIKELY(i >= t->size))
            goto trap_table;
        SLOT(0).bits = 0;
        SLOT(0).ref = t->elems[i];
        SKIP(3);
    }
L_TABLE_SET: {
        th_wasm_table *t = inst->tables[OP(0)];
        uint32_t i = RU32(1);
        if (UNLIKELY(i >= t->size))
            goto trap_table;
        t->elems[i] = SLOT(2).ref;
        SKIP(3);
    }
L_TABLE_SIZE:
    WU32(0, inst->tables[OP(1)]->size);
    SKIP(2);
L_TABLE_GROW: {
        int64_t r = wasm_table_grow(inst->tables[OP(1)], RU32(3), SLOT(2).ref);
        WU32(0, (uint32_t)r);
        SKIP(4);
    }
L_TABLE_FILL:
    if (UNLIKELY(!table_fill(inst->tables[OP(0)], RU32(1), SLOT(2).ref, RU32(3))))
        goto trap_table;
    SKIP(4);
L_TABLE_COPY:
    if (UNLIKELY(!table_copy(inst->tables[OP(0)], inst->tables[OP(1)],
                             RU32(2), RU32(3), RU32(4))))
        goto trap_table;
    SKIP(5);
L_TABLE_INIT:
    if (UNLIKELY(!table_init(inst, inst->tables[OP(0)], OP(1), RU32(2),
                             RU32(3), RU32(4))))
        goto trap_table;
    SKIP(5);
L_ELEM_DROP:
    inst->elems[OP(0)].len = 0;
    SKIP(1);
L_REF_IS_NULL:
    WU32(0, SLOT(1).ref == NULL);
    SKIP(2);
L_REF_FUNC:
    SLOT(0).bits = 0;
    SLOT(0).ref = inst->funcs[OP(1)];
    SKIP(2);

    /* ---- i32 ---- */
    VUN_I32(I32_EQZ, a == 0)
    BIN_I32(I32_EQ, a == b)
    BIN_I32(I32_NE, a != b)
    BIN_I32(I32_LT_S, (int32_t)a < (int32_t)b)
    BIN_I32(I32_LT_U, a < b)
    BIN_I32(I32_GT_S, (int32_t)a > (int32_t)b)
    BIN_I32(I32_GT_U, a > b)
    BIN_I32(I32_LE_S, (int32_t)a <= (int32_t)b)
    BIN_I32(I32_LE_U, a <= b)
    BIN_I32(I32_GE_S, (int32_t)a >= (int32_t)b)
    BIN_I32(I32_GE_U, a >= b)
    UN_I32(I32_CLZ, a ? (uint32_t)__builtin_clz(a) : 32u)
    UN_I32(I32_CTZ, a ? (uint32_t)__builtin_ctz(a) : 32u)
    UN_I32(I32_POPCNT, (uint32_t)__builtin_popcount(a))
    BIN_I32(I32_ADD, a + b)
    BIN_I32(I32_SUB, a - b)
    BIN_I32(I32_MUL, a * b)
    VBIN(I32_DIV_S, int32_t, RI32, AI32, int32_t, WU32, AW32,
         if (UNLIKELY(b == 0)) goto trap_div;
         if (UNLIKELY(a == INT32_MIN && b == -1)) goto trap_ovf;
         r = a / b)
    VBIN(I32_DIV_U, uint32_t, RU32, A32, uint32_t, WU32, AW32,
         if (UNLIKELY(b == 0)) goto trap_div;
         r = a / b)
    VBIN(I32_REM_S, int32_t, RI32, AI32, int32_t, WU32, AW32,
         if (UNLIKELY(b == 0)) goto trap_div;
         r = b == -1 ? 0 : a % b)
    VBIN(I32_REM_U, uint32_t, RU32, A32, uint32_t, WU32, AW32,
         if (UNLIKELY(b == 0)) goto trap_div;
         r = a % b)
    BIN_I32(I32_AND, a & b)
    BIN_I32(I32_OR, a | b)
    BIN_I32(I32_XOR, a ^ b)
    BIN_I32(I32_SHL, a << (b & 31))
    BIN_I32(I32_SHR_S, (uint32_t)((int32_t)a >> (b & 31)))
    BIN_I32(I32_SHR_U, a >> (b & 31))
    BIN_I32(I32_ROTL, (a << (b & 31)) | (a >> ((32 - (b & 31)) & 31)))
    BIN_I32(I32_ROTR, (a >> (b & 31)) | (a << ((32 - (b & 31)) & 31)))
    BIN_I32K(I32_EQ_K, a == b)
    BIN_I32K(I32_NE_K, a != b)
    BIN_I32K(I32_LT_S_K, (int32_t)a < (int32_t)b)
    BIN_I32K(I32_LT_U_K, a < b)
    BIN_I32K(I32_GT_S_K, (int32_t)a > (int32_t)b)
    BIN_I32K(I32_GT_U_K, a > b)
    BIN_I32K(I32_LE_S_K, (int32_t)a <= (int32_t)b)
    BIN_I32K(I32_LE_U_K, a <= b)
    BIN_I32K(I32_GE_S_K, (int32_t)a >= (int32_t)b)
    BIN_I32K(I32_GE_U_K, a >= b)
    BIN_I32K(I32_ADD_K, a + b)
    BIN_I32K(I32_MUL_K, a * b)
    BIN_I32K(I32_AND_K, a & b)
    BIN_I32K(I32_OR_K, a | b)
    BIN_I32K(I32_XOR_K, a ^ b)
    BIN_I32K(I32_SHL_K, a << (b & 31))
    BIN_I32K(I32_SHR_S_K, (uint32_t)((int32_t)a >> (b & 31)))
    BIN_I32K(I32_SHR_U_K, a >> (b & 31))
    BIN_I32K(I32_ROTL_K, (a << (b & 31)) | (a >> ((32 - (b & 31)) & 31)))
    BIN_I32K(I32_ROTR_K, (a >> (b & 31)) | (a << ((32 - (b & 31)) & 31)))

    /* ---- i64 ---- */
    VUN(I64_EQZ, 2, uint64_t, RU64, A64, uint32_t, WU32, AW32, r = a == 0)
    CMP_I64(I64_EQ, a == b)
    CMP_I64(I64_NE, a != b)
    CMP_I64(I64_LT_S, (int64_t)a < (int64_t)b)
    CMP_I64(I64_LT_U, a < b)
    CMP_I64(I64_GT_S, (int64_t)a > (int64_t)b)
    CMP_I64(I64_GT_U, a > b)
    CMP_I64(I64_LE_S, (int64_t)a <= (int64_t)b)
    CMP_I64(I64_LE_U, a <= b)
    CMP_I64(I64_GE_S, (int64_t)a >= (int64_t)b)
    CMP_I64(I64_GE_U, a >= b)
    UN_I64(I64_CLZ, a ? (uint64_t)__builtin_clzll(a) : 64u)
    UN_I64(I64_CTZ, a ? (uint64_t)__builtin_ctzll(a) : 64u)
    UN_I64(I64_POPCNT, (uint64_t)__builtin_popcountll(a))
    BIN_I64(I64_ADD, a + b)
    BIN_I64(I64_SUB, a - b)
    BIN_I64(I64_MUL, a * b)
    VBIN(I64_DIV_S, int64_t, RI64, AI64, int64_t, WU64, AW64,
         if (UNLIKELY(b == 0)) goto trap_div;
         if (UNLIKELY(a == INT64_MIN && b == -1)) goto trap_ovf;
         r = a / b)
    VBIN(I64_DIV_U, uint64_t, RU64, A64, uint64_t, WU64, AW64,
         if (UNLIKELY(b == 0)) goto trap_div;
         r = a / b)
    VBIN(I64_REM_S, int64_t, RI64, AI64, int64_t, WU64, AW64,
         if (UNLIKELY(b == 0)) goto trap_div;
         r = b == -1 ? 0 : a % b)
    VBIN(I64_REM_U, uint64_t, RU64, A64, uint64_t, WU64, AW64,
         if (UNLIKELY(b == 0)) goto trap_div;
         r = a % b)
    BIN_I64(I64_AND, a & b)
    BIN_I64(I64_OR, a | b)
    BIN_I64(I64_XOR, a ^ b)
    BIN_I64(I64_SHL, a << (b & 63))
    BIN_I64(I64_SHR_S, (uint64_t)((int64_t)a >> (b & 63)))
    BIN_I64(I64_SHR_U, a >> (b & 63))
    BIN_I64(I64_ROTL, (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)))
    BIN_I64(I64_ROTR, (a >> (b & 63)) | (a << ((64 - (b & 63)) & 63)))
    BIN_I64K(I64_ADD_K, a + b)
    BIN_I64K(I64_MUL_K, a * b)
    BIN_I64K(I64_AND_K, a & b)
    BIN_I64K(I64_OR_K, a | b)
    BIN_I64K(I64_XOR_K, a ^ b)
    BIN_I64K(I64_SHL_K, a << (b & 63))
    BIN_I64K(I64_SHR_S_K, (uint64_t)((int64_t)a >> (b & 63)))
    BIN_I64K(I64_SHR_U_K, a >> (b & 63))
    BIN_I64K(I64_ROTL_K, (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)))
    BIN_I64K(I64_ROTR_K, (a >> (b & 63)) | (a << ((64 - (b & 63)) & 63)))

    /* ---- floats ---- */
    CMP_F32(F32_EQ, a == b)
    CMP_F32(F32_NE, a != b)
    CMP_F32(F32_LT, a < b)
    CMP_F32(F32_GT, a > b)
    CMP_F32(F32_LE, a <= b)
    CMP_F32(F32_GE, a >= b)
    CMP_F64(F64_EQ, a == b)
    CMP_F64(F64_NE, a != b)
    CMP_F64(F64_LT, a < b)
    CMP_F64(F64_GT, a > b)
    CMP_F64(F64_LE, a <= b)
    CMP_F64(F64_GE, a >= b)

    VUN_I32(F32_ABS, a & 0x7fffffffu)
    VUN_I32(F32_NEG, a ^ 0x80000000u)
    UN_F32(F32_CEIL, f32_round(a, ceilf(a)))
    UN_F32(F32_FLOOR, f32_round(a, floorf(a)))
    UN_F32(F32_TRUNC, f32_round(a, truncf(a)))
    UN_F32(F32_NEAREST, f32_round(a, rintf(a)))
    VUN_F32(F32_SQRT, sqrtf(a))
    BIN_F32(F32_ADD, a + b)
    BIN_F32(F32_SUB, a - b)
    BIN_F32(F32_MUL, a * b)
    BIN_F32(F32_DIV, a / b)
    BIN_F32(F32_MIN, f32_min(a, b))
    BIN_F32(F32_MAX, f32_max(a, b))
L_F32_COPYSIGN:
    WU32(0, (RU32(1) & 0x7fffffffu) | (RU32(2) & 0x80000000u));
    SKIP(3);

    /* sign-bit operations on f64 values (fabs and negation change only
     * the sign bit, NaN payloads included), in the f64 accumulator */
    VUN_F64(F64_ABS, fabs(a))
    VUN_F64(F64_NEG, -a)
    UN_F64(F64_CEIL, f64_round(a, ceil(a)))
    UN_F64(F64_FLOOR, f64_round(a, floor(a)))
    UN_F64(F64_TRUNC, f64_round(a, trunc(a)))
    UN_F64(F64_NEAREST, f64_round(a, rint(a)))
    VUN_F64(F64_SQRT, sqrt(a))
    BIN_F64(F64_ADD, a + b)
    BIN_F64(F64_SUB, a - b)
    BIN_F64(F64_MUL, a * b)
    BIN_F64(F64_DIV, a / b)
    BIN_F64(F64_MIN, f64_min(a, b))
    BIN_F64(F64_MAX, f64_max(a, b))
L_F64_COPYSIGN:
    WU64(0, (RU64(1) & 0x7fffffffffffffffull) | (RU64(2) & 0x8000000000000000ull));
    SKIP(3);

    /* ---- conversions ---- */
    TRUNC(I32_TRUNC_F32_S, float, RF32, WU32, int32_t, x >= -2147483648.0f, 2147483648.0f)
    TRUNC(I32_TRUNC_F32_U, float, RF32, WU32, uint32_t, x > -1.0f, 4294967296.0f)
    TRUNC(I32_TRUNC_F64_S, double, RF64, WU32, int32_t, x > -2147483649.0, 2147483648.0)
    TRUNC(I32_TRUNC_F64_U, double, RF64, WU32, uint32_t, x > -1.0, 4294967296.0)
    TRUNC(I64_TRUNC_F32_S, float, RF32, WU64, int64_t, x >= -9223372036854775808.0f,
          9223372036854775808.0f)
    TRUNC(I64_TRUNC_F32_U, float, RF32, WU64, uint64_t, x > -1.0f, 18446744073709551616.0f)
    TRUNC(I64_TRUNC_F64_S, double, RF64, WU64, int64_t, x >= -9223372036854775808.0,
          9223372036854775808.0)
    TRUNC(I64_TRUNC_F64_U, double, RF64, WU64, uint64_t, x > -1.0, 18446744073709551616.0)
    VUN(I64_EXTEND_I32_S, 2, int32_t, RI32, AI32, uint64_t, WU64, AW64, r = (uint64_t)(int64_t)a)
    VUN(I64_EXTEND_I32_U, 2, uint32_t, RU32, A32, uint64_t, WU64, AW64, r = a)
    VUN(F32_CONVERT_I32_S, 2, int32_t, RI32, AI32, float, WF32, AWF32, r = (float)a)
    VUN(F32_CONVERT_I32_U, 2, uint32_t, RU32, A32, float, WF32, AWF32, r = (float)a)
L_F32_CONVERT_I64_S:
    WF32(0, (float)RI64(1));
    SKIP(2);
L_F32_CONVERT_I64_U:
    WF32(0, (float)RU64(1));
    SKIP(2);
    VUN(F32_DEMOTE_F64, 2, double, RF64, AF64, float, WF32, AWF32, r = (float)a)
    VUN(F64_CONVERT_I32_S, 2, int32_t, RI32, AI32, double, WF64, AWF64N, r = (double)a)
    VUN(F64_CONVERT_I32_U, 2, uint32_t, RU32, A32, double, WF64, AWF64N, r = (double)a)
    VUN(F64_CONVERT_I64_S, 2, int64_t, RI64, AI64, double, WF64, AWF64N, r = (double)a)
    VUN(F64_CONVERT_I64_U, 2, uint64_t, RU64, A64, double, WF64, AWF64N, r = (double)a)
    VUN(F64_PROMOTE_F32, 2, float, RF32, AF32, double, WF64, AWF64N, r = (double)a)
    VUN_I32(I32_EXTEND8_S, (uint32_t)(int32_t)(int8_t)a)
    VUN_I32(I32_EXTEND16_S, (uint32_t)(int32_t)(int16_t)a)
    VUN_I64(I64_EXTEND8_S, (uint64_t)(int64_t)(int8_t)a)
    VUN_I64(I64_EXTEND16_S, (uint64_t)(int64_t)(int16_t)a)
    VUN_I64(I64_EXTEND32_S, (uint64_t)(int64_t)(int32_t)a)
L_I32_TRUNC_SAT_F32_S:
    WU32(0, sat_i32_f64(RF32(1)));
    SKIP(2);
L_I32_TRUNC_SAT_F32_U:
    WU32(0, sat_u32_f64(RF32(1)));
    SKIP(2);
L_I32_TRUNC_SAT_F64_S:
    WU32(0, sat_i32_f64(RF64(1)));
    SKIP(2);
L_I32_TRUNC_SAT_F64_U:
    WU32(0, sat_u32_f64(RF64(1)));
    SKIP(2);
L_I64_TRUNC_SAT_F32_S:
    WU64(0, sat_i64_f64(RF32(1)));
    SKIP(2);
L_I64_TRUNC_SAT_F32_U:
    WU64(0, sat_u64_f64(RF32(1)));
    SKIP(2);
L_I64_TRUNC_SAT_F64_S:
    WU64(0, sat_i64_f64(RF64(1)));
    SKIP(2);
L_I64_TRUNC_SAT_F64_U:
    WU64(0, sat_u64_f64(RF64(1)));
    SKIP(2);

    /* ---- fused pairs ---- */
    WASM_FUSED_LIST(_, FUSED_HANDLER)

    /* ---- chains of additions, and pairs into calls and br_table ---- */
#define ADDK3_THEN(name) ADDK_THEN(P_ADDK3_##name, P_ADDK2_##name)
    ADDK3_THEN(BR_BACK)
    ADDK3_THEN(BR_IF_NZ_BACK)
    WASM_CMP_OPS(ADDK3_THEN, BRB)
    WASM_CMPK_OPS(ADDK3_THEN, BRB)
    /* the addition's result to its slot and the accumulator, then the
     * back-edge's _A variant (its tested operand is that slot) */
#define ADDKA_THEN(name, second) \
    L_##name: { \
        uint32_t v_ = RU32(1) + OP(2); \
        WU32(0, v_); \
        acc = v_; \
        ip += WASM_INSN_SIZE(3); \
        goto L_##second; \
    }
    /* P_ADDK<v><tail> into `second`, and the one and two additions
     * before it (P_ADDK2<v><tail>, P_ADDK3<v><tail>); v: A or B */
#define ADDKV_CHAIN(v, tail, second) \
    ADDKA_THEN(P_ADDK##v##tail, second) \
    ADDK_THEN(P_ADDK2##v##tail, P_ADDK##v##tail) \
    ADDK_THEN(P_ADDK3##v##tail, P_ADDK2##v##tail)
    ADDKV_CHAIN(A, _BR_IF_NZ_BACK, BR_IF_NZ_BACK_A)
#define ADDKA_BRB(s) ADDKV_CHAIN(A, _BRB_##s, BRB_##s##_A)
    WASM_CMP_OPS(ADDKA_BRB, IF_I32)
    WASM_CMPK_OPS(ADDKA_BRB, IF_I32)
#define ADDKB_BRB(s) ADDKV_CHAIN(B, _BRB_##s, BRB_##s##_B)
    WASM_CMP_OPS(ADDKB_BRB, IF_I32)
    ADDK_THEN(P_ADDK_LSK32_BR_TABLE, P_LSK32_BR_TABLE)
L_P_COPY_BR_BACK_LSK:
    lsk_v = RU32(1);
    SLOT(0) = SLOT(1);
    ip += WASM_INSN_SIZE(2);
    goto back_lsk;
L_P_ADDK2_BR_BACK_LSK:
    WU32(0, RU32(1) + OP(2));
    ip += WASM_INSN_SIZE(3);
    /* fall into the second addition */
L_P_ADDK_BR_BACK_LSK:
    lsk_v = RU32(1) + OP(2);
    WU32(0, lsk_v);
    ip += WASM_INSN_SIZE(3);
back_lsk:
    /* ip at the BR_BACK: spend its fuel unit (out of it, the BR_BACK is
     * the resume point and runs alone), then the head's P_ADDK_LSK32_BR_TABLE
     * with its source, the slot just written, from lsk_v */
    FUEL();
    ip += (int32_t)OP(0);
    WU32(0, lsk_v + OP(2));
    ip += WASM_INSN_SIZE(3);
    {
        uint64_t ea = (uint64_t)(uint32_t)((lsk_v << (OP(2) & 31)) + OP(3)) + OP(4);
        uint32_t v;
        if (UNLIKELY(ea + 4 > msize))
            goto trap_mem;
        memcpy(&v, mbase + ea, 4);
        acc = v;
        ip += WASM_INSN_SIZE(5);
        goto L_BR_TABLE_A;
    }
    ADDK_THEN(P_ADDK_CALL, CALL)
    ADDK_THEN(P_ADDK_CALL0, CALL0)
    ADDK_THEN(P_ADDK_CALL1Z, CALL1Z)
    ADDK_THEN(P_ADDK_CALL_A, CALL_A)
    ADDK_THEN(P_ADDK_CALL0_A, CALL0_A)
    ADDK_THEN(P_ADDK_CALL1Z_A, CALL1Z_A)
    ADDKA_THEN(P_ADDKA_CALL, CALL)
    ADDKA_THEN(P_ADDKA_CALL0, CALL0)
    ADDKA_THEN(P_ADDKA_CALL1Z, CALL1Z)

    /* ---- v128 ---- */
L_COPY_V128: {
        v128 v;
        VLD(1, v);
        VST(0, v);
        SKIP(2);
    }
L_SELECT_V128: {
        v128 v;
        if (RU32(3))
            VLD(1, v);
        else
            VLD(2, v);
        VST(0, v);
        SKIP(4);
    }
L_GLOBAL_GET_V128: {
        const th_wasm_global *g = inst->globals[OP(1)];
        SLOT(0) = g->val;
        fp[OP(0) + 1].bits = g->hi;
        SKIP(2);
    }
L_GLOBAL_SET_V128: {
        th_wasm_global *g = inst->globals[OP(0)];
        g->val = SLOT(1);
        g->hi = fp[OP(1) + 1].bits;
        SKIP(2);
    }
    WASM_SIMD_LIST(_, SIMD_HANDLER)

    /* ---- exits ---- */
out_of_fuel:
    frame->ip = ip;
    ex->top = frame;
    ex->acc = acc;
    SYNC_FUEL();
    return TH_WASM_OUT_OF_FUEL;

trap_mem:
    TRAP(TH_WASM_TRAP_MEMORY_OOB, "out of bounds memory access");
trap_table:
    TRAP(TH_WASM_TRAP_TABLE_OOB, "out of bounds table access");
trap_div:
    TRAP(TH_WASM_TRAP_DIV_ZERO, "integer divide by zero");
trap_ovf:
    TRAP(TH_WASM_TRAP_INT_OVERFLOW, "integer overflow");
trap:
    wasm_exec_set_trap(ex, tkind, "%s", tmsg);
trap_set:
    frame->ip = ip;
    ex->top = frame;
    SYNC_FUEL();
    return TH_WASM_TRAPPED;
}

const void *const *wasm_interp_labels(void)
{
    const void *const *labels;
    run(NULL, MODE_LABELS, &labels);
    return labels;
}

const uint8_t *wasm_interp_exit_code(void)
{
    const void *const *code;
    run(NULL, MODE_EXIT, &code);
    return (const uint8_t *)code;
}

int wasm_interp_run(th_wasm_exec *ex)
{
    return run(ex, MODE_RUN, NULL);
}
