/*
 * compile.h - private interface between the two halves of the translator:
 * compile.c (operand and control stacks, code emission, branches, control
 * and call instructions, the per-function driver) and compile_ops.c (the
 * other instructions: variables, references, memory, tables, constants,
 * numeric operators).  The design is described at the top of compile.c.
 */
#ifndef THEATER_WASM_COMPILE_H
#define THEATER_WASM_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/interp.h"

#define VT_UNKNOWN 0 /* the polymorphic bottom type */

enum { LOC_OWN, LOC_LOCAL, LOC_CONST };

#define TAG_TEMP 0x80000000u
#define TAG_CONST 0x40000000u
#define TAG_MASK 0x3fffffffu
#define MAX_FRAME_SLOTS 0x30000000u
#define NO_POS ((size_t)-1)
#define NO_FIX UINT32_MAX

enum { K_FUNC = 0, K_BLOCK = 0x02, K_LOOP = 0x03, K_IF = 0x04, K_ELSE = 0x05 };

/* An operand of the validator's stack and where its value lives. */
typedef struct vent {
    uint64_t cval; /* LOC_CONST: the bits */
    uint32_t t;    /* own temporary (slots above the constants) */
    uint32_t idx;  /* LOC_LOCAL: local index */
    uint8_t type;
    uint8_t loc;
} vent;

/* A forward branch waiting for its label: the rel field at `field`,
 * relative to the instruction at `insn`. */
typedef struct fixup {
    size_t field, insn;
    uint32_t next;
} fixup;

typedef struct ctrl {
    uint8_t kind;
    bool unreachable;
    bool dead;       /* began inside unreachable code: emit nothing */
    uint32_t height; /* operand stack height below the params */
    uint32_t base_t; /* own slot of the first param / result */
    uint32_t nparams, nresults;
    const uint8_t *params, *results;
    size_t loop_pos;              /* K_LOOP: code offset of the loop head */
    size_t else_field, else_insn; /* K_IF: branch to the else arm */
    uint32_t fix;                 /* forward branches to the end */
} ctrl;

/* A choice of accumulator variant for an instruction reading the value
 * its predecessor produced: the predecessor (at undo_pos, op undo_op) was
 * switched from variant undo_variant to write the accumulator. */
typedef struct accpick {
    uint8_t variant; /* WV_A or WV_B, 0 if no source comes from acc */
    bool undo;       /* a predecessor was switched (can be switched back) */
    uint8_t undo_variant;
    int undo_op;
    size_t undo_pos;
    bool entry; /* the source is the first parameter, which is in the
                   accumulator at the function's entry (the instruction
                   must be the function's first: C->entry_pick) */
} accpick;

/* The last emitted instruction, if it produced the value on top. */
typedef struct lastinsn {
    bool valid;
    size_t start, dst_pos, nrelocs;
    uint32_t dst_t;
    bool fixed_dst;        /* its result slot cannot be retargeted (a call's) */
    int br_true, br_false; /* fused branches of a comparison, else -1 */
    uint32_t a, b;         /* the comparison's operands */
    uint8_t nops;
    uint8_t slotmask; /* which of them are slots (else immediates) */
    int op;           /* its operation and variant */
    uint8_t variant;
    accpick acc; /* how it reads the accumulator, if it does */
} lastinsn;

