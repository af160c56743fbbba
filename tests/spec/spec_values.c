/*
 * spec_values.c - the value notation of wast2json scripts: parsing
 * arguments and expected results, moving them in and out of th_wasm_val
 * slots, comparing results (NaN patterns, references) and printing both
 * sides of a mismatch.
 *
 * Numbers arrive as decimal strings of their raw bits ("4294967295" is
 * i32 -1, "2143289344" is f32 NaN), so floats are handled as bit patterns
 * throughout: never converted through float arithmetic, which could quiet
 * a signalling NaN.  v128 values are 16 little-endian bytes in two
 * consecutive slots, lane 0 at the lowest address (wasm.h's layout).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* An address range nothing else uses: `ref.extern N` is extern_base + N. */
static const char extern_base[1];

void *spec_extern_ref(uint64_t n)
{
    /* Pointer arithmetic past the object would be undefined; build the
     * opaque value from the integer address instead.  It is never
     * dereferenced, only compared. */
    return (void *)((uintptr_t)extern_base + (uintptr_t)n + 1u);
}

static void setwhy(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void setwhy(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

uint32_t spec_type_slots(uint8_t type)
{
    return type == TH_WASM_V128 ? 2u : 1u;
}

const char *spec_type_name(uint8_t type)
{
    switch (type) {
    case TH_WASM_I32: return "i32";
    case TH_WASM_I64: return "i64";
    case TH_WASM_F32: return "f32";
    case TH_WASM_F64: return "f64";
    case TH_WASM_V128: return "v128";
    case TH_WASM_FUNCREF: return "funcref";
    case TH_WASM_EXTERNREF: return "externref";
    default: return "?";
    }
}

static int type_from_name(const char *s, uint8_t *out)
{
    static const struct {
        const char *name;
        uint8_t type;
    } names[] = {
        {"i32", TH_WASM_I32},
        {"i64", TH_WASM_I64},
        {"f32", TH_WASM_F32},
        {"f64", TH_WASM_F64},
        {"v128", TH_WASM_V128},
        {"funcref", TH_WASM_FUNCREF},
        {"externref", TH_WASM_EXTERNREF},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].type;
            return 0;
        }
    }
    return -1;
}

/* Parse an unsigned decimal string no larger than `max`.  Returns 0 or -1. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static uint64_t width_max(unsigned bits)
{
    return bits >= 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1u;
}

/* One number (or NaN pattern) of `bits` width; floats accept patterns. */
static int parse_number(const char *s, unsigned bits, bool is_float, spec_vkind *kind,
                        uint64_t *val)
{
    *val = 0;
    if (is_float && s != NULL && strcmp(s, "nan:canonical") == 0) {
        *kind = SPEC_V_NAN_CANONICAL;
        return 0;
    }
    if (is_float && s != NULL && strcmp(s, "nan:arithmetic") == 0) {
        *kind = SPEC_V_NAN_ARITHMETIC;
        return 0;
    }
    *kind = SPEC_V_BITS;
    return parse_u64(s, width_max(bits), val);
}

static int parse_v128(const json_t *j, spec_value *out, char *why, size_t whylen)
{
    const char *lt = json_string_value(json_object_get(j, "lane_type"));
    const json_t *lanes = json_object_get(j, "value");
    static const struct {
        const char *name;
        uint8_t bits;
        bool is_float;
    } shapes[] = {
        {"i8", 8, false},   {"i16", 16, false}, {"i32", 32, false},
        {"i64", 64, false}, {"f32", 32, true},  {"f64", 64, true},
    };
    size_t k = 0;
    while (k < sizeof shapes / sizeof shapes[0] && (lt == NULL || strcmp(lt, shapes[k].name) != 0))
        k++;
    if (k == sizeof shapes / sizeof shapes[0]) {
        setwhy(why, whylen, "v128 with unknown lane_type '%s'", lt ? lt : "(none)");
        return -1;
    }
    out->lane_bits = shapes[k].bits;
    out->lane_float = shapes[k].is_float;
    out->nlanes = (uint8_t)(128u / shapes[k].bits);
    if (!json_is_array(lanes) || json_array_size(lanes) != out->nlanes) {
        setwhy(why, whylen, "v128 %s value needs %u lanes", lt, out->nlanes);
        return -1;
    }
    for (unsigned i = 0; i < out->nlanes; i++) {
        const char *s = json_string_value(json_array_get(lanes, i));
        if (parse_number(s, out->lane_bits, out->lane_float, &out->lane_kind[i], &out->lane[i]) !=
            0) {
            setwhy(why, whylen, "bad v128 lane %u '%s'", i, s ? s : "(none)");
            return -1;
        }
    }
    return 0;
}

