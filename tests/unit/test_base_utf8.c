/*
 * test_base_utf8.c - the one UTF-8 check (src/base/utf8.c): well-formed
 * sequences of every length, and each way a sequence can be ill-formed
 * (RFC 3629): bad lead bytes, truncation, bad continuations, overlong
 * forms, surrogates, code points above U+10FFFF; and the copy that puts
 * U+FFFD for each byte that fails it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/utf8.h"

static bool ok(const char *s, size_t n)
{
    return base_utf8_valid((const uint8_t *)s, n);
}

static void test_valid(void **unused)
{
    (void)unused;
    assert_true(ok("", 0));
    assert_true(ok("plain ascii", 11));
    assert_true(ok("caf\xc3\xa9", 5));
    assert_true(ok("\xe2\x82\xac", 3));     /* euro sign */
    assert_true(ok("\xf0\x9f\x98\x80", 4)); /* emoji */
    assert_true(ok("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF, the last */
    assert_true(ok("\xee\x80\x80", 3));     /* U+E000, just past the surrogates */
    assert_true(ok("a\0b", 3));             /* NUL is a character */
    assert_false(ok("\xff", 1));
    assert_false(ok("\xc3", 1));             /* truncated */
    assert_false(ok("\xf0\x9f\x98", 3));     /* truncated */
    assert_false(ok("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(ok("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(ok("\xf0\x8f\xbf\xbf", 4)); /* overlong U+FFFF */
    assert_false(ok("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(ok("\xed\xbf\xbf", 3));     /* surrogate */
    assert_false(ok("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(ok("\xe2\x28\xa1", 3));     /* bad continuation */
    assert_false(ok("ok\x80", 3));           /* lone continuation */
}

static void test_seq_and_prefix(void **unused)
{
    static const uint8_t mixed[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc0\xafz";

    (void)unused;
    assert_int_equal(base_utf8_seq(mixed, 1), 1);
    assert_int_equal(base_utf8_seq(mixed + 1, 2), 2);
    assert_int_equal(base_utf8_seq(mixed + 1, 1), 0); /* only 1 of its 2 bytes readable */
    assert_int_equal(base_utf8_seq(mixed + 3, 3), 3);
    assert_int_equal(base_utf8_seq(mixed + 6, 4), 4);
    assert_int_equal(base_utf8_seq(mixed + 10, 2), 0);
    assert_int_equal(base_utf8_prefix(mixed, sizeof mixed - 1), 10);
    assert_int_equal(base_utf8_prefix(mixed, 10), 10);
    assert_int_equal(base_utf8_prefix(mixed, 9), 6); /* the emoji cut short */
    assert_int_equal(base_utf8_prefix(mixed, 0), 0);
}

static void expect_scrub(const char *in, size_t n, const char *want)
{
    char *got = base_utf8_scrub((const uint8_t *)in, n);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_scrub(void **unused)
{
    (void)unused;
    expect_scrub("", 0, "");
    expect_scrub("caf\xc3\xa9", 5, "caf\xc3\xa9");
    expect_scrub("a\xffz", 3, "a\xef\xbf\xbdz");
    /* one U+FFFD a byte: an overlong pair is two, a cut sequence each of its bytes */
    expect_scrub("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
    expect_scrub("x\xf0\x9f\x98", 4, "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    expect_scrub("%\xff/\xe2\x82\xac", 6, "%\xef\xbf\xbd/\xe2\x82\xac");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_seq_and_prefix),
        cmocka_unit_test(test_scrub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