typedef struct comp {
    th_wasm_module *m;
    th_error *err;
    const void *const *labels;
    uint32_t fidx;
    const wasm_functype *ft;
    const uint8_t *p, *end;
    size_t insn_off;

    uint32_t nlocals;
    uint8_t *ltypes;
    uint32_t *lslot;
    uint32_t nlocal_slots;
    size_t caplocals;

    vent *vals;
    uint32_t nvals, capvals;
    vent *popped; /* operands of the current instruction, bottom first */
    uint32_t cappopped;
    vent *scratch;
    uint32_t capscratch;
    ctrl *ctrls;
    uint32_t nctrls, capctrls;

    uint8_t *code;
    size_t len, cap;
    size_t *relocs;
    size_t nrelocs, caprelocs;
    fixup *fixups;
    uint32_t nfixups, capfixups;
    uint64_t *consts;
    uint32_t nconsts, capconsts;
    uint32_t *chash; /* const index + 1, 0 = empty */
    uint32_t chcap;
    uint32_t max_t;
    lastinsn last;
    /* the last instruction when it is an f64 operation whose result
     * local.set / local.tee retargeted to local slot `slot`: the next
     * instruction may read that local from facc (an f64 operation's __R
     * variant also writes its destination slot) */
    struct {
        bool valid;
        size_t start;
        uint32_t slot;
        int op;
        uint8_t variant;
    } wt;
    lastinsn last2;       /* `last` as the latest instruction began: the one before
                             it, if that produced a value (restored when the latest
                             is taken out of the code again) */
    size_t last_copy;     /* offset of a trailing COPY..COPY4 (NO_POS if none) */
    unsigned last_copy_n; /* how many copies it does */
    /* the last two instructions emitted (op -1: none), for pairing */
    struct {
        size_t start;
        int op;
        uint8_t variant;
    } prev, prev2;
    size_t pair_head, pair_tail; /* the latest pair (NO_POS if none) */
    int pair_head_op;            /* the head's own operation and variant */
    uint8_t pair_head_variant;
    size_t chain_head;   /* a P_ADDK_ADDK whose second instruction is the latest
                            pair's head, made a P_ADDK2_*, or an I32_ADD_K right
                            before a P_LSK32_BR_TABLE, made a
                            P_ADDK_LSK32_BR_TABLE (NO_POS if none) */
    int chain_op;        /* what the chain's head was: P_ADDK_ADDK / I32_ADD_K */
    bool entry_pick;     /* the next instruction reads the first parameter from
                            the accumulator, valid only at offset 0 */
    bool entry_acc_used; /* the instruction at offset 0 does (wasm_code.entry_acc) */
    size_t chain3_head;  /* a P_ADDK_ADDK whose second instruction is a P_ADDK2_*
                            chain's head, made a P_ADDK3_* (NO_POS if none) */
    /* offsets of the last WASM_CC_HIST instructions still in the code,
     * oldest first (for merging a run of instructions into one) */
#define WASM_CC_HIST 4
    size_t hist[WASM_CC_HIST];
    uint32_t nhist;
    size_t barrier;    /* latest offset that is a branch target */
    uint8_t *lwritten; /* per local: written by emitted code so far */
    uint32_t *lrefs;   /* per local: operands on the stack naming it */
    uint32_t nlrefs;   /* all operands naming a local */
    bool loop_seen;    /* a loop began: no more "still zero" locals */
    bool nomem;

    /* CALL instructions of the module: (defined function, code offset),
     * those of the function being translated from index ncalls_done on;
     * their handlers are chosen once every callee is translated */
    struct wasm_callsite {
        uint32_t fn;
        size_t off;
        size_t head; /* a P_ADDK_CALL pair's head before it (NO_POS if none) */
    } * calls;
    size_t ncalls, ncalls_done, capcalls;

    uint32_t *brt;
    uint32_t capbrt;
    uint32_t *stub_gen;
    size_t *stub_pos;
    uint32_t capstub, gen;
} comp;

static inline ctrl *top_ctrl(comp *C)
{
    return &C->ctrls[C->nctrls - 1];
}

static inline bool emitting(comp *C)
{
    const ctrl *c = top_ctrl(C);
    return !c->unreachable && !c->dead;
}

static inline uint32_t nslots(uint8_t t)
{
    return t == TH_WASM_V128 ? 2 : 1;
}

/* Numeric or vector (the operand types of the untyped select). */
static inline bool is_num(uint8_t t)
{
    return t == TH_WASM_I32 || t == TH_WASM_I64 || t == TH_WASM_F32 || t == TH_WASM_F64 ||
           t == TH_WASM_V128 || t == VT_UNKNOWN;
}

static inline bool is_ref(uint8_t t)
{
    return t == TH_WASM_FUNCREF || t == TH_WASM_EXTERNREF || t == VT_UNKNOWN;
}

/* ---- compile.c ---- */