int spec_value_parse(const json_t *j, spec_value *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    const char *t = json_string_value(json_object_get(j, "type"));
    if (t == NULL || type_from_name(t, &out->type) != 0) {
        setwhy(why, whylen, "unknown value type '%s'", t ? t : "(none)");
        return -1;
    }
    if (out->type == TH_WASM_V128)
        return parse_v128(j, out, why, whylen);

    const char *s = json_string_value(json_object_get(j, "value"));
    if (out->type == TH_WASM_FUNCREF || out->type == TH_WASM_EXTERNREF) {
        if (s != NULL && strcmp(s, "null") == 0) {
            out->kind = SPEC_V_NULL;
            return 0;
        }
        if (out->type == TH_WASM_FUNCREF) {
            /* wast2json writes no function identity: any non-null ref. */
            out->kind = SPEC_V_NONNULL;
            return 0;
        }
        out->kind = SPEC_V_EXTERN;
        if (parse_u64(s, UINT64_MAX - 1u, &out->bits) != 0) {
            setwhy(why, whylen, "bad externref value '%s'", s ? s : "(none)");
            return -1;
        }
        return 0;
    }
    unsigned bits = (out->type == TH_WASM_I32 || out->type == TH_WASM_F32) ? 32 : 64;
    bool is_float = out->type == TH_WASM_F32 || out->type == TH_WASM_F64;
    if (parse_number(s, bits, is_float, &out->kind, &out->bits) != 0) {
        setwhy(why, whylen, "bad %s value '%s'", t, s ? s : "(none)");
        return -1;
    }
    return 0;
}

/* ---- slots ---- */

static void put_f32_bits(th_wasm_val *v, uint32_t b)
{
    memcpy(&v->f32, &b, sizeof b);
}

static uint32_t get_f32_bits(const th_wasm_val *v)
{
    uint32_t b;
    memcpy(&b, &v->f32, sizeof b);
    return b;
}

static uint64_t get_f64_bits(const th_wasm_val *v)
{
    uint64_t b;
    memcpy(&b, &v->f64, sizeof b);
    return b;
}

/* The 16 bytes of a v128 held in two slots. */
static void v128_bytes(const th_wasm_val *slots, uint8_t out[16])
{
    memcpy(out, &slots[0].bits, 8);
    memcpy(out + 8, &slots[1].bits, 8);
}

static uint64_t lane_get(const uint8_t bytes[16], unsigned bits, unsigned i)
{
    uint64_t v = 0;
    unsigned n = bits / 8;
    for (unsigned b = 0; b < n; b++) /* little-endian lanes */
        v |= (uint64_t)bytes[i * n + b] << (8 * b);
    return v;
}

