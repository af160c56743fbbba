/*
 * spec.h - internal declarations shared by the spec test runner's files
 * (spec_runner.c: scripts and commands; spec_values.c: the JSON value
 * notation; spectest.c: the `spectest` host module).
 *
 * The runner uses only the engine's public API (theater/wasm.h).
 */
#ifndef THEATER_TESTS_SPEC_H
#define THEATER_TESTS_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "theater/wasm.h"

/* ------------------------------------------------------------------ */
/* Values (spec_values.c)                                             */

/* What an expected value (or one v128 lane) demands. */
typedef enum spec_vkind {
    SPEC_V_BITS,           /* exactly these raw bits */
    SPEC_V_NAN_CANONICAL,  /* "nan:canonical": quiet NaN, payload 0, any sign */
    SPEC_V_NAN_ARITHMETIC, /* "nan:arithmetic": any quiet NaN */
    SPEC_V_NULL,           /* ref.null */
    SPEC_V_EXTERN,         /* ref.extern N (N in `bits`) */
    SPEC_V_NONNULL,        /* a funcref that is not null (any function) */
} spec_vkind;

#define SPEC_V128_MAX_LANES 16

/* One value of the JSON notation: {"type": "i32", "value": "4294967295"},
 * {"type": "externref", "value": "null"}, {"type": "v128", "lane_type":
 * "f32", "value": ["0", "nan:canonical", ...]}. */
typedef struct spec_value {
    uint8_t type;    /* th_wasm_valtype */
    spec_vkind kind; /* scalars */
    uint64_t bits;   /* numbers: raw bits; externref: N */
    /* v128 only */
    uint8_t lane_bits; /* 8, 16, 32 or 64 */
    bool lane_float;   /* f32 / f64 lanes */
    uint8_t nlanes;
    spec_vkind lane_kind[SPEC_V128_MAX_LANES];
    uint64_t lane[SPEC_V128_MAX_LANES];
} spec_value;

/* Parse a JSON value object into `out`.  Returns 0, or -1 with a reason
 * in `why` (unknown type, number out of range, ...). */
int spec_value_parse(const json_t *j, spec_value *out, char *why, size_t whylen);

/* Number of th_wasm_val slots a value of `type` occupies (v128: 2). */
uint32_t spec_type_slots(uint8_t type);

/* Static name of a value type ("i32", "funcref", ...; "?" if unknown). */
const char *spec_type_name(uint8_t type);

/* The opaque non-NULL pointer the runner uses for `ref.extern N`. */
void *spec_extern_ref(uint64_t n);

/* Store an argument value into `slots` (spec_type_slots(v->type) of them).
 * Returns 0, or -1 with a reason when the value cannot be an argument (a
 * NaN pattern, a non-null funcref). */
int spec_value_to_slots(const spec_value *v, th_wasm_val *slots, char *why, size_t whylen);

/* True if the result in `got` satisfies the expectation `want`. */
bool spec_value_matches(const spec_value *want, const th_wasm_val *got);

/* Human-readable forms for failure messages: the expectation, and a
 * result of the same type (v128 shown in the expectation's lane shape). */
void spec_value_format(const spec_value *want, char *buf, size_t len);
void spec_result_format(const spec_value *want, const th_wasm_val *got, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* The spectest host module (spectest.c)                              */

/* Context of one print* host function: its signature, and where to log
 * the call (NULL: print nothing). */
typedef struct spec_print_ctx {
    const char *name;
    const char *sig;
    FILE *log;
} spec_print_ctx;

#define SPEC_NPRINTS 7

/* The standalone externs of one `spectest` instance (one per script, so
 * that a script's changes to its memory or table do not leak into the
 * next).  Caller-allocated; spec_spectest_init/_release. */
typedef struct spec_spectest {
    th_wasm_global *global_i32, *global_i64, *global_f32, *global_f64;
    th_wasm_table *table;
    th_wasm_memory *memory;
    spec_print_ctx prints[SPEC_NPRINTS];
} spec_spectest;

/* Create the externs.  `log` receives a line per print* call, or NULL.
 * Returns 0 or TH_ENOMEM (nothing left allocated). */
int spec_spectest_init(spec_spectest *st, FILE *log);

/* Free the externs; every instance that imported them must be gone. */
void spec_spectest_release(spec_spectest *st);

/* Bind all of spectest's functions and externs into `imp` under module
 * name "spectest".  `st` must outlive `imp`'s instances.  Returns 0 or the
 * engine's error code. */
int spec_spectest_bind(spec_spectest *st, th_wasm_imports *imp);

#endif
