/*
 * test_base_hex.c - the one hex code (src/base/hex.c): encoding, and
 * decoding that takes exactly 2*len digits of either case and refuses
 * everything else (a short or long string, a NUL inside, any byte that is
 * not a digit, wherever it stands).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/hex.h"

static void test_encode(void **unused)
{
    const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof b + 1];

    (void)unused;
    assert_string_equal(base_hex_encode(b, sizeof b, out), "00017f80abff");
    assert_string_equal(base_hex_encode(b, 0, out), "");
}

static void test_decode(void **unused)
{
    uint8_t out[4];

    (void)unused;
    assert_int_equal(base_hex_decode("0aF9bc7E", out, 4), 0);
    assert_int_equal(out[0], 0x0a);
    assert_int_equal(out[1], 0xf9);
    assert_int_equal(out[2], 0xbc);
    assert_int_equal(out[3], 0x7e);
    assert_int_equal(base_hex_decode("", out, 0), 0);
    assert_int_equal(base_hex_decode("0aF9bc7", out, 4), -1);   /* short */
    assert_int_equal(base_hex_decode("0aF9bc7E0", out, 4), -1); /* long */
    assert_int_equal(base_hex_decode("0a", out, 0), -1);
}

/* Every byte that is not a digit is refused, in every position. */
static void test_decode_refuses_each_byte(void **unused)
{
    static const char nul_inside[9] = {'0', '1', '2', '3', '\0', '5', '6', '7', '\0'};
    char s[9];
    uint8_t out[4];
    int c, pos;

    (void)unused;
    for (c = 1; c < 256; c++) {
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
            assert_int_equal(base_hex_digit(c), c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
            continue;
        }
        assert_int_equal(base_hex_digit(c), -1);
        for (pos = 0; pos < 8; pos++) {
            memcpy(s, "01234567", 9);
            s[pos] = (char)c;
            assert_int_equal(base_hex_decode(s, out, 4), -1);
            assert_int_equal(base_hex_decode_n(s, out, 4), -1);
        }
    }
    assert_int_equal(base_hex_digit(0), -1);
    assert_int_equal(base_hex_digit(-1), -1);
    assert_int_equal(base_hex_digit(256), -1);
    /* a NUL inside: the string is short; decode_n reads it as a byte */
    assert_int_equal(base_hex_decode(nul_inside, out, 4), -1);
    assert_int_equal(base_hex_decode_n(nul_inside, out, 4), -1);
    assert_int_equal(base_hex_decode_n("01234567xyz", out, 4), 0); /* no terminator needed */
    assert_int_equal(out[3], 0x67);
}

static void test_id_lower(void **unused)
{
    char id[] = "0A1B2C3D-4E5F-4a6b-8C9D-ABCDEFabcdef", prefix[] = "E61F", bad[] = "E61G",
         plain[] = "e61f-";

    (void)unused;
    assert_int_equal(base_hex_id_lower(id), 1);
    assert_string_equal(id, "0a1b2c3d-4e5f-4a6b-8c9d-abcdefabcdef");
    assert_int_equal(base_hex_id_lower(prefix), 1);
    assert_string_equal(prefix, "e61f");
    assert_int_equal(base_hex_id_lower(plain), 1);
    assert_string_equal(plain, "e61f-");
    assert_int_equal(base_hex_id_lower(bad), 0); /* G is no hex digit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_refuses_each_byte),
        cmocka_unit_test(test_id_lower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