int spec_value_to_slots(const spec_value *v, th_wasm_val *slots, char *why, size_t whylen)
{
    slots[0].bits = 0;
    switch (v->type) {
    case TH_WASM_V128: {
        uint8_t bytes[16] = {0};
        unsigned n = v->lane_bits / 8;
        for (unsigned i = 0; i < v->nlanes; i++) {
            if (v->lane_kind[i] != SPEC_V_BITS) {
                setwhy(why, whylen, "NaN pattern as an argument lane");
                return -1;
            }
            for (unsigned b = 0; b < n; b++)
                bytes[i * n + b] = (uint8_t)(v->lane[i] >> (8 * b));
        }
        memcpy(&slots[0].bits, bytes, 8);
        memcpy(&slots[1].bits, bytes + 8, 8);
        return 0;
    }
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF:
        if (v->kind == SPEC_V_NULL) {
            slots[0].ref = NULL;
            return 0;
        }
        if (v->kind == SPEC_V_EXTERN) {
            slots[0].ref = spec_extern_ref(v->bits);
            return 0;
        }
        setwhy(why, whylen, "a non-null funcref cannot be an argument");
        return -1;
    default:
        if (v->kind != SPEC_V_BITS) {
            setwhy(why, whylen, "NaN pattern as an argument");
            return -1;
        }
        if (v->type == TH_WASM_I32)
            slots[0].i32 = (int32_t)(uint32_t)v->bits;
        else if (v->type == TH_WASM_F32)
            put_f32_bits(&slots[0], (uint32_t)v->bits);
        else
            slots[0].bits = v->bits; /* i64, f64: all 8 bytes */
        return 0;
    }
}

/* Does the float with raw `bits` (32 or 64 wide) satisfy `kind`/`want`? */
static bool float_matches(spec_vkind kind, uint64_t want, uint64_t got, unsigned width)
{
    uint64_t sign = (uint64_t)1 << (width - 1);
    uint64_t quiet_exp = width == 32 ? 0x7fc00000u : 0x7ff8000000000000u;
    switch (kind) {
    case SPEC_V_NAN_CANONICAL: return (got & ~sign) == quiet_exp;
    case SPEC_V_NAN_ARITHMETIC: return (got & quiet_exp) == quiet_exp;
    default: return got == want;
    }
}

static bool v128_matches(const spec_value *want, const th_wasm_val *got)
{
    uint8_t bytes[16];
    v128_bytes(got, bytes);
    for (unsigned i = 0; i < want->nlanes; i++) {
        uint64_t g = lane_get(bytes, want->lane_bits, i);
        if (want->lane_float) {
            if (!float_matches(want->lane_kind[i], want->lane[i], g, want->lane_bits))
                return false;
        } else if (g != want->lane[i]) {
            return false;
        }
    }
    return true;
}

bool spec_value_matches(const spec_value *want, const th_wasm_val *got)
{
    switch (want->type) {
    case TH_WASM_I32: return (uint32_t)got->i32 == (uint32_t)want->bits;
    case TH_WASM_I64: return (uint64_t)got->i64 == want->bits;
    case TH_WASM_F32: return float_matches(want->kind, want->bits, get_f32_bits(got), 32);
    case TH_WASM_F64: return float_matches(want->kind, want->bits, get_f64_bits(got), 64);
    case TH_WASM_V128: return v128_matches(want, got);
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF:
        if (want->kind == SPEC_V_NULL)
            return got->ref == NULL;
        if (want->kind == SPEC_V_NONNULL)
            return got->ref != NULL;
        return got->ref == spec_extern_ref(want->bits);
    default: return false;
    }
}

/* ---- formatting ---- */

static const char *lane_name(const spec_value *v)
{
    if (v->lane_float)
        return v->lane_bits == 32 ? "f32" : "f64";
    switch (v->lane_bits) {
    case 8: return "i8";
    case 16: return "i16";
    case 32: return "i32";
    default: return "i64";
    }
}

