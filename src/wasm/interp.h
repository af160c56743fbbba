/*
 * interp.h - the engine's internal code format, the interpreter and the
 * execution context, shared by compile.c (which writes the code), interp.c
 * (which runs it) and exec.c (which owns the stacks and the public
 * th_wasm_exec / th_wasm_call API).
 *
 * Internal code
 * -------------
 * Every defined function is translated once, at load, into direct-threaded
 * code.  An instruction is an 8-byte handler address (a computed-goto label
 * of the interpreter, see wasm_interp_labels) followed by 32-bit operands,
 * padded to a multiple of 8 bytes so handler addresses stay aligned:
 *
 *     offset 0   handler address (void *)
 *     offset 8   operand 0 (uint32), offset 12 operand 1, ...
 *
 * A few instructions carry a pointer (CALL: the callee's struct wasm_code)
 * at offset 8 in place of operands 0 and 1.  Branch operands are signed byte
 * offsets relative to the start of the branching instruction.
 *
 * Operands are frame slots, not a push/pop stack.  A frame is an array of
 * 8-byte slots (th_wasm_val) laid out as
 *
 *     [ params | declared locals | constants | operand temporaries ]
 *       0        nparam_slots      nlocal_slots  nlocal_slots+nconsts
 *
 * Every value of the validator's operand stack has a fixed temporary slot
 * (its height, counted in slots), but an operand may also be read directly
 * from a local or a constant slot: local.get and i32.const emit nothing.
 * A v128 value takes two consecutive slots (16 bytes, lane 0 first).
 * i32/f32 values live in the low four bytes of a slot; the upper bytes are
 * unspecified, so i32 readers use only the low half.
 *
 * Calls: the caller materializes the arguments in consecutive temporaries;
 * the callee's frame starts at the first argument (its params are already in
 * place) and it leaves its results in its slots 0.. , i.e. exactly where the
 * caller's operand stack expects them.  Frame records (return address, frame
 * pointer, code, instance) live in a separate array, so the interpreter
 * never recurses on the C stack for wasm-to-wasm calls; an execution can be
 * suspended and resumed later on any thread.
 *
 * Specialised forms cut the number of dispatches: comparisons fused with
 * the branch that consumes them, operators with an immediate operand
 * ("_K"), accumulator variants (below) and instruction pairs ("P_*": the
 * first instruction's handler also does the second one's work and jumps
 * straight into its handler).
 *
 * Code is per module and shared by every instance: it holds no instance
 * pointers (functions of the same module are referenced by their struct
 * wasm_code, everything else by index into the running instance).
 */
#ifndef THEATER_WASM_INTERP_H
#define THEATER_WASM_INTERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm_int.h"

/* The operation lists are laid out by hand, one group per line. */
/* clang-format off */
/* ------------------------------------------------------------------ */
/* Operations of the internal code.  Operand lists: d = destination slot,
 * a/b/c = source slots, off = memory offset, rel = branch offset.        */

