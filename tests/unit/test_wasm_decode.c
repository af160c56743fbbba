/*
 * test_wasm_decode.c - the binary decoder (decode.c) and module-level
 * validation (validate.c): malformed binaries with their messages and byte
 * offsets, every element and data segment form, the name section, C.refs,
 * constant expressions, and function type interning (types.c).
 *
 * Modules are written as hex strings (the 8-byte header is added), so each
 * case shows exactly the bytes under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wasm/wasm_int.h"
#include "wasm_bytes.h"

/* A module from hex (after the 8-byte header, if `header`). */
static size_t hex_module(const char *hex, uint8_t *buf, size_t cap, bool header)
{
    size_t n = 0;
    if (header) {
        static const uint8_t h[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
        memcpy(buf, h, 8);
        n = 8;
    }
    hex_parse(hex, buf, cap, &n);
    return n;
}

/* Decode and (if that works) validate; returns the code, fills err. */
static int load(const char *hex, bool header, th_wasm_module **out, th_error *err)
{
    uint8_t buf[4096];
    size_t n = hex_module(hex, buf, sizeof buf, header);
    th_wasm_module *m = NULL;
    int rc;

    th_error_clear(err);
    rc = wasm_decode(buf, n, &m, err);
    if (rc == 0)
        rc = wasm_validate_module(m, err);
    if (rc == 0 && out != NULL)
        *out = m;
    else
        wasm_module_destroy(m);
    return rc;
}

/* Expect failure with a message containing `want` (and the offset prefix
 * `at`, if not NULL). */
static void expect_error(const char *hex, bool header, const char *at, const char *want)
{
    th_error err;
    int rc = load(hex, header, NULL, &err);
    if (rc == 0 || strstr(err.msg, want) == NULL ||
        (at != NULL && strncmp(err.msg, at, strlen(at)) != 0))
        fail_msg("module %s: expected \"%s%s\", got rc %d \"%s\"", hex, at ? at : "", want, rc,
                 err.msg);
}

static th_wasm_module *expect_ok(const char *hex)
{
    th_error err;
    th_wasm_module *m = NULL;
    int rc = load(hex, true, &m, &err);
    if (rc != 0)
        fail_msg("module %s: unexpected error %s", hex, err.msg);
    return m;
}

/* ------------------------------------------------------------------ */

static void test_header(void **state)
{
    (void)state;
    expect_error("", false, "at offset 0x0: ", "unexpected end");
    expect_error("00 61 73", false, NULL, "unexpected end");
    expect_error("00 41 53 4d 01 00 00 00", false, "at offset 0x0: ", "magic header not detected");
    expect_error("00 61 73 6d", false, "at offset 0x4: ", "unexpected end");
    expect_error("00 61 73 6d 02 00 00 00", false, "at offset 0x4: ", "unknown binary version");
    th_wasm_module *m = expect_ok("");
    assert_int_equal(m->nfuncs, 0);
    assert_int_equal(m->nexports, 0);
    wasm_module_destroy(m);
}

static void test_sections(void **state)
{
    (void)state;
    /* id 13 does not exist */
    expect_error("0d 00", true, "at offset 0x8: ", "malformed section id");
    /* import section after the function section */
    expect_error("03 01 00 02 01 00", true,
                 "at offset 0xb: ", "unexpected content after last section");
    /* two type sections */
    expect_error("01 01 00 01 01 00", true,
                 "at offset 0xb: ", "unexpected content after last section");
    /* data count (12) goes before code (10): after code it is misplaced */
    expect_error("0a 01 00 0c 01 00", true, NULL, "unexpected content after last section");
    /* type section says 2 bytes, holds 1 type of 3 bytes */
    expect_error("01 02 01 60 00 00", true, "at offset 0xa: ", "section size mismatch");
    /* section size beyond the end of the module */
    expect_error("01 09 01 60 00 00", true, "at offset 0x9: ", "length out of bounds");
    /* custom sections may appear anywhere, even between ordered ones */
    th_wasm_module *m = expect_ok("00 { 01 61 62 }  01 { 01 60 00 00 }"
                                  "00 { 00 }  03 { 01 00 }  00 { 01 7a }"
                                  "0a { 01 { 00 0b } }");
    assert_int_equal(m->nfuncs, 1);
    wasm_module_destroy(m);
    /* custom section whose name runs past the section */
    expect_error("00 01 05 61 62 63 64 65", true, NULL, "unexpected end");
}

static void test_leb128(void **state)
{
    (void)state;
    /* function section count 1 as a 6-byte LEB128 (offset of 6th byte) */
    expect_error("01 { 01 60 00 00 }  03 { 81 80 80 80 80 00 00 }", true,
                 "at offset 0x15: ", "integer representation too long");
    /* type index 0 with unused bits set in the 5th byte */
    expect_error("01 { 01 60 00 00 }  03 { 01 80 80 80 80 70 }", true,
                 "at offset 0x15: ", "integer too large");
    /* padded but valid: 0 as 5 bytes */
    th_wasm_module *m = expect_ok("01 { 01 60 00 00 }  03 { 01 80 80 80 80 00 }"
                                  "0a { 01 { 00 0b } }");
    assert_int_equal(m->func_type[0], 0);
    wasm_module_destroy(m);
    /* limits flag 2 (a 1-bit LEB128) */
    expect_error("05 { 01 02 00 }", true, "at offset 0xb: ", "integer too large");
    /* i32.const with an over-long s32 in a global initializer */
    expect_error("06 { 01 7f 00 41 80 80 80 80 80 00 0b }", true,
                 "at offset 0x13: ", "integer representation too long");
    /* s32 whose last byte does not sign-extend properly */
    expect_error("06 { 01 7f 00 41 80 80 80 80 70 0b }", true,
                 "at offset 0x12: ", "integer too large");
}

static void test_names_utf8(void **state)
{
    (void)state;
    /* import module name "\xff" */
    expect_error("02 { 01 01 ff 01 61 00 00 }", true,
                 "at offset 0xb: ", "malformed UTF-8 encoding");
    /* overlong encoding of '/' (c0 af) in an export name */
    expect_error("07 { 01 02 c0 af 00 00 }", true, NULL, "malformed UTF-8 encoding");
    /* surrogate U+D800 (ed a0 80) in a custom section name */
    expect_error("00 { 03 ed a0 80 }", true, NULL, "malformed UTF-8 encoding");
    /* truncated 3-byte sequence */
    expect_error("00 { 02 e2 82 }", true, NULL, "malformed UTF-8 encoding");
    /* a 4-byte character (U+1F600) is fine */
    th_wasm_module *m = expect_ok("00 { 04 f0 9f 98 80 }");
    wasm_module_destroy(m);
    /* malformed import kind */
    expect_error("02 { 01 00 00 04 00 }", true, "at offset 0xd: ", "malformed import kind");
    /* malformed mutability */
    expect_error("06 { 01 7f 02 41 00 0b }", true, "at offset 0xc: ", "malformed mutability");
    /* bad value type in a function type */
    expect_error("01 { 01 60 01 40 00 }", true, "at offset 0xd: ", "malformed value type");
}

static void test_counts(void **state)
{
    (void)state;
    expect_error("01 { 01 60 00 00 }  03 { 02 00 00 }  0a { 01 { 00 0b } }", true, NULL,
                 "function and code section have inconsistent lengths");
    expect_error("0a { 01 { 00 0b } }", true, NULL,
                 "function and code section have inconsistent lengths");
    expect_error("05 { 01 00 01 }  0c { 02 }  0b { 01 00 41 00 0b 00 }", true, NULL,
                 "data count and data section have inconsistent lengths");
    expect_error("05 { 01 00 01 }  0c { 01 }", true, NULL,
                 "data count and data section have inconsistent lengths");
    /* 5 types declared in a section of 4 bytes: the vector count itself
     * is checked against the bytes left in the module */
    expect_error("01 04 05 60 00 00", true, "at offset 0xa: ", "length out of bounds");
}

static void test_locals(void **state)
{
    (void)state;
    /* 0xffffffff + 2 locals */
    expect_error("01 { 01 60 00 00 }  03 { 01 00 }"
                 "0a { 01 { 02 ff ff ff ff 0f 7f 02 7e 0b } }",
                 true, "at offset 0x16: ", "too many locals");
    th_wasm_module *m = expect_ok("01 { 01 60 00 00 }  03 { 01 00 }"
                                  "0a { 01 { 03 00 7f 02 7e 01 7d 0b } }");
    wasm_body *b = &m->bodies[0];
    assert_int_equal(b->nlocals, 3);
    assert_int_equal(b->local_types[0], TH_WASM_I64);
    assert_int_equal(b->local_types[1], TH_WASM_I64);
    assert_int_equal(b->local_types[2], TH_WASM_F32);
    assert_int_equal(b->len, 1);
    assert_int_equal(m->bytes[b->off], 0x0b);
    wasm_module_destroy(m);
}

static void test_body_end(void **state)
{
    (void)state;
    /* body without its end, followed by another body: the next body's
     * size byte (05, `else`) is what the decoder meets */
    expect_error("01 { 01 60 00 00 }  03 { 02 00 00 }"
                 "0a { 02 04 00 41 01 1a 05 00 41 01 1a 0b }",
                 true, NULL, "END opcode expected");
    /* body without end, followed by a data section: its id (0b) reads
     * as the body's `end`, one byte past the body */
    expect_error("01 { 01 60 00 00 }  03 { 01 00 }  05 { 01 00 00 }"
                 "0a 06 01 04 00 41 01 1a  0b 03 01 01 00",
                 true, "at offset 0x1b: ", "section size mismatch");
    /* body without end at the end of the module */
    expect_error("01 { 01 60 00 00 }  03 { 01 00 }  0a { 01 04 00 41 01 1a }", true, NULL,
                 "unexpected end");
    /* global initializer without end: the decoder reads on into the next
     * section and meets 0x0a, which is no opcode */
    expect_error("01 { 01 60 00 00 }  03 { 01 00 }  06 { 01 7f 00 41 00 }"
                 "0a { 01 { 00 0b } }",
                 true, NULL, "illegal opcode");
}

static void test_elem_forms(void **state)
{
    (void)state;
    th_wasm_module *m = expect_ok("01 { 01 60 00 00 }"              /* type () -> () */
                                  "03 { 02 00 00 }"                 /* two functions */
                                  "04 { 01 70 00 0a }"              /* table 10 funcref */
                                  "09 { 08"                         /* eight segments */
                                  "  00 41 01 0b 01 00"             /* 0: active t0 funcs */
                                  "  01 00 02 00 01"                /* 1: passive funcs */
                                  "  02 00 41 02 0b 00 01 01"       /* 2: active t0 funcs */
                                  "  03 00 01 01"                   /* 3: declarative funcs */
                                  "  04 41 03 0b 01 d2 00 0b"       /* 4: active exprs */
                                  "  05 70 02 d0 70 0b d2 01 0b"    /* 5: passive exprs */
                                  "  06 00 41 04 0b 70 01 d0 70 0b" /* 6: active t0 exprs */
                                  "  07 70 01 d2 00 0b }"           /* 7: declarative exprs */
                                  "0a { 02 { 00 0b } { 00 0b } }");
    static const uint8_t modes[8] = {WASM_SEG_ACTIVE,      WASM_SEG_PASSIVE,    WASM_SEG_ACTIVE,
                                     WASM_SEG_DECLARATIVE, WASM_SEG_ACTIVE,     WASM_SEG_PASSIVE,
                                     WASM_SEG_ACTIVE,      WASM_SEG_DECLARATIVE};
    static const uint32_t counts[8] = {1, 2, 1, 1, 1, 2, 1, 1};

    assert_int_equal(m->nelems, 8);
    for (int i = 0; i < 8; i++) {
        wasm_elem *e = &m->elems[i];
        assert_int_equal(e->mode, modes[i]);
        assert_int_equal(e->count, counts[i]);
        assert_int_equal(e->reftype, TH_WASM_FUNCREF);
        assert_true((e->funcs != NULL) == (i < 4));
        assert_true((e->exprs != NULL) == (i >= 4));
    }
    assert_int_equal(m->elems[1].funcs[1], 1);
    /* C.refs: both functions appear in segments */
    assert_int_equal(m->func_declared[0], 1);
    assert_int_equal(m->func_declared[1], 1);
    wasm_module_destroy(m);

    /* flag 8 does not exist */
    expect_error("09 { 01 08 00 }", true, "at offset 0xb: ", "malformed elements segment kind");
    /* elemkind other than 0x00 */
    expect_error("09 { 01 01 01 00 }", true, "at offset 0xc: ", "malformed element kind");
    /* reference type i32 in a passive expression segment */
    expect_error("09 { 01 05 7f 01 d2 00 0b }", true,
                 "at offset 0xc: ", "malformed reference type");
    /* an illegal opcode inside an element expression */
    expect_error("09 { 01 05 70 01 f3 00 0b }", true, "at offset 0xe: ", "illegal opcode");
}

static void test_data_forms(void **state)
{
    (void)state;
    th_wasm_module *m = expect_ok("05 { 01 00 01 }"
                                  "0c { 03 }"
                                  "0b { 03"
                                  "  00 41 00 0b 02 61 62"
                                  "  01 03 63 64 65"
                                  "  02 00 41 10 0b 01 66 }");
    assert_int_equal(m->ndatas, 3);
    assert_int_equal(m->datas[0].mode, WASM_SEG_ACTIVE);
    assert_int_equal(m->datas[0].len, 2);
    assert_memory_equal(m->bytes + m->datas[0].off, "ab", 2);
    assert_int_equal(m->datas[1].mode, WASM_SEG_PASSIVE);
    assert_memory_equal(m->bytes + m->datas[1].off, "cde", 3);
    assert_int_equal(m->datas[2].mode, WASM_SEG_ACTIVE);
    assert_int_equal(m->datas[2].mem, 0);
    assert_true(m->has_datacount);
    assert_int_equal(m->datacount, 3);
    wasm_module_destroy(m);

    expect_error("05 { 01 00 01 }  0b { 01 03 00 }", true,
                 "at offset 0x10: ", "malformed data segment kind");
    /* segment says 7 bytes, 6 follow before the end */
    expect_error("05 { 01 00 01 }  0b 0c 01 00 41 03 0b 07 61 62 63 64 65 66", true, NULL,
                 "unexpected end");
    /* data segment for a memory that does not exist */
    expect_error("0b { 01 00 41 00 0b 01 61 }", true, "at offset 0xb: ", "unknown memory 0");
}

static void test_name_section(void **state)
{
    (void)state;
    /* module name "mod", function 0 named "f" */
    th_wasm_module *m = expect_ok("01 { 01 60 00 00 }  03 { 01 00 }"
                                  "0a { 01 { 00 0b } }"
                                  "00 { 04 6e 61 6d 65"
                                  "     00 { 03 6d 6f 64 }"
                                  "     01 { 01 00 01 66 } }");
    assert_non_null(m->name);
    assert_string_equal(m->name, "mod");
    assert_non_null(m->func_names);
    assert_string_equal(m->func_names[0], "f");
    wasm_module_destroy(m);

    /* a broken name section (function index 5 of 1) is ignored */
    m = expect_ok("01 { 01 60 00 00 }  03 { 01 00 }  0a { 01 { 00 0b } }"
                  "00 { 04 6e 61 6d 65  01 { 01 05 01 66 } }");
    assert_null(m->func_names);
    assert_null(m->name);
    wasm_module_destroy(m);
    /* so is one that ends inside a subsection */
    m = expect_ok("00 { 04 6e 61 6d 65  00 05 03 6d }");
    assert_null(m->name);
    wasm_module_destroy(m);
}

static void test_refs_and_exports(void **state)
{
    (void)state;
    /* functions 0..2; 0 exported, 1 in a global initializer, 2 nowhere */
    th_wasm_module *m = expect_ok("01 { 01 60 00 00 }  03 { 03 00 00 00 }"
                                  "06 { 01 70 00 d2 01 0b }"
                                  "07 { 01 01 66 00 00 }"
                                  "0a { 03 { 00 0b } { 00 0b } { 00 0b } }");
    assert_int_equal(m->func_declared[0], 1);
    assert_int_equal(m->func_declared[1], 1);
    assert_int_equal(m->func_declared[2], 0);
    wasm_module_destroy(m);

    expect_error("01 { 01 60 00 00 }  03 { 01 00 }"
                 "07 { 02 01 61 00 00 01 61 00 00 }  0a { 01 { 00 0b } }",
                 true, "at offset 0x19: ", "duplicate export name"); /* the second one */
    expect_error("07 { 01 01 61 00 00 }", true, "at offset 0xb: ", "unknown function 0");
    expect_error("07 { 01 01 61 03 02 }", true, "at offset 0xb: ", "unknown global 2");
    expect_error("05 { 01 00 01 }  07 { 02 01 61 02 00  01 62 02 01 }", true,
                 "at offset 0x14: ", "export 1: unknown memory 1");
    expect_error("07 { 01 01 61 04 00 }", true, "at offset 0xd: ", "malformed export kind");
}

static void test_const_exprs(void **state)
{
    (void)state;
    /* imported immutable i32 global used by a global and a data offset */
    th_wasm_module *m = expect_ok("02 { 01 01 6d 01 67 03 7f 00 }"
                                  "05 { 01 00 01 }"
                                  "06 { 01 7f 00 23 00 0b }"
                                  "0b { 01 00 23 00 0b 01 78 }");
    wasm_module_destroy(m);
    /* global.get of a defined global */
    expect_error("06 { 02 7f 00 41 00 0b 7f 00 23 00 0b }", true, NULL, "unknown global 0");
    /* global.get of an imported mutable global */
    expect_error("02 { 01 01 6d 01 67 03 7f 01 }  06 { 01 7f 00 23 00 0b }", true, NULL,
                 "constant expression required");
    /* i32.add is not constant in 2.0 */
    expect_error("06 { 01 7f 00 41 01 41 02 6a 0b }", true, NULL, "constant expression required");
    /* nop */
    expect_error("06 { 01 7f 00 01 41 00 0b }", true, NULL, "constant expression required");
    /* wrong type, no value, two values */
    expect_error("06 { 01 7f 00 42 00 0b }", true, NULL, "type mismatch");
    expect_error("06 { 01 7f 00 0b }", true, NULL, "type mismatch");
    expect_error("06 { 01 7f 00 41 00 41 00 0b }", true, NULL, "type mismatch");
    /* ref.func of a function that does not exist */
    expect_error("06 { 01 70 00 d2 03 0b }", true, NULL, "unknown function 3");
    /* funcref segment into an externref table */
    expect_error("01 { 01 60 00 00 }  03 { 01 00 }  04 { 01 6f 00 01 }"
                 "09 { 01 00 41 00 0b 01 00 }  0a { 01 { 00 0b } }",
                 true, "at offset 0x1b: ", "type mismatch");
    /* segment for a table that does not exist */
    expect_error("01 { 01 60 00 00 }  03 { 01 00 }"
                 "09 { 01 02 03 41 00 0b 00 00 }  0a { 01 { 00 0b } }",
                 true, "at offset 0x15: ", "unknown table 3");
    /* a function index out of range in the second segment */
    expect_error("01 { 01 60 00 00 }  03 { 01 00 }  04 { 01 70 00 01 }"
                 "09 { 02 00 41 00 0b 01 00  00 41 00 0b 01 05 }  0a { 01 { 00 0b } }",
                 true, "at offset 0x21: ", "element segment 1: unknown function 5");
}

static void test_limits_and_start(void **state)
{
    (void)state;
    /* every module-level error names the byte offset of the entry that is
     * wrong: a memory, table, import or function entry, the start index */
    expect_error("05 { 01 01 02 01 }", true,
                 "at offset 0xb: ", "size minimum must not be greater than maximum");
    expect_error("04 { 01 70 01 02 01 }", true,
                 "at offset 0xb: ", "size minimum must not be greater than maximum");
    expect_error("04 { 02 70 00 01  70 01 02 01 }", true,
                 "at offset 0xe: ", "table 1: size minimum must not be greater than maximum");
    expect_error("05 { 01 00 81 80 04 }", true,
                 "at offset 0xb: ", "memory size must be at most 65536 pages (4GiB)");
    expect_error("05 { 01 01 00 81 80 04 }", true,
                 "at offset 0xb: ", "memory size must be at most 65536 pages (4GiB)");
    expect_error("02 { 01 01 6d 01 61 02 01 02 01 }", true,
                 "at offset 0xb: ", "import 0: size minimum must not be greater than maximum");
    /* the second memory: a defined one, an imported one */
    expect_error("05 { 02 00 00 00 00 }", true, "at offset 0xd: ", "multiple memories");
    expect_error("02 { 01 01 6d 01 61 02 00 00 }  05 { 01 00 00 }", true,
                 "at offset 0x15: ", "multiple memories");
    expect_error("02 { 02 01 6d 01 61 02 00 00  01 6d 01 62 02 00 00 }", true,
                 "at offset 0x12: ", "multiple memories");
    th_wasm_module *m = expect_ok("05 { 01 01 00 80 80 04 }");
    assert_int_equal(m->mems[0].max, 65536);
    wasm_module_destroy(m);
    /* start function with a parameter */
    expect_error("01 { 01 60 01 7f 00 }  03 { 01 00 }  08 { 00 }"
                 "0a { 01 { 00 0b } }",
                 true, "at offset 0x15: ", "start function");
    expect_error("08 { 00 }", true, "at offset 0xa: ", "unknown function 0");
    /* function with a type index out of range: the first, the second */
    expect_error("03 { 01 00 }  0a { 01 { 00 0b } }", true, "at offset 0xb: ", "unknown type");
    expect_error("01 { 01 60 00 00 }  03 { 02 00 07 }  0a { 02 { 00 0b } { 00 0b } }", true,
                 "at offset 0x12: ", "function 1: unknown type 7");
    /* an imported function of an unknown type */
    expect_error("02 { 01 01 6d 01 66 00 05 }", true,
                 "at offset 0xb: ", "import 0: unknown type 5");
}

static void test_type_canon(void **state)
{
    (void)state;
    th_wasm_module *a = expect_ok("01 { 03 60 01 7f 01 7e 60 00 00 60 01 7f 01 7e }");
    th_wasm_module *b = expect_ok("01 { 01 60 01 7f 01 7e }");
    assert_int_equal(a->types[0].canon, a->types[2].canon);
    assert_int_not_equal(a->types[0].canon, a->types[1].canon);
    assert_int_equal(a->types[0].canon, b->types[0].canon);
    assert_int_not_equal(a->types[0].canon, 0);
    uint8_t t[2] = {TH_WASM_I32, TH_WASM_I64};
    uint32_t id = wasm_functype_canon(t, 1, 1);
    assert_int_equal(id, b->types[0].canon);
    wasm_functype_release(id);
    /* (i32 i64) -> () differs from (i32) -> (i64) */
    id = wasm_functype_canon(t, 2, 0);
    assert_int_not_equal(id, b->types[0].canon);
    wasm_functype_release(id);
    wasm_module_destroy(a);
    wasm_module_destroy(b);
}

static void test_type_canon_release(void **state)
{
    (void)state;
    enum { N = 1000 };
    uint32_t ids[N];

    /* N distinct types: (i32 x k) -> (f64) for k = 0..N-1 */
    for (uint32_t k = 0; k < N; k++) {
        uint8_t *ty = malloc(k + 1);
        memset(ty, TH_WASM_I32, k);
        ty[k] = TH_WASM_F64;
        ids[k] = wasm_functype_canon(ty, k, 1);
        assert_int_not_equal(ids[k], 0);
        /* a second reference gets the same id */
        assert_int_equal(wasm_functype_canon(ty, k, 1), ids[k]);
        free(ty);
    }
    /* drop both references of every other type */
    for (uint32_t k = 0; k < N; k += 2) {
        wasm_functype_release(ids[k]);
        wasm_functype_release(ids[k]);
    }
    /* the others keep their ids; the dropped ones come back with ids that
     * differ from every live one */
    for (uint32_t k = 0; k < N; k++) {
        uint8_t *ty = malloc(k + 1);
        memset(ty, TH_WASM_I32, k);
        ty[k] = TH_WASM_F64;
        uint32_t id = wasm_functype_canon(ty, k, 1);
        if (k % 2 == 1) {
            assert_int_equal(id, ids[k]);
        } else {
            for (uint32_t j = 1; j < N; j += 2)
                assert_int_not_equal(id, ids[j]);
            ids[k] = id;
        }
        free(ty);
    }
    /* release everything taken above */
    for (uint32_t k = 0; k < N; k++) {
        wasm_functype_release(ids[k]);
        if (k % 2 == 1) {
            wasm_functype_release(ids[k]);
            wasm_functype_release(ids[k]);
        }
    }
    wasm_functype_release(0); /* no-op */
}

static void test_truncations(void **state)
{
    (void)state;
    /* Every proper prefix of a valid module with all kinds of sections
     * must be rejected cleanly (no crash, an error with an offset). */
    static const char *full = "01 { 02 60 01 7f 01 7f 60 00 00 }"
                              "02 { 01 01 6d 01 67 03 7f 00 }"
                              "03 { 02 00 01 }"
                              "04 { 01 70 00 02 }"
                              "05 { 01 00 01 }"
                              "06 { 01 7f 01 41 05 0b }"
                              "07 { 02 01 66 00 01 01 6d 02 00 }"
                              "09 { 01 00 41 00 0b 01 01 }"
                              "0c { 01 }"
                              "0a { 02 { 00 20 00 0b } { 01 01 7f 0b } }"
                              "0b { 01 00 41 00 0b 01 61 }"
                              "00 { 04 6e 61 6d 65 00 { 00 } }";
    uint8_t buf[512];
    size_t n = hex_module(full, buf, sizeof buf, true);
    th_wasm_module *m;
    th_error err;

    assert_int_equal(wasm_decode(buf, n, &m, &err), 0);
    assert_int_equal(wasm_validate_module(m, &err), 0);
    wasm_module_destroy(m);
    for (size_t k = 0; k < n; k++) {
        int rc = wasm_decode(buf, k, &m, &err);
        if (rc == 0) {
            /* a prefix that ends exactly between sections before the code
             * section can be well-formed */
            wasm_module_destroy(m);
            continue;
        }
        assert_int_equal(rc, TH_EINVAL);
        assert_non_null(strstr(err.msg, "at offset 0x"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_leb128),
        cmocka_unit_test(test_names_utf8),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_locals),
        cmocka_unit_test(test_body_end),
        cmocka_unit_test(test_elem_forms),
        cmocka_unit_test(test_data_forms),
        cmocka_unit_test(test_name_section),
        cmocka_unit_test(test_refs_and_exports),
        cmocka_unit_test(test_const_exprs),
        cmocka_unit_test(test_limits_and_start),
        cmocka_unit_test(test_type_canon),
        cmocka_unit_test(test_type_canon_release),
        cmocka_unit_test(test_truncations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
