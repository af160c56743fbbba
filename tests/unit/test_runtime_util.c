/*
 * test_runtime_util.c - runtime helpers (src/runtime/util.c): UTF-8
 * validation as the Canonical ABI lifts strings, the JSON writers of chain
 * event data, and UUID v4 ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/rt_int.h"

static bool ok(const char *s, size_t n)
{
    return rt_utf8_valid((const uint8_t *)s, n);
}

static void test_utf8(void **unused)
{
    (void)unused;
    assert_true(ok("", 0));
    assert_true(ok("plain ascii", 11));
    assert_true(ok("caf\xc3\xa9", 5));
    assert_true(ok("\xe2\x82\xac", 3));     /* euro sign */
    assert_true(ok("\xf0\x9f\x98\x80", 4)); /* emoji */
    assert_true(ok("a\0b", 3));             /* NUL is a character */
    assert_false(ok("\xff", 1));
    assert_false(ok("\xc3", 1));             /* truncated */
    assert_false(ok("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(ok("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(ok("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(ok("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(ok("\xe2\x28\xa1", 3));     /* bad continuation */
    assert_false(ok("ok\x80", 3));           /* lone continuation */
}

static void test_json(void **unused)
{
    rt_buf b = {0};

    (void)unused;
    rt_buf_json_str(&b, "a\"b\\c\n\x01\xc3\xa9\xff", 10);
    rt_buf_puts(&b, " ");
    rt_buf_json_hex(&b, (const uint8_t *)"\x00\xab\xff", 3);
    rt_buf_printf(&b, " %d %s", 42, "x");
    assert_false(b.oom);
    assert_string_equal((char *)b.data,
                        "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\" \"00abff\" 42 x");
    rt_buf_release(&b);
    assert_null(b.data);
}

static void test_uuid(void **unused)
{
    char a[RT_ID_LEN + 1], b[RT_ID_LEN + 1];
    int i;

    (void)unused;
    for (i = 0; i < 1000; i++) {
        rt_uuid_v4(a);
        rt_uuid_v4(b);
        assert_int_equal(strlen(a), 36);
        assert_true(rt_id_valid(a, 36));
        assert_int_equal(a[14], '4');
        assert_non_null(strchr("89ab", a[19]));
        assert_string_not_equal(a, b);
    }
    assert_false(rt_id_valid("not-a-uuid", 10));
    assert_false(rt_id_valid("0123456789012345678901234567890123456", 36));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
