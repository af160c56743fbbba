/*
 * test_runtime_util.c - runtime helpers (src/runtime/util.c): the UTF-8
 * check the Canonical ABI lifts strings with, the JSON writers of chain
 * event data, and UUID v4 ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/rt_int.h"

/* Strings lifted from guests are checked by base_utf8_valid
 * (test_base_utf8.c has the cases); rt_utf8_valid is that check. */
static void test_utf8(void **unused)
{
    (void)unused;
    assert_true(rt_utf8_valid((const uint8_t *)"caf\xc3\xa9", 5));
    assert_false(rt_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
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
    /* every byte below 0x80: as it is, or escaped */
    {
        char in[128], want[1024];
        size_t i, n = 0;
        for (i = 0; i < 128; i++)
            in[i] = (char)i;
        want[n++] = '"';
        for (i = 0; i < 128; i++) {
            if (i == '"' || i == '\\')
                n += (size_t)snprintf(want + n, sizeof want - n, "\\%c", (int)i);
            else if (i == '\n' || i == '\r' || i == '\t')
                n += (size_t)snprintf(want + n, sizeof want - n, "\\%c",
                                      i == '\n'   ? 'n'
                                      : i == '\r' ? 'r'
                                                  : 't');
            else if (i < 0x20)
                n += (size_t)snprintf(want + n, sizeof want - n, "\\u%04zx", i);
            else
                want[n++] = (char)i;
        }
        want[n++] = '"';
        want[n] = 0;
        rt_buf_json_str(&b, in, sizeof in);
        assert_false(b.oom);
        assert_string_equal((char *)b.data, want);
        rt_buf_release(&b);
    }
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