#define WASM_CMP_OPS(X, P) \
    X(P##_EQ) X(P##_NE) X(P##_LT_S) X(P##_LT_U) X(P##_GT_S) X(P##_GT_U) \
    X(P##_LE_S) X(P##_LE_U) X(P##_GE_S) X(P##_GE_U)

/* The same with an immediate right operand ("_K"): a k (rel). */
#define WASM_CMPK_OPS(X, P) \
    X(P##_EQ_K) X(P##_NE_K) X(P##_LT_S_K) X(P##_LT_U_K) X(P##_GT_S_K) \
    X(P##_GT_U_K) X(P##_LE_S_K) X(P##_LE_U_K) X(P##_GE_S_K) X(P##_GE_U_K)

/* Binary operators with an immediate right operand: d a k (k is a signed
 * 32-bit immediate, sign-extended for i64; subtraction uses ADD_K). */
#define WASM_BINK_OPS(X, P) \
    X(P##_ADD_K) X(P##_MUL_K) X(P##_AND_K) X(P##_OR_K) X(P##_XOR_K) \
    X(P##_SHL_K) X(P##_SHR_S_K) X(P##_SHR_U_K) X(P##_ROTL_K) X(P##_ROTR_K)

/* The loads in the order of LOAD32..LOAD32_S64, and the stores. */
#define WASM_LOAD_OPS(X, P) \
    X(P##32) X(P##64) X(P##8_S32) X(P##8_U32) X(P##16_S32) X(P##16_U32) \
    X(P##8_S64) X(P##16_S64) X(P##32_S64)
#define WASM_STORE_OPS(X, P) X(P##8) X(P##16) X(P##32) X(P##64)

#define WASM_OP_LIST(X) \
    /* control */ \
    X(EXIT)             /* leave the interpreter (entry-frame return address) */ \
    X(UNREACHABLE)      /* trap */ \
    X(BR) X(BR_BACK)    /* rel; _BACK variants spend one fuel unit (loop back-edges) */ \
    X(BR_IF_NZ) X(BR_IF_NZ_BACK) X(BR_IF_Z) X(BR_IF_Z_BACK)  /* c rel (i32) */ \
    X(BR_IF_I64_NZ) X(BR_IF_I64_NZ_BACK) X(BR_IF_I64_Z) X(BR_IF_I64_Z_BACK) \
    WASM_CMP_OPS(X, BR_IF_I32) WASM_CMP_OPS(X, BR_IF_I64)     /* a b rel */ \
    WASM_CMP_OPS(X, BRB_IF_I32) WASM_CMP_OPS(X, BRB_IF_I64)   /* back-edge variants */ \
    WASM_CMPK_OPS(X, BR_IF_I32) WASM_CMPK_OPS(X, BRB_IF_I32)  /* a k rel */ \
    X(BR_TABLE)         /* c n rel[n+1] (last = default); spends one fuel unit */ \
    X(RET)              /* results already in slots 0.. */ \
    X(RET1)             /* a: slot 0 = a, then return */ \
    X(CALL)             /* code* argbase - entry*: function of the same module \
                         * (WASM_CALL_SIZE, below) */ \
    X(CALL0)            /* the same, the callee initialising no slot at entry */ \
    X(CALL1Z)           /* code* argbase s: the same, the callee initialising only its \
                         * slot s (its first declared local) to zero */ \
    X(CALL_A) X(CALL0_A) X(CALL1Z_A) /* CALL, CALL0, CALL1Z to a function whose \
                         * first instruction reads its first parameter from the \
                         * accumulator (wasm_code.entry_acc): it is loaded there */ \
    X(CALL_IMPORT)      /* funcidx argbase */ \
    X(CALL_INDIRECT)    /* typecanon table c argbase */ \
    /* data movement */ \
    /* pairs: the first instruction's work, then straight into the second's \
     * handler (which follows in the code, intact) without a dispatch */ \
    X(P_ADDK_ADDK) X(P_ADDK_BR_BACK) X(P_ADDK_BR_IF_NZ_BACK) \
    WASM_CMP_OPS(X, P_ADDK_BRB) WASM_CMPK_OPS(X, P_ADDK_BRB) \
    X(P_COPY_BR_BACK) X(P_COPY2_BR_BACK) X(P_COPY3_BR_BACK) X(P_COPY4_BR_BACK) \
    X(P_LSK32_BR_TABLE) /* LOADSK32 to the accumulator, then BR_TABLE_A */ \
    X(P_ADDK_RMW_MADD32) /* I32_ADD_K, then RMW_MADD32 */ \
    /* chains: an I32_ADD_K, then the pair P_ADDK_* that follows it (in the \
     * order of the pairs above) */ \
    X(P_ADDK2_BR_BACK) X(P_ADDK2_BR_IF_NZ_BACK) \
    WASM_CMP_OPS(X, P_ADDK2_BRB) WASM_CMPK_OPS(X, P_ADDK2_BRB) \
    /* an I32_ADD_K, then the chain P_ADDK2_* that follows it (three \
     * additions before a loop's back-edge) */ \
    X(P_ADDK3_BR_BACK) X(P_ADDK3_BR_IF_NZ_BACK) \
    WASM_CMP_OPS(X, P_ADDK3_BRB) WASM_CMPK_OPS(X, P_ADDK3_BRB) \
    /* the same pairs and chains when the conditional back-edge tests the \
     * value the last addition wrote: that value goes to the branch in the \
     * accumulator too (its _A variant), not through its slot, in the \
     * order of P_ADDK_BR_IF_NZ_BACK.. */ \
    X(P_ADDKA_BR_IF_NZ_BACK) WASM_CMP_OPS(X, P_ADDKA_BRB_IF_I32) \
    WASM_CMPK_OPS(X, P_ADDKA_BRB_IF_I32) \
    X(P_ADDK2A_BR_IF_NZ_BACK) WASM_CMP_OPS(X, P_ADDK2A_BRB_IF_I32) \
    WASM_CMPK_OPS(X, P_ADDK2A_BRB_IF_I32) \
    X(P_ADDK3A_BR_IF_NZ_BACK) WASM_CMP_OPS(X, P_ADDK3A_BRB_IF_I32) \
    WASM_CMPK_OPS(X, P_ADDK3A_BRB_IF_I32) \
    /* and when a comparison's second operand is that value (_B) */ \
    WASM_CMP_OPS(X, P_ADDKB_BRB_IF_I32) WASM_CMP_OPS(X, P_ADDK2B_BRB_IF_I32) \
    WASM_CMP_OPS(X, P_ADDK3B_BRB_IF_I32) \
    X(P_ADDK_LSK32_BR_TABLE) /* I32_ADD_K, then P_LSK32_BR_TABLE */ \
    X(P_ADDK_CALL) X(P_ADDK_CALL0) X(P_ADDK_CALL1Z) /* I32_ADD_K (the last \
                         * argument), then CALL / CALL0 / CALL1Z */ \
    X(P_ADDK_CALL_A) X(P_ADDK_CALL0_A) X(P_ADDK_CALL1Z_A) /* the same into CALL_A.. */ \
    X(P_ADDKA_CALL) X(P_ADDKA_CALL0) X(P_ADDKA_CALL1Z) /* the addition computes the \
                         * first argument of an entry_acc callee: its result to \
                         * the accumulator as well, then CALL / CALL0 / CALL1Z */ \
    X(P_ADD32_RET1) X(P_ADD64_RET1) X(P_EXTUADD64_RET1) /* I32_ADD / I64_ADD / \
                         * F_EXTU_ADD64 to the accumulator, then RET1_A */ \
    X(COPY)             /* d a */ \
    X(COPY2)            /* d1 a1 d2 a2: d1 = a1, then d2 = a2 */ \
    X(COPY3) X(COPY4)   /* three / four copies, in their order */ \
    X(SELECT)           /* d a b c: d = c ? a : b */ \
    X(GLOBAL_GET) X(GLOBAL_SET)       /* d idx / idx a */ \
    X(GLOBAL_SET32)     /* idx a: i32/f32 global, upper half cleared */ \
    /* memory: d addr off / addr value off */ \
    X(LOAD32) X(LOAD64) X(LOAD8_S32) X(LOAD8_U32) X(LOAD16_S32) X(LOAD16_U32) \
    X(LOAD8_S64) X(LOAD16_S64) X(LOAD32_S64) \
    X(STORE8) X(STORE16) X(STORE32) X(STORE64) \
    /* loads whose address is an i32.add of an immediate (wrapping): \
     * d addr k off, in the order of the loads above */ \
    X(LOADK32) X(LOADK64) X(LOADK8_S32) X(LOADK8_U32) X(LOADK16_S32) X(LOADK16_U32) \
    X(LOADK8_S64) X(LOADK16_S64) X(LOADK32_S64) \
    /* loads and stores whose address an instruction just computed (the \
     * address arithmetic wraps at 32 bits, then the offset is added): \
     * LOADX  d a b off      address a + b \
     * LOADSK d a s k off    address (a << s) + k \
     * LOADSX d a s b off    address (a << s) + b \
     * STOREK a k value off  address a + k \
     * STORESX a s b value off  address (a << s) + b */ \
    WASM_LOAD_OPS(X, LOADX) WASM_LOAD_OPS(X, LOADSK) WASM_LOAD_OPS(X, LOADSX) \
    WASM_STORE_OPS(X, STOREK) WASM_STORE_OPS(X, STORESX) \
    /* an operator with a source loaded from memory, the load's address \
     * (a + k, wrapping) + off: "d a k off b"; 1/2: the loaded value is \
     * the first / second source, b the other (a slot) */ \
    X(M_I32_ADD) X(M_F64_ADD1) X(M_F64_ADD2) X(M_F64_SUB1) X(M_F64_SUB2) \
    X(M_F64_MUL1) X(M_F64_MUL2) \
    /* read-modify-write: an M_* operator whose result is stored back where \
     * its load read (the same slot, no immediate, the same offset): \
     * "a off b", in the order of the M_* list */ \
    X(RMW_I32_ADD) X(RMW_F64_ADD1) X(RMW_F64_ADD2) X(RMW_F64_SUB1) X(RMW_F64_SUB2) \
    X(RMW_F64_MUL1) X(RMW_F64_MUL2) \
    /* the same with the accumulator the second operand: "a off", \
     * mem[a + off] = mem[a + off] OP acc (an f64 load, a computation into \
     * the accumulator, the operator, the store back) */ \
    X(RMWA_F64_ADD) X(RMWA_F64_SUB) X(RMWA_F64_MUL) \
    /* "p pk off q k off2 x": mem32[(p + pk, wrapping) + off] += \
     * mem32[(q + k, wrapping) + off2] * x (i32, wrapping): the load, load, \
     * multiply-add, store of a[i] += b[i] * x */ \
    X(RMW_MADD32) \
    X(STOREF64)         /* addr value off: STORE64 of an f64 (the _B variant \
                         * stores the f64 accumulator) */ \
    /* "d a k1 b k2 c k3": d = rotl(a, k1) ^ rotl(b, k2) ^ rotl(c, k3), and \
     * the same with c >> k3 (unsigned) last: SHA-256's sigma functions, \
     * three instructions that passed their values in the accumulator */ \
    X(T_ROTLK3_XOR) X(T_ROTLK2_SHRUK_XOR) \
    X(MEMORY_SIZE) X(MEMORY_GROW)      /* d / d a */ \
    X(MEMORY_INIT) X(DATA_DROP) X(MEMORY_COPY) X(MEMORY_FILL) \
    /* tables and references */ \
    X(TABLE_GET) X(TABLE_SET) X(TABLE_SIZE) X(TABLE_GROW) X(TABLE_FILL) \
    X(TABLE_COPY) X(TABLE_INIT) X(ELEM_DROP) X(REF_IS_NULL) X(REF_FUNC) \
    /* i32 */ \
    X(I32_EQZ) WASM_CMP_OPS(X, I32) \
    X(I32_CLZ) X(I32_CTZ) X(I32_POPCNT) X(I32_ADD) X(I32_SUB) X(I32_MUL) \
    X(I32_DIV_S) X(I32_DIV_U) X(I32_REM_S) X(I32_REM_U) X(I32_AND) X(I32_OR) \
    X(I32_XOR) X(I32_SHL) X(I32_SHR_S) X(I32_SHR_U) X(I32_ROTL) X(I32_ROTR) \
    WASM_CMPK_OPS(X, I32) WASM_BINK_OPS(X, I32) \
    /* i64 */ \
    X(I64_EQZ) WASM_CMP_OPS(X, I64) \
    X(I64_CLZ) X(I64_CTZ) X(I64_POPCNT) X(I64_ADD) X(I64_SUB) X(I64_MUL) \
    X(I64_DIV_S) X(I64_DIV_U) X(I64_REM_S) X(I64_REM_U) X(I64_AND) X(I64_OR) \
    X(I64_XOR) X(I64_SHL) X(I64_SHR_S) X(I64_SHR_U) X(I64_ROTL) X(I64_ROTR) \
    WASM_BINK_OPS(X, I64) \
    /* floats */ \
    X(F32_EQ) X(F32_NE) X(F32_LT) X(F32_GT) X(F32_LE) X(F32_GE) \
    X(F64_EQ) X(F64_NE) X(F64_LT) X(F64_GT) X(F64_LE) X(F64_GE) \
    X(F32_ABS) X(F32_NEG) X(F32_CEIL) X(F32_FLOOR) X(F32_TRUNC) X(F32_NEAREST) \
    X(F32_SQRT) X(F32_ADD) X(F32_SUB) X(F32_MUL) X(F32_DIV) X(F32_MIN) \
    X(F32_MAX) X(F32_COPYSIGN) \
    X(F64_ABS) X(F64_NEG) X(F64_CEIL) X(F64_FLOOR) X(F64_TRUNC) X(F64_NEAREST) \
    X(F64_SQRT) X(F64_ADD) X(F64_SUB) X(F64_MUL) X(F64_DIV) X(F64_MIN) \
    X(F64_MAX) X(F64_COPYSIGN) \
    /* conversions (wrap and reinterpretations need no code) */ \
    X(I32_TRUNC_F32_S) X(I32_TRUNC_F32_U) X(I32_TRUNC_F64_S) X(I32_TRUNC_F64_U) \
    X(I64_EXTEND_I32_S) X(I64_EXTEND_I32_U) \
    X(I64_TRUNC_F32_S) X(I64_TRUNC_F32_U) X(I64_TRUNC_F64_S) X(I64_TRUNC_F64_U) \
    X(F32_CONVERT_I32_S) X(F32_CONVERT_I32_U) X(F32_CONVERT_I64_S) \
    X(F32_CONVERT_I64_U) X(F32_DEMOTE_F64) \
    X(F64_CONVERT_I32_S) X(F64_CONVERT_I32_U) X(F64_CONVERT_I64_S) \
    X(F64_CONVERT_I64_U) X(F64_PROMOTE_F32) \
    X(I32_EXTEND8_S) X(I32_EXTEND16_S) \
    X(I64_EXTEND8_S) X(I64_EXTEND16_S) X(I64_EXTEND32_S) \
    X(I32_TRUNC_SAT_F32_S) X(I32_TRUNC_SAT_F32_U) X(I32_TRUNC_SAT_F64_S) \
    X(I32_TRUNC_SAT_F64_U) X(I64_TRUNC_SAT_F32_S) X(I64_TRUNC_SAT_F32_U) \
    X(I64_TRUNC_SAT_F64_S) X(I64_TRUNC_SAT_F64_U) \
    /* fused pairs (below) */ \
    WASM_FUSED_LIST(X, WASM_FUSED_NAME) \
    /* v128: moves (two slots) and the SIMD operations */ \
    X(COPY_V128)        /* d a: both slots */ \
    X(SELECT_V128)      /* d a b c */ \
    X(GLOBAL_GET_V128) X(GLOBAL_SET_V128) /* d idx / idx a */ \
    WASM_SIMD_LIST(X, WASM_SIMD_NAME)

/*
 * The SIMD operations: P(X, NAME, SHAPE, FN, N) with SHAPE the operand
 * layout and handler kind, FN the simd.h function (v128_FN), N a size.
 *   VUN d a          v128 -> v128            VBIN d a b   (v128, v128) -> v128
 *   VTER d a b c     bitselect               VSHIFT d a s (v128, i32) -> v128
 *   VTEST d a        v128 -> i32             SPLAT d a    scalar -> v128
 *   EXTRACT d a l    lane l -> scalar        REPLACE d a x l
 *   SHUFFLE d a b i0 i1 i2 i3   16 lane-index bytes in 4 operands
 *   VLOAD d addr off             N bytes at addr + off -> v128
 *   VLOAD_LANE d addr v off l    N bytes into lane l of v
 *   VSTORE addr v off            VSTORE_LANE addr v off l (N bytes of lane l)
 * Several wasm opcodes share one operation (f32x4.splat is i32x4.splat on
 * the same bits, and so on): compile_simd.c maps opcodes to these.
 */
#define WASM_SIMD_NAME(X, name, shape, fn, n) X(name)
#define WASM_FUSED_NAME(X, kind, name, x, y, pos, expr) X(name)
#define WASM_SIMD_LIST(X, P) \
    P(X, V128_LOAD, VLOAD, load, 16) \
    P(X, V128_LOAD8X8_S, VLOAD, load8x8_s, 8) P(X, V128_LOAD8X8_U, VLOAD, load8x8_u, 8) \
    P(X, V128_LOAD16X4_S, VLOAD, load16x4_s, 8) P(X, V128_LOAD16X4_U, VLOAD, load16x4_u, 8) \
    P(X, V128_LOAD32X2_S, VLOAD, load32x2_s, 8) P(X, V128_LOAD32X2_U, VLOAD, load32x2_u, 8) \
    P(X, V128_LOAD8_SPLAT, VLOAD, load8_splat, 1) P(X, V128_LOAD16_SPLAT, VLOAD, load16_splat, 2) \
    P(X, V128_LOAD32_SPLAT, VLOAD, load32_splat, 4) P(X, V128_LOAD64_SPLAT, VLOAD, load64_splat, 8) \
    P(X, V128_LOAD32_ZERO, VLOAD, load32_zero, 4) P(X, V128_LOAD64_ZERO, VLOAD, load64_zero, 8) \
    P(X, V128_STORE, VSTORE, store, 16) \
    P(X, V128_LOAD8_LANE, VLOAD_LANE, lane, 1) P(X, V128_LOAD16_LANE, VLOAD_LANE, lane, 2) \
    P(X, V128_LOAD32_LANE, VLOAD_LANE, lane, 4) P(X, V128_LOAD64_LANE, VLOAD_LANE, lane, 8) \
    P(X, V128_STORE8_LANE, VSTORE_LANE, lane, 1) P(X, V128_STORE16_LANE, VSTORE_LANE, lane, 2) \
    P(X, V128_STORE32_LANE, VSTORE_LANE, lane, 4) P(X, V128_STORE64_LANE, VSTORE_LANE, lane, 8) \
    P(X, I8X16_SHUFFLE, SHUFFLE, i8x16_shuffle, 0) \
    P(X, I8X16_SWIZZLE, VBIN, i8x16_swizzle, 0) \
    P(X, I8X16_SPLAT, SPLAT, i8x16_splat, 0) P(X, I16X8_SPLAT, SPLAT, i16x8_splat, 0) \
    P(X, I32X4_SPLAT, SPLAT, i32x4_splat, 0) P(X, I64X2_SPLAT, SPLAT, i64x2_splat, 0) \
    P(X, I8X16_EXTRACT_LANE_S, EXTRACT, i8x16_extract_lane_s, 0) \
    P(X, I8X16_EXTRACT_LANE_U, EXTRACT, i8x16_extract_lane_u, 0) \
    P(X, I16X8_EXTRACT_LANE_S, EXTRACT, i16x8_extract_lane_s, 0) \
    P(X, I16X8_EXTRACT_LANE_U, EXTRACT, i16x8_extract_lane_u, 0) \
    P(X, I32X4_EXTRACT_LANE, EXTRACT, i32x4_extract_lane, 0) \
    P(X, I64X2_EXTRACT_LANE, EXTRACT, i64x2_extract_lane, 0) \
    P(X, I8X16_REPLACE_LANE, REPLACE, i8x16_replace_lane, 0) \
    P(X, I16X8_REPLACE_LANE, REPLACE, i16x8_replace_lane, 0) \
    P(X, I32X4_REPLACE_LANE, REPLACE, i32x4_replace_lane, 0) \
    P(X, I64X2_REPLACE_LANE, REPLACE, i64x2_replace_lane, 0) \
    WASM_SIMD_ICMP_LIST(X, P, I8X16, i8x16) WASM_SIMD_ICMP_LIST(X, P, I16X8, i16x8) \
    WASM_SIMD_ICMP_LIST(X, P, I32X4, i32x4) \
    P(X, I64X2_EQ, VBIN, i64x2_eq, 0) P(X, I64X2_NE, VBIN, i64x2_ne, 0) \
    P(X, I64X2_LT_S, VBIN, i64x2_lt_s, 0) P(X, I64X2_GT_S, VBIN, i64x2_gt_s, 0) \
    P(X, I64X2_LE_S, VBIN, i64x2_le_s, 0) P(X, I64X2_GE_S, VBIN, i64x2_ge_s, 0) \
    WASM_SIMD_FCMP_LIST(X, P, F32X4, f32x4) WASM_SIMD_FCMP_LIST(X, P, F64X2, f64x2) \
    P(X, V128_NOT, VUN, v128_not, 0) P(X, V128_AND, VBIN, v128_and, 0) \
    P(X, V128_ANDNOT, VBIN, v128_andnot, 0) P(X, V128_OR, VBIN, v128_or, 0) \
    P(X, V128_XOR, VBIN, v128_xor, 0) P(X, V128_BITSELECT, VTER, v128_bitselect, 0) \
    P(X, V128_ANY_TRUE, VTEST, v128_any_true, 0) \
    P(X, F32X4_DEMOTE_F64X2_ZERO, VUN, f32x4_demote_f64x2_zero, 0) \
    P(X, F64X2_PROMOTE_LOW_F32X4, VUN, f64x2_promote_low_f32x4, 0) \
    P(X, I8X16_ABS, VUN, i8x16_abs, 0) P(X, I8X16_NEG, VUN, i8x16_neg, 0) \
    P(X, I8X16_POPCNT, VUN, i8x16_popcnt, 0) P(X, I8X16_ALL_TRUE, VTEST, i8x16_all_true, 0) \
    P(X, I8X16_BITMASK, VTEST, i8x16_bitmask, 0) \
    P(X, I8X16_NARROW_I16X8_S, VBIN, i8x16_narrow_i16x8_s, 0) \
    P(X, I8X16_NARROW_I16X8_U, VBIN, i8x16_narrow_i16x8_u, 0) \
    P(X, F32X4_CEIL, VUN, f32x4_ceil, 0) P(X, F32X4_FLOOR, VUN, f32x4_floor, 0) \
    P(X, F32X4_TRUNC, VUN, f32x4_trunc, 0) P(X, F32X4_NEAREST, VUN, f32x4_nearest, 0) \
    P(X, I8X16_SHL, VSHIFT, i8x16_shl, 0) P(X, I8X16_SHR_S, VSHIFT, i8x16_shr_s, 0) \
    P(X, I8X16_SHR_U, VSHIFT, i8x16_shr_u, 0) P(X, I8X16_ADD, VBIN, i8x16_add, 0) \
    P(X, I8X16_ADD_SAT_S, VBIN, i8x16_add_sat_s, 0) P(X, I8X16_ADD_SAT_U, VBIN, i8x16_add_sat_u, 0) \
    P(X, I8X16_SUB, VBIN, i8x16_sub, 0) \
    P(X, I8X16_SUB_SAT_S, VBIN, i8x16_sub_sat_s, 0) P(X, I8X16_SUB_SAT_U, VBIN, i8x16_sub_sat_u, 0) \
    P(X, F64X2_CEIL, VUN, f64x2_ceil, 0) P(X, F64X2_FLOOR, VUN, f64x2_floor, 0) \
    P(X, I8X16_MIN_S, VBIN, i8x16_min_s, 0) P(X, I8X16_MIN_U, VBIN, i8x16_min_u, 0) \
    P(X, I8X16_MAX_S, VBIN, i8x16_max_s, 0) P(X, I8X16_MAX_U, VBIN, i8x16_max_u, 0) \
    P(X, F64X2_TRUNC, VUN, f64x2_trunc, 0) P(X, I8X16_AVGR_U, VBIN, i8x16_avgr_u, 0) \
    P(X, I16X8_EXTADD_PAIRWISE_I8X16_S, VUN, i16x8_extadd_pairwise_i8x16_s, 0) \
    P(X, I16X8_EXTADD_PAIRWISE_I8X16_U, VUN, i16x8_extadd_pairwise_i8x16_u, 0) \
    P(X, I32X4_EXTADD_PAIRWISE_I16X8_S, VUN, i32x4_extadd_pairwise_i16x8_s, 0) \
    P(X, I32X4_EXTADD_PAIRWISE_I16X8_U, VUN, i32x4_extadd_pairwise_i16x8_u, 0) \
    P(X, I16X8_ABS, VUN, i16x8_abs, 0) P(X, I16X8_NEG, VUN, i16x8_neg, 0) \
    P(X, I16X8_Q15MULR_SAT_S, VBIN, i16x8_q15mulr_sat_s, 0) \
    P(X, I16X8_ALL_TRUE, VTEST, i16x8_all_true, 0) P(X, I16X8_BITMASK, VTEST, i16x8_bitmask, 0) \
    P(X, I16X8_NARROW_I32X4_S, VBIN, i16x8_narrow_i32x4_s, 0) \
    P(X, I16X8_NARROW_I32X4_U, VBIN, i16x8_narrow_i32x4_u, 0) \
    P(X, I16X8_EXTEND_LOW_I8X16_S, VUN, i16x8_extend_low_i8x16_s, 0) \
    P(X, I16X8_EXTEND_HIGH_I8X16_S, VUN, i16x8_extend_high_i8x16_s, 0) \
    P(X, I16X8_EXTEND_LOW_I8X16_U, VUN, i16x8_extend_low_i8x16_u, 0) \
    P(X, I16X8_EXTEND_HIGH_I8X16_U, VUN, i16x8_extend_high_i8x16_u, 0) \
    P(X, I16X8_SHL, VSHIFT, i16x8_shl, 0) P(X, I16X8_SHR_S, VSHIFT, i16x8_shr_s, 0) \
    P(X, I16X8_SHR_U, VSHIFT, i16x8_shr_u, 0) P(X, I16X8_ADD, VBIN, i16x8_add, 0) \
    P(X, I16X8_ADD_SAT_S, VBIN, i16x8_add_sat_s, 0) P(X, I16X8_ADD_SAT_U, VBIN, i16x8_add_sat_u, 0) \
    P(X, I16X8_SUB, VBIN, i16x8_sub, 0) \
    P(X, I16X8_SUB_SAT_S, VBIN, i16x8_sub_sat_s, 0) P(X, I16X8_SUB_SAT_U, VBIN, i16x8_sub_sat_u, 0) \
    P(X, F64X2_NEAREST, VUN, f64x2_nearest, 0) P(X, I16X8_MUL, VBIN, i16x8_mul, 0) \
    P(X, I16X8_MIN_S, VBIN, i16x8_min_s, 0) P(X, I16X8_MIN_U, VBIN, i16x8_min_u, 0) \
    P(X, I16X8_MAX_S, VBIN, i16x8_max_s, 0) P(X, I16X8_MAX_U, VBIN, i16x8_max_u, 0) \
    P(X, I16X8_AVGR_U, VBIN, i16x8_avgr_u, 0) \
    P(X, I16X8_EXTMUL_LOW_I8X16_S, VBIN, i16x8_extmul_low_i8x16_s, 0) \
    P(X, I16X8_EXTMUL_HIGH_I8X16_S, VBIN, i16x8_extmul_high_i8x16_s, 0) \
    P(X, I16X8_EXTMUL_LOW_I8X16_U, VBIN, i16x8_extmul_low_i8x16_u, 0) \
    P(X, I16X8_EXTMUL_HIGH_I8X16_U, VBIN, i16x8_extmul_high_i8x16_u, 0) \
    P(X, I32X4_ABS, VUN, i32x4_abs, 0) P(X, I32X4_NEG, VUN, i32x4_neg, 0) \
    P(X, I32X4_ALL_TRUE, VTEST, i32x4_all_true, 0) P(X, I32X4_BITMASK, VTEST, i32x4_bitmask, 0) \
    P(X, I32X4_EXTEND_LOW_I16X8_S, VUN, i32x4_extend_low_i16x8_s, 0) \
    P(X, I32X4_EXTEND_HIGH_I16X8_S, VUN, i32x4_extend_high_i16x8_s, 0) \
    P(X, I32X4_EXTEND_LOW_I16X8_U, VUN, i32x4_extend_low_i16x8_u, 0) \
    P(X, I32X4_EXTEND_HIGH_I16X8_U, VUN, i32x4_extend_high_i16x8_u, 0) \
    P(X, I32X4_SHL, VSHIFT, i32x4_shl, 0) P(X, I32X4_SHR_S, VSHIFT, i32x4_shr_s, 0) \
    P(X, I32X4_SHR_U, VSHIFT, i32x4_shr_u, 0) P(X, I32X4_ADD, VBIN, i32x4_add, 0) \
    P(X, I32X4_SUB, VBIN, i32x4_sub, 0) P(X, I32X4_MUL, VBIN, i32x4_mul, 0) \
    P(X, I32X4_MIN_S, VBIN, i32x4_min_s, 0) P(X, I32X4_MIN_U, VBIN, i32x4_min_u, 0) \
    P(X, I32X4_MAX_S, VBIN, i32x4_max_s, 0) P(X, I32X4_MAX_U, VBIN, i32x4_max_u, 0) \
    P(X, I32X4_DOT_I16X8_S, VBIN, i32x4_dot_i16x8_s, 0) \
    P(X, I32X4_EXTMUL_LOW_I16X8_S, VBIN, i32x4_extmul_low_i16x8_s, 0) \
    P(X, I32X4_EXTMUL_HIGH_I16X8_S, VBIN, i32x4_extmul_high_i16x8_s, 0) \
    P(X, I32X4_EXTMUL_LOW_I16X8_U, VBIN, i32x4_extmul_low_i16x8_u, 0) \
    P(X, I32X4_EXTMUL_HIGH_I16X8_U, VBIN, i32x4_extmul_high_i16x8_u, 0) \
    P(X, I64X2_ABS, VUN, i64x2_abs, 0) P(X, I64X2_NEG, VUN, i64x2_neg, 0) \
    P(X, I64X2_ALL_TRUE, VTEST, i64x2_all_true, 0) P(X, I64X2_BITMASK, VTEST, i64x2_bitmask, 0) \
    P(X, I64X2_EXTEND_LOW_I32X4_S, VUN, i64x2_extend_low_i32x4_s, 0) \
    P(X, I64X2_EXTEND_HIGH_I32X4_S, VUN, i64x2_extend_high_i32x4_s, 0) \
    P(X, I64X2_EXTEND_LOW_I32X4_U, VUN, i64x2_extend_low_i32x4_u, 0) \
    P(X, I64X2_EXTEND_HIGH_I32X4_U, VUN, i64x2_extend_high_i32x4_u, 0) \
    P(X, I64X2_SHL, VSHIFT, i64x2_shl, 0) P(X, I64X2_SHR_S, VSHIFT, i64x2_shr_s, 0) \
    P(X, I64X2_SHR_U, VSHIFT, i64x2_shr_u, 0) P(X, I64X2_ADD, VBIN, i64x2_add, 0) \
    P(X, I64X2_SUB, VBIN, i64x2_sub, 0) P(X, I64X2_MUL, VBIN, i64x2_mul, 0) \
    P(X, I64X2_EXTMUL_LOW_I32X4_S, VBIN, i64x2_extmul_low_i32x4_s, 0) \
    P(X, I64X2_EXTMUL_HIGH_I32X4_S, VBIN, i64x2_extmul_high_i32x4_s, 0) \
    P(X, I64X2_EXTMUL_LOW_I32X4_U, VBIN, i64x2_extmul_low_i32x4_u, 0) \
    P(X, I64X2_EXTMUL_HIGH_I32X4_U, VBIN, i64x2_extmul_high_i32x4_u, 0) \
    WASM_SIMD_FARITH_LIST(X, P, F32X4, f32x4) WASM_SIMD_FARITH_LIST(X, P, F64X2, f64x2) \
    P(X, I32X4_TRUNC_SAT_F32X4_S, VUN, i32x4_trunc_sat_f32x4_s, 0) \
    P(X, I32X4_TRUNC_SAT_F32X4_U, VUN, i32x4_trunc_sat_f32x4_u, 0) \
    P(X, F32X4_CONVERT_I32X4_S, VUN, f32x4_convert_i32x4_s, 0) \
    P(X, F32X4_CONVERT_I32X4_U, VUN, f32x4_convert_i32x4_u, 0) \
    P(X, I32X4_TRUNC_SAT_F64X2_S_ZERO, VUN, i32x4_trunc_sat_f64x2_s_zero, 0) \
    P(X, I32X4_TRUNC_SAT_F64X2_U_ZERO, VUN, i32x4_trunc_sat_f64x2_u_zero, 0) \
    P(X, F64X2_CONVERT_LOW_I32X4_S, VUN, f64x2_convert_low_i32x4_s, 0) \
    P(X, F64X2_CONVERT_LOW_I32X4_U, VUN, f64x2_convert_low_i32x4_u, 0)
#define WASM_SIMD_ICMP_LIST(X, P, S, s) \
    P(X, S##_EQ, VBIN, s##_eq, 0) P(X, S##_NE, VBIN, s##_ne, 0) \
    P(X, S##_LT_S, VBIN, s##_lt_s, 0) P(X, S##_LT_U, VBIN, s##_lt_u, 0) \
    P(X, S##_GT_S, VBIN, s##_gt_s, 0) P(X, S##_GT_U, VBIN, s##_gt_u, 0) \
    P(X, S##_LE_S, VBIN, s##_le_s, 0) P(X, S##_LE_U, VBIN, s##_le_u, 0) \
    P(X, S##_GE_S, VBIN, s##_ge_s, 0) P(X, S##_GE_U, VBIN, s##_ge_u, 0)
#define WASM_SIMD_FCMP_LIST(X, P, S, s) \
    P(X, S##_EQ, VBIN, s##_eq, 0) P(X, S##_NE, VBIN, s##_ne, 0) \
    P(X, S##_LT, VBIN, s##_lt, 0) P(X, S##_GT, VBIN, s##_gt, 0) \
    P(X, S##_LE, VBIN, s##_le, 0) P(X, S##_GE, VBIN, s##_ge, 0)
#define WASM_SIMD_FARITH_LIST(X, P, S, s) \
    P(X, S##_ABS, VUN, s##_abs, 0) P(X, S##_NEG, VUN, s##_neg, 0) \
    P(X, S##_SQRT, VUN, s##_sqrt, 0) P(X, S##_ADD, VBIN, s##_add, 0) \
    P(X, S##_SUB, VBIN, s##_sub, 0) P(X, S##_MUL, VBIN, s##_mul, 0) \
    P(X, S##_DIV, VBIN, s##_div, 0) P(X, S##_MIN, VBIN, s##_min, 0) \
    P(X, S##_MAX, VBIN, s##_max, 0) P(X, S##_PMIN, VBIN, s##_pmin, 0) \
    P(X, S##_PMAX, VBIN, s##_pmax, 0)

/*
 * Fused pairs: F(X, KIND, NAME, XOP, YOP, POS, EXPR) is one instruction doing
 * operation XOP and then operation YOP on its result (which nothing else
 * reads), EXPR computing the result r from a, b / k (X's operands) and c
 * (Y's other operand).  POS: X's result is Y's first (1) or second (2)
 * source, 0 for either (Y commutative).  Kinds and operands:
 *   KB     d a k c   i32: X with an immediate k, Y with a slot c (the _B
 *                    variants read c from the accumulator instead)
 *   KK     d a k c   i32: both with immediates (c is one)
 *   BB32   d a b c   i32: slots only
 *   UX64   d a 0 c   an i32 a extended to i64, then combined with an i64 c
 *                    (a slot, or the accumulator in the _B variants)
 *   BBF64  d a b c   f64: slots only (two roundings, never a fused
 *                    multiply-add: the engine is built with -ffp-contract=off;
 *                    operands in the order of the two instructions, so NaN
 *                    payloads are those the unfused pair gives)
 */
#define WASM_FUSED_LIST(X, F) \
    F(X, KB, F_ADDK_ADD, I32_ADD_K, I32_ADD, 0, (a + k) + c) F(X, KB, F_ADDK_AND, I32_ADD_K, I32_AND, 0, (a + k) & c) \
    F(X, KB, F_ADDK_OR, I32_ADD_K, I32_OR, 0, (a + k) | c) F(X, KB, F_ADDK_XOR, I32_ADD_K, I32_XOR, 0, (a + k) ^ c) \
    F(X, KB, F_ANDK_ADD, I32_AND_K, I32_ADD, 0, (a & k) + c) F(X, KB, F_ANDK_AND, I32_AND_K, I32_AND, 0, (a & k) & c) \
    F(X, KB, F_ANDK_OR, I32_AND_K, I32_OR, 0, (a & k) | c) F(X, KB, F_ANDK_XOR, I32_AND_K, I32_XOR, 0, (a & k) ^ c) \
    F(X, KB, F_SHLK_ADD, I32_SHL_K, I32_ADD, 0, (a << (k & 31)) + c) F(X, KB, F_SHLK_AND, I32_SHL_K, I32_AND, 0, (a << (k & 31)) & c) \
    F(X, KB, F_SHLK_OR, I32_SHL_K, I32_OR, 0, (a << (k & 31)) | c) F(X, KB, F_SHLK_XOR, I32_SHL_K, I32_XOR, 0, (a << (k & 31)) ^ c) \
    F(X, KB, F_SHRUK_ADD, I32_SHR_U_K, I32_ADD, 0, (a >> (k & 31)) + c) F(X, KB, F_SHRUK_AND, I32_SHR_U_K, I32_AND, 0, (a >> (k & 31)) & c) \
    F(X, KB, F_SHRUK_OR, I32_SHR_U_K, I32_OR, 0, (a >> (k & 31)) | c) F(X, KB, F_SHRUK_XOR, I32_SHR_U_K, I32_XOR, 0, (a >> (k & 31)) ^ c) \
    F(X, KB, F_ROTLK_ADD, I32_ROTL_K, I32_ADD, 0, (ROTL32(a, k)) + c) F(X, KB, F_ROTLK_AND, I32_ROTL_K, I32_AND, 0, (ROTL32(a, k)) & c) \
    F(X, KB, F_ROTLK_OR, I32_ROTL_K, I32_OR, 0, (ROTL32(a, k)) | c) F(X, KB, F_ROTLK_XOR, I32_ROTL_K, I32_XOR, 0, (ROTL32(a, k)) ^ c) \
    F(X, KB, F_ROTRK_ADD, I32_ROTR_K, I32_ADD, 0, (ROTR32(a, k)) + c) F(X, KB, F_ROTRK_AND, I32_ROTR_K, I32_AND, 0, (ROTR32(a, k)) & c) \
    F(X, KB, F_ROTRK_OR, I32_ROTR_K, I32_OR, 0, (ROTR32(a, k)) | c) F(X, KB, F_ROTRK_XOR, I32_ROTR_K, I32_XOR, 0, (ROTR32(a, k)) ^ c) \
    F(X, UX64, F_EXTU_ADD64, I64_EXTEND_I32_U, I64_ADD, 0, (uint64_t)a + c) \
    F(X, UX64, F_EXTS_ADD64, I64_EXTEND_I32_S, I64_ADD, 0, (uint64_t)(int64_t)(int32_t)a + c) \
    F(X, KK, F_SHLK_ADDK, I32_SHL_K, I32_ADD_K, 0, (a << (k & 31)) + c) \
    F(X, KK, F_SHRUK_ANDK, I32_SHR_U_K, I32_AND_K, 0, (a >> (k & 31)) & c) \
    F(X, KK, F_ADDK_SHLK, I32_ADD_K, I32_SHL_K, 0, (a + k) << (c & 31)) \
    F(X, BB32, F_MUL_ADD, I32_MUL, I32_ADD, 0, a * b + c) F(X, BB32, F_ADD_ADD, I32_ADD, I32_ADD, 0, a + b + c) \
    F(X, BB32, F_XOR_XOR, I32_XOR, I32_XOR, 0, a ^ b ^ c) F(X, BB32, F_AND_XOR, I32_AND, I32_XOR, 0, (a & b) ^ c) \
    F(X, BB32, F_XOR_AND, I32_XOR, I32_AND, 0, (a ^ b) & c) \
    F(X, BBF64, F_FMUL_FADD1, F64_MUL, F64_ADD, 1, a * b + c) F(X, BBF64, F_FMUL_FADD2, F64_MUL, F64_ADD, 2, c + a * b) \
    F(X, BBF64, F_FMUL_FSUB1, F64_MUL, F64_SUB, 1, a * b - c) F(X, BBF64, F_FMUL_FSUB2, F64_MUL, F64_SUB, 2, c - a * b) \
    F(X, BBF64, F_FMUL_FMUL1, F64_MUL, F64_MUL, 1, a * b * c) F(X, BBF64, F_FMUL_FMUL2, F64_MUL, F64_MUL, 2, c * (a * b)) \
    F(X, BBF64, F_FSUB_FMUL1, F64_SUB, F64_MUL, 1, (a - b) * c) F(X, BBF64, F_FSUB_FMUL2, F64_SUB, F64_MUL, 2, c * (a - b)) \
    F(X, BBF64, F_FADD_FMUL1, F64_ADD, F64_MUL, 1, (a + b) * c) F(X, BBF64, F_FADD_FMUL2, F64_ADD, F64_MUL, 2, c * (a + b))

/* clang-format on */

#define WASM_OP_ENUM(name) WOP_##name,
enum wasm_op { WASM_OP_LIST(WASM_OP_ENUM) WOP_COUNT_ };
#undef WASM_OP_ENUM

/*
 * Accumulator variants.  Many operations also exist in variants that take
 * a source from, or leave the result in, the interpreter's accumulator (a
 * machine register) instead of a frame slot, used when an instruction
 * consumes the value its predecessor just produced.  A variant has the same
 * operand layout as its base operation (the accumulator's slot operand is
 * simply not read).  wasm_interp_labels() is indexed by
 * op * WASM_NVARIANTS + variant and holds NULL where a variant does not
 * exist.  Back-edge branches and BR_TABLE, which spend fuel, may be where
 * an execution resumes: the exec keeps the accumulator while out of fuel
 * (th_wasm_exec.acc), so they have accumulator variants too.  Calls have
 * none.
 */
#define WASM_NVARIANTS 6
enum wasm_variant {
    WV_BASE = 0, /* slots only */
    WV_R = 1,    /* result to the accumulator */
    WV_A = 2,    /* first source from the accumulator */
    WV_B = 4,    /* second source from the accumulator (A|R and B|R combine) */
};

/* Operand access inside an instruction at `ip` (const uint8_t *). */
#define WASM_OPND(ip, k) (((const uint32_t *)(const void *)((ip) + 8))[k])
#define WASM_OPND_PTR(ip) (*(void *const *)(const void *)((ip) + 8))
/* CALL, CALL0, CALL1Z: "code* argbase s entry*", 32 bytes: the callee's
 * record, the first argument's slot, the slot CALL1Z zeroes and the
 * callee's code (its first instruction), at byte WASM_CALL_CODE_OFF. */
#define WASM_CALL_SIZE WASM_INSN_SIZE(6)
#define WASM_CALL_CODE_OFF 24

/* Size in bytes of an instruction with `n` 32-bit operands. */
#define WASM_INSN_SIZE(n) (8u + (((n)*4u + 7u) & ~7u))

/* ------------------------------------------------------------------ */
/* Translated function                                                */

struct wasm_code {
    uint8_t *code; /* threaded code (8-aligned); entry at offset 0 */
    size_t code_len;
    th_wasm_val *init;     /* ninit slots copied to fp[nparam_slots..] at
                              entry: zeros for the locals, then constants */
    uint32_t nparam_slots; /* slots of the parameters */
    uint32_t nlocal_slots; /* params + declared locals */
    uint32_t ninit;        /* declared-local slots + constant slots */
    uint32_t frame_slots;  /* whole frame: locals, constants, temporaries */
    uint32_t nresult_slots;
    uint32_t func_idx;         /* index in the module's function space */
    bool entry_acc;            /* its first instruction reads its first parameter
                                  (i32/i64, slot 0) from the accumulator: whatever
                                  enters it loads fp[0] there first */
    const th_wasm_module *mod; /* for names in backtraces (not a reference) */
    const wasm_functype *type;
};

/* ------------------------------------------------------------------ */
/* Execution context                                                  */

/* One activation.  For a wasm frame `ip` is its return address while a
 * callee runs (or the resume point once suspended); entry frames (code ==
 * NULL) mark where th_wasm_exec_call / th_wasm_call_invoke started, their
 * `ip` points at an EXIT instruction. */
struct wasm_frame {
    const uint8_t *ip;
    th_wasm_val *fp;
    const struct wasm_code *code; /* NULL for entry frames */
    th_wasm_instance *inst;
};

enum wasm_exec_state {
    WASM_EXEC_IDLE = 0,
    WASM_EXEC_RUNNING,
    WASM_EXEC_SUSPENDED, /* a host function returned TH_WASM_SUSPENDED */
    WASM_EXEC_OUT_OF_FUEL,
};

#define WASM_TRAP_MSG_MAX 256

/* Why the stacks could not grow (th_wasm_exec.exhausted). */
enum { WASM_EXHAUSTED_BYTES = 0, WASM_EXHAUSTED_DEPTH };

struct th_wasm_exec {
    th_wasm_val *stack;     /* value stack (grows; frames' fp are rebased) */
    th_wasm_val *stack_end; /* stack + capacity */
    struct wasm_frame *frames, *frames_end;
    struct wasm_frame *top; /* current frame (valid when not running) */
    /* The limit: the capacities of both stacks together, in bytes (value
     * slots and frame records); and optionally a frame count. */
    size_t max_bytes;
    uint32_t max_frames; /* frame records (UINT32_MAX: bytes only) */
    uint8_t exhausted;   /* WASM_EXHAUSTED_*: which limit the last growth hit */
    bool keep_stacks;    /* idle: keep stacks of their initial size (pooled execs) */

    uint64_t fuel; /* remaining fuel when fuel_limited */
    uint64_t acc;  /* the interpreter's accumulator while out of fuel */
    bool fuel_limited;
    uint8_t state;   /* enum wasm_exec_state */
    uint32_t nested; /* th_wasm_call_invoke depth */

    /* the outermost call */
    th_wasm_func *entry_fn;
    bool pending_entry; /* out of fuel before the entry function began */
    bool host_entry;    /* entry_fn is a host function that suspended */
    /* suspension at a host call: where its results go */
    size_t susp_slot; /* index into stack */
    uint32_t susp_nresults;

    /* last trap */
    th_wasm_trap_kind trap_kind;
    char trap_msg[WASM_TRAP_MSG_MAX];
    char *backtrace; /* owned, "" if none */

    void *user;
};

/* The context a host function receives. */
struct th_wasm_call {
    th_wasm_exec *ex;
    th_wasm_instance *inst; /* caller's instance (NULL at top level) */
    size_t stack_top;       /* first free stack slot for nested calls */
    bool trap_set;          /* th_wasm_call_trap was used */
};

/* ------------------------------------------------------------------ */
/* interp.c                                                           */

/* Handler addresses, indexed by op * WASM_NVARIANTS + variant (NULL for
 * variants that do not exist).  Static. */
const void *const *wasm_interp_labels(void);

/* Code of a single EXIT instruction (return address of entry frames). */
const uint8_t *wasm_interp_exit_code(void);

/* Run the exec from its current frame (ex->top, whose ip is the resume
 * point) until the innermost entry frame is reached (TH_OK, ex->top = that
 * entry frame), a host function suspends (TH_WASM_SUSPENDED), fuel runs
 * out (TH_WASM_OUT_OF_FUEL) or a trap (TH_WASM_TRAPPED; ex->top is the
 * frame that trapped, ex->trap_* are set).  ex->state is not changed. */
int wasm_interp_run(th_wasm_exec *ex);

/* Call host function `f` with its arguments at stack index `argslot`;
 * its results replace them.  `caller` is the calling instance (or NULL);
 * nested calls the host makes start at stack index `stack_top`.
 * Returns TH_OK, TH_WASM_SUSPENDED (ex->susp_* set) or TH_WASM_TRAPPED
 * (ex->trap_* set). */
int wasm_interp_call_host(th_wasm_exec *ex, th_wasm_func *f, th_wasm_instance *caller,
                          size_t argslot, size_t stack_top);

/* Slots taken by n values of `types` (v128: two each). */
static inline uint32_t wasm_slot_count(const uint8_t *types, uint32_t n)
{
    uint32_t slots = 0;
    for (uint32_t i = 0; i < n; i++)
        slots += types[i] == TH_WASM_V128 ? 2 : 1;
    return slots;
}

/* Normalize n values of `types` laid out in slots (v128 untouched). */
static inline void wasm_vals_normalize(th_wasm_val *slots, const uint8_t *types, uint32_t n);

/* Zero the upper half of an i32/f32 value, so values handed to the
 * embedder are clean whatever the slot held. */
static inline void wasm_val_normalize(th_wasm_val *v, uint8_t type)
{
    if (type == TH_WASM_I32 || type == TH_WASM_F32)
        v->bits &= 0xffffffffu;
}

static inline void wasm_vals_normalize(th_wasm_val *slots, const uint8_t *types, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        wasm_val_normalize(slots, types[i]);
        slots += types[i] == TH_WASM_V128 ? 2 : 1;
    }
}

/* ------------------------------------------------------------------ */
/* exec.c                                                             */

/* Make room for `slots` more slots above stack index `from` (grows the
 * value stack, rebasing every frame's fp).  Returns 0, 1 when the stack
 * limit would be exceeded, or TH_ENOMEM when memory is short. */
int wasm_exec_reserve(th_wasm_exec *ex, size_t from, size_t slots);

/* Make room for one more frame record above ex->top (which must be set).
 * Returns 0, 1 at the call-depth or stack byte limit, or TH_ENOMEM. */
int wasm_exec_reserve_frame(th_wasm_exec *ex);

/* Both of the above; returns the first failure. */
int wasm_exec_grow(th_wasm_exec *ex, size_t from, size_t slots);

/* Set the trap for a growth failure `rc`: TH_WASM_TRAP_OOM when memory
 * ran short (rc < 0), else "call stack exhausted" naming the limit that
 * was hit (ex->exhausted) and how to raise it. */
void wasm_exec_stack_trap(th_wasm_exec *ex, int rc);

/* Set the trap kind and message (printf-style) of the exec. */
void wasm_exec_set_trap(th_wasm_exec *ex, th_wasm_trap_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
