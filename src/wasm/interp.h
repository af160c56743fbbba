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
 * A v128 value (not implemented yet) would take two consecutive slots.
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
    X(CALL)             /* code* argbase: function of the same module */ \
    X(CALL_IMPORT)      /* funcidx argbase */ \
    X(CALL_INDIRECT)    /* typecanon table c argbase */ \
    /* data movement */ \
    /* pairs: the first instruction's work, then straight into the second's \
     * handler (which follows in the code, intact) without a dispatch */ \
    X(P_ADDK_ADDK) X(P_ADDK_BR_BACK) X(P_ADDK_BR_IF_NZ_BACK) \
    WASM_CMP_OPS(X, P_ADDK_BRB) WASM_CMPK_OPS(X, P_ADDK_BRB) \
    X(P_COPY_BR_BACK) X(P_COPY2_BR_BACK) \
    X(COPY)             /* d a */ \
    X(COPY2)            /* d1 a1 d2 a2: d1 = a1, then d2 = a2 */ \
    X(SELECT)           /* d a b c: d = c ? a : b */ \
    X(GLOBAL_GET) X(GLOBAL_SET)       /* d idx / idx a */ \
    X(GLOBAL_SET32)     /* idx a: i32/f32 global, upper half cleared */ \
    /* memory: d addr off / addr value off */ \
    X(LOAD32) X(LOAD64) X(LOAD8_S32) X(LOAD8_U32) X(LOAD16_S32) X(LOAD16_U32) \
    X(LOAD8_S64) X(LOAD16_S64) X(LOAD32_S64) \
    X(STORE8) X(STORE16) X(STORE32) X(STORE64) \
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
    X(I64_TRUNC_SAT_F64_S) X(I64_TRUNC_SAT_F64_U)

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
 * exist.  Variants never span a possible resume point: back-edge branches,
 * calls and BR_TABLE have none.
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

/* Size in bytes of an instruction with `n` 32-bit operands. */
#define WASM_INSN_SIZE(n) (8u + (((n) * 4u + 7u) & ~7u))

/* ------------------------------------------------------------------ */
/* Translated function                                                */

struct wasm_code {
    uint8_t *code;           /* threaded code (8-aligned); entry at offset 0 */
    size_t code_len;
    th_wasm_val *init;       /* ninit slots copied to fp[nparam_slots..] at
                                entry: zeros for the locals, then constants */
    uint32_t nparam_slots;   /* slots of the parameters */
    uint32_t nlocal_slots;   /* params + declared locals */
    uint32_t ninit;          /* declared-local slots + constant slots */
    uint32_t frame_slots;    /* whole frame: locals, constants, temporaries */
    uint32_t nresult_slots;
    uint32_t func_idx;       /* index in the module's function space */
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
    WASM_EXEC_SUSPENDED,   /* a host function returned TH_WASM_SUSPENDED */
    WASM_EXEC_OUT_OF_FUEL,
};

#define WASM_TRAP_MSG_MAX 256

struct th_wasm_exec {
    th_wasm_val *stack;      /* value stack (grows; frames' fp are rebased) */
    th_wasm_val *stack_end;  /* stack + capacity */
    size_t max_slots;        /* limit from max_stack_bytes */
    struct wasm_frame *frames, *frames_end;
    struct wasm_frame *top;  /* current frame (valid when not running) */
    uint32_t max_frames;     /* call-depth limit (frame records) */

    uint64_t fuel;           /* remaining fuel when fuel_limited */
    bool fuel_limited;
    uint8_t state;           /* enum wasm_exec_state */
    uint32_t nested;         /* th_wasm_call_invoke depth */

    /* the outermost call */
    th_wasm_func *entry_fn;
    bool pending_entry;      /* out of fuel before the entry function began */
    bool host_entry;         /* entry_fn is a host function that suspended */
    /* suspension at a host call: where its results go */
    size_t susp_slot;        /* index into stack */
    uint32_t susp_nresults;

    /* last trap */
    th_wasm_trap_kind trap_kind;
    char trap_msg[WASM_TRAP_MSG_MAX];
    char *backtrace;         /* owned, "" if none */

    void *user;
};

/* The context a host function receives. */
struct th_wasm_call {
    th_wasm_exec *ex;
    th_wasm_instance *inst;  /* caller's instance (NULL at top level) */
    size_t stack_top;        /* first free stack slot for nested calls */
    bool trap_set;           /* th_wasm_call_trap was used */
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
int wasm_interp_call_host(th_wasm_exec *ex, th_wasm_func *f,
                          th_wasm_instance *caller, size_t argslot,
                          size_t stack_top);

/* Zero the upper half of an i32/f32 value, so values handed to the
 * embedder are clean whatever the slot held. */
static inline void wasm_val_normalize(th_wasm_val *v, uint8_t type)
{
    if (type == TH_WASM_I32 || type == TH_WASM_F32)
        v->bits &= 0xffffffffu;
}

/* ------------------------------------------------------------------ */
/* exec.c                                                             */

/* Make room for `slots` more slots above stack index `from` (grows the
 * value stack, rebasing every frame's fp).  Returns 0, 1 when the stack
 * limit would be exceeded, or TH_ENOMEM when memory is short. */
int wasm_exec_reserve(th_wasm_exec *ex, size_t from, size_t slots);

/* Make room for one more frame record above ex->top (which must be set).
 * Returns 0, 1 at the call-depth limit, or TH_ENOMEM. */
int wasm_exec_reserve_frame(th_wasm_exec *ex);

/* Both of the above; returns the first failure. */
int wasm_exec_grow(th_wasm_exec *ex, size_t from, size_t slots);

/* Set the trap for a wasm_exec_grow failure `rc`: the call-depth/stack
 * limit, or TH_WASM_TRAP_OOM. */
void wasm_exec_stack_trap(th_wasm_exec *ex, int rc);

/* Set the trap kind and message (printf-style) of the exec. */
void wasm_exec_set_trap(th_wasm_exec *ex, th_wasm_trap_kind kind,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