/* Report a validation error at the current instruction ("<msg> at offset
 * 0x.. in function N"); returns -1. */
int wasm_cc_fail(comp *C, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report an allocation failure at the current instruction (TH_ENOMEM); returns -1. */
int wasm_cc_oom(comp *C);

/* Grow *buf (elements of `size` bytes, capacity *cap) to hold `need`
 * elements; false on allocation failure (the buffer is then unchanged). */
bool wasm_cc_grow(void **buf, size_t *cap, size_t need, size_t size);
bool wasm_cc_grow32(void **buf, uint32_t *cap, size_t need, size_t size);

/* Readers of the function body; each returns 0, or -1 after reporting
 * a malformed or truncated encoding. */
int wasm_cc_rd_byte(comp *C, uint8_t *out);
int wasm_cc_rd_u32(comp *C, uint32_t *out);
int wasm_cc_rd_sleb(comp *C, unsigned bits, int64_t *out); /* bits: 32, 33, 64 */
int wasm_cc_rd_zero(comp *C);                              /* a reserved 0x00 byte */

/* Static one-element type list for valtype `t`, or NULL if `t` is not a
 * value type. */
const uint8_t *wasm_cc_valtype_list(uint8_t t);

/* Operand stack.  push returns the new operand (in its own slot), NULL
 * when out of memory (C->nomem set); pop / pop_vals return 0 or -1 after
 * reporting a type mismatch; pop_vals leaves the operands in C->popped. */
vent *wasm_cc_push(comp *C, uint8_t type);
int wasm_cc_pop(comp *C, uint8_t expect, vent *out);
int wasm_cc_pop_vals(comp *C, const uint8_t *types, uint32_t n);

/* If `v` is the value the last instruction produced and that instruction
 * is `op` (base variant or reading the accumulator, not writing it),
 * remove it from the code and return its description in *out, so the
 * caller can emit one instruction doing its work and its consumer's. */
bool wasm_cc_take_producer(comp *C, const vent *v, int op, lastinsn *out);

/* Offset of the instruction `back` instructions before the end of the
 * code (0: the last one), or NO_POS when not known. */
size_t wasm_cc_hist(const comp *C, unsigned back);
/* Operation and variant of the instruction at `start` (false when its
 * handler is none of the table's). */
bool wasm_cc_insn_op(const comp *C, size_t start, int *op, unsigned *variant);
/* Take the instructions from offset `start` to the end out of the code
 * (relocations too); nothing of them remains to merge with or retarget. */
void wasm_cc_truncate(comp *C, size_t start);

/* Copy operands naming local `x` (any local if UINT32_MAX) to their own
 * slots before the local changes. */
void wasm_cc_materialize_locals(comp *C, uint32_t x);

/* Give the freshly pushed operand `e` the location of `src` (keeps the
 * count of operands naming each local). */
void wasm_cc_set_loc(comp *C, vent *e, const vent *src);

/* ---- compile_emit.c: the code buffer ---- */

/* Where an operand is read from (a slot number, tagged until relocated). */
uint32_t wasm_cc_enc(comp *C, const vent *e);

/* Emission.  emit_ops emits `op` with operands `ops` (bit i of slotmask:
 * ops[i] is a slot) and returns the instruction's offset; produced marks
 * the instruction at `start` as having produced own slot `dst_t` (its
 * first operand), so local.set may retarget it and br_if fuse it. */
size_t wasm_cc_emit_ops(comp *C, int op, const uint32_t *ops, unsigned n, unsigned slotmask);
size_t wasm_cc_emit_ops_v(comp *C, int op, unsigned variant, const uint32_t *ops, unsigned n,
                          unsigned slotmask);
void wasm_cc_emit_copy(comp *C, uint32_t dst, uint32_t src);
/* Copy a value of `type` (one slot, or two for v128). */
void wasm_cc_emit_move(comp *C, uint32_t dst, uint32_t src, uint8_t type);
/* Two new constant slots holding a v128; the first, tagged. */
uint32_t wasm_cc_const_v128(comp *C, uint64_t lo, uint64_t hi);
void wasm_cc_produced(comp *C, size_t start, size_t nrelocs, uint32_t dst_t, int op,
                      const accpick *ap);

/* Accumulator variants.  acc_pick, called just before emitting `op` with
 * sources s0/s1 (entries, or NULL), returns the variant bits for `op`
 * (WV_A / WV_B, or 0) and, when one source is the value the previous
 * instruction produced, switches that instruction to write the
 * accumulator; *ap records how to undo that.  acc_undo switches it back
 * (the source is then read from its slot again). */
unsigned wasm_cc_acc_pick(comp *C, int op, const vent *s0, const vent *s1, accpick *ap);
/* Whether op's __R variant writes the f64 accumulator (facc), and whether
 * its variant v (WV_A / WV_B) reads it; a producer and a consumer are
 * linked through an accumulator only when they agree. */
bool wasm_cc_acc_float_out(int op);
bool wasm_cc_acc_float_in(int op, unsigned v);
void wasm_cc_acc_undo(comp *C, const accpick *ap);

/* The pieces of an instruction: emit_begin(_v) starts `op` (its handler;
 * when it completes a pair with the previous instruction, that one's handler
 * becomes the pair's) and returns its offset; emit_u32 appends an immediate,
 * emit_slot a slot operand (tagged ones are recorded for relocation),
 * emit_ptr a pointer; emit_end pads to the next 8-byte boundary.  After an
 * allocation failure (C->nomem) they emit nothing. */
size_t wasm_cc_emit_begin(comp *C, int op);
size_t wasm_cc_emit_begin_v(comp *C, int op, unsigned variant);
void wasm_cc_emit_u32(comp *C, uint32_t v);
void wasm_cc_emit_slot(comp *C, uint32_t enc);
void wasm_cc_emit_ptr(comp *C, const void *ptr);
void wasm_cc_emit_end(comp *C);
/* Store the branch offset target - insn into the 4-byte field at `field`. */
void wasm_cc_patch_rel(comp *C, size_t field, size_t insn, size_t target);
/* The pair instruction doing `a` (variant av) then `b` (variant bv), or -1. */
int wasm_cc_pair_op(int a, unsigned av, int b, unsigned bv);
/* Whether `op` has a handler for `variant`. */
bool wasm_cc_has_variant(const comp *C, int op, unsigned variant);
/* Rewrite the handler of the instruction at `pos` to `op`/`variant`. */
void wasm_cc_set_handler(comp *C, size_t pos, int op, unsigned variant);
/* Undo the latest pair (its head gets its own handler back); a chain
 * through it becomes the P_ADDK_ADDK pair it was, the latest pair again. */
void wasm_cc_unpair(comp *C);
/* Move operand `e` into its own slot (a copy, unless it is there already). */
void wasm_cc_materialize(comp *C, vent *e);

/* Offset of the next instruction, recorded as a branch target (no
 * instruction merging across it). */
size_t wasm_cc_label_here(comp *C);

/* ---- compile_ops.c: one function per instruction group; each returns 0
 * or -1 after reporting an error.  `op` is the opcode byte. ---- */

int wasm_cc_op_local(comp *C, uint8_t op);   /* local.get/set/tee */
int wasm_cc_op_global(comp *C, uint8_t op);  /* global.get/set */
int wasm_cc_op_select(comp *C, bool typed);  /* select, select t */
int wasm_cc_op_ref(comp *C, uint8_t op);     /* ref.null/is_null/func */
int wasm_cc_op_memory(comp *C, uint8_t op);  /* loads and stores */
int wasm_cc_op_memsize(comp *C, uint8_t op); /* memory.size/grow */
int wasm_cc_op_table(comp *C, uint8_t op);   /* table.get/set */
int wasm_cc_op_prefixed(comp *C);            /* the 0xFC instructions */
int wasm_cc_op_const(comp *C, uint8_t op);   /* i32/i64/f32/f64.const */
int wasm_cc_op_numeric(comp *C, uint8_t op); /* opcodes 0x45..0xc4 */

/* ---- compile_simd.c ---- */

int wasm_cc_op_simd(comp *C); /* the 0xFD instructions */

#endif