/* The value of a float given by its raw bits, for display only. */
static double float_value(uint64_t bits, unsigned width)
{
    if (width == 32) {
        float f;
        uint32_t b = (uint32_t)bits;
        memcpy(&f, &b, sizeof f);
        return (double)f;
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Append a number of `width` bits (hex, plus decimal for integers). */
static size_t fmt_number(char *buf, size_t len, spec_vkind kind, uint64_t bits, unsigned width,
                         bool is_float)
{
    int n;
    if (kind == SPEC_V_NAN_CANONICAL)
        n = snprintf(buf, len, "nan:canonical");
    else if (kind == SPEC_V_NAN_ARITHMETIC)
        n = snprintf(buf, len, "nan:arithmetic");
    else if (is_float)
        n = snprintf(buf, len, "0x%0*" PRIx64 " (%.*g)", (int)(width / 4), bits,
                     width == 32 ? 9 : 17, float_value(bits, width));
    else
        n = snprintf(buf, len, "%" PRIu64 " (0x%" PRIx64 ")", bits, bits);
    return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len - 1);
}

static void fmt_lanes(char *buf, size_t len, const spec_value *shape, const spec_vkind *kinds,
                      const uint64_t *lanes)
{
    size_t off = (size_t)snprintf(buf, len, "v128 %sx%u [", lane_name(shape), shape->nlanes);
    for (unsigned i = 0; i < shape->nlanes && off + 1 < len; i++) {
        off += fmt_number(buf + off, len - off, kinds ? kinds[i] : SPEC_V_BITS, lanes[i],
                          shape->lane_bits, shape->lane_float);
        if (i + 1 < shape->nlanes && off + 1 < len)
            off += (size_t)snprintf(buf + off, len - off, ", ");
    }
    if (off + 1 < len)
        snprintf(buf + off, len - off, "]");
}

void spec_value_format(const spec_value *want, char *buf, size_t len)
{
    switch (want->type) {
    case TH_WASM_V128: fmt_lanes(buf, len, want, want->lane_kind, want->lane); return;
    case TH_WASM_FUNCREF:
    case TH_WASM_EXTERNREF:
        if (want->kind == SPEC_V_NULL)
            snprintf(buf, len, "%s null", spec_type_name(want->type));
        else if (want->kind == SPEC_V_NONNULL)
            snprintf(buf, len, "funcref non-null");
        else
            snprintf(buf, len, "ref.extern %" PRIu64, want->bits);
        return;
    default: {
        bool is_float = want->type == TH_WASM_F32 || want->type == TH_WASM_F64;
        unsigned width = (want->type == TH_WASM_I32 || want->type == TH_WASM_F32) ? 32 : 64;
        size_t off = (size_t)snprintf(buf, len, "%s ", spec_type_name(want->type));
        if (off < len)
            fmt_number(buf + off, len - off, want->kind, want->bits, width, is_float);
        return;
    }
    }
}

void spec_result_format(const spec_value *want, const th_wasm_val *got, char *buf, size_t len)
{
    switch (want->type) {
    case TH_WASM_V128: {
        uint8_t bytes[16];
        uint64_t lanes[SPEC_V128_MAX_LANES];
        v128_bytes(got, bytes);
        for (unsigned i = 0; i < want->nlanes; i++)
            lanes[i] = lane_get(bytes, want->lane_bits, i);
        fmt_lanes(buf, len, want, NULL, lanes);
        return;
    }
    case TH_WASM_FUNCREF:
        snprintf(buf, len, got->ref ? "funcref %p" : "funcref null", got->ref);
        return;
    case TH_WASM_EXTERNREF: {
        uintptr_t base = (uintptr_t)spec_extern_ref(0);
        uintptr_t p = (uintptr_t)got->ref;
        if (p == 0)
            snprintf(buf, len, "externref null");
        else if (p >= base)
            snprintf(buf, len, "ref.extern %" PRIuPTR, p - base);
        else
            snprintf(buf, len, "externref %p (not made by the runner)", got->ref);
        return;
    }
    default: {
        spec_value v = *want;
        v.kind = SPEC_V_BITS;
        if (want->type == TH_WASM_I32)
            v.bits = (uint32_t)got->i32;
        else if (want->type == TH_WASM_F32)
            v.bits = get_f32_bits(got);
        else if (want->type == TH_WASM_F64)
            v.bits = get_f64_bits(got);
        else
            v.bits = (uint64_t)got->i64;
        spec_value_format(&v, buf, len);
        return;
    }
    }
}
