/*
 * test_base_jscan.c - reading JSON in place (base/jscan.h): spans of
 * values, members by key, array elements, plain strings; malformed or
 * truncated text is an error at every length, never a read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/jscan.h"

static base_jspan span(const char *s)
{
    return (base_jspan){s, strlen(s)};
}

static void test_values(void **state)
{
    static const char *const good[] = {
        "0",
        "-1.5e+3",
        "\"a\\u00e9\\n\"",
        "true",
        "false",
        "null",
        "[]",
        "{}",
        "[1,[2,{\"a\":[]}],\"x\"]",
        " {\"k\" : [ null , 1 ] } ",
    };
    static const char *const bad[] = {
        "",        "01",         "-",     "1.",  "1e",  "\"abc", "\"\\x\"",  "\"\\u12g4\"", "[1,]",
        "{\"a\"}", "{\"a\":1,}", "[1 2]", "tru", "nul", "{1:2}", "\"a\nb\"", "[1]]",
    };
    base_jspan v;
    size_t i;
    char deep[2 * BASE_JSCAN_MAX_DEPTH + 3];

    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(base_jscan_whole(good[i], strlen(good[i]), &v), 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(base_jscan_whole(bad[i], strlen(bad[i]), &v), -1);
    /* nesting beyond the limit is refused */
    memset(deep, '[', BASE_JSCAN_MAX_DEPTH + 1);
    memset(deep + BASE_JSCAN_MAX_DEPTH + 1, ']', BASE_JSCAN_MAX_DEPTH + 1);
    assert_int_equal(base_jscan_whole(deep, 2 * BASE_JSCAN_MAX_DEPTH + 2, &v), -1);
    assert_int_equal(base_jscan_whole(deep + 1, 2 * BASE_JSCAN_MAX_DEPTH, &v), 0);
}

static void test_truncated(void **state)
{
    const char *doc = "{\"function\":\"handle-send\",\"params\":[\"31\",null],\"result\":"
                      "{\"state\":\"3339\",\"e\":\"\\u00e9\"}}";
    size_t n = strlen(doc), k;
    base_jspan v;
    char *copy;

    (void)state;
    for (k = 0; k < n; k++) {
        /* an exact-size copy: a read past its end is caught by ASan */
        copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, doc, k);
        assert_int_equal(base_jscan_whole(copy, k, &v), -1);
        free(copy);
    }
    assert_int_equal(base_jscan_whole(doc, n, &v), 0);
}

static void test_objects(void **state)
{
    static const char *const keys[] = {"function", "params", "from", "result"};
    base_jspan v[4], x, key, val;
    size_t at = 0;
    const char *doc = "{\"function\":\"handle-send\",\"params\":[\"31\", null ,{\"a\":1}],"
                      "\"res\\u0075lt\":1,\"result\":{\"state\":\"33\"}}";

    (void)state;
    assert_int_equal(base_jscan_object(span(doc), keys, 4, v), 4);
    assert_true(base_jscan_plain(v[0], &x));
    assert_int_equal(x.n, 11);
    assert_memory_equal(x.p, "handle-send", 11);
    assert_null(v[2].p);
    assert_int_equal(v[3].n, strlen("{\"state\":\"33\"}"));
    assert_int_equal(base_jscan_next(v[1], &at, &x), 1);
    assert_true(base_jscan_plain(x, &x) && x.n == 2);
    assert_int_equal(base_jscan_next(v[1], &at, &x), 1);
    assert_true(base_jscan_is(x, "null"));
    assert_int_equal(base_jscan_next(v[1], &at, &x), 1);
    assert_int_equal(x.n, 7);
    assert_int_equal(base_jscan_next(v[1], &at, &x), 0);
    /* a key twice is left to the full parser */
    assert_int_equal(base_jscan_object(span("{\"a\":1,\"a\":2}"), keys, 1, v), 2);
    assert_int_equal(base_jscan_object(span("{\"function\":1,\"function\":2}"), keys, 1, v), -1);
    assert_int_equal(base_jscan_object(span("{}"), keys, 4, v), 0);
    assert_int_equal(base_jscan_object(span("[1]"), keys, 4, v), -1);
    /* escaped strings are not plain */
    assert_false(base_jscan_plain(span("\"a\\\"b\""), &x));
    assert_true(base_jscan_plain(span("\"\""), &x) && x.n == 0);
    /* one-member objects */
    assert_int_equal(base_jscan_single(span("{ \"ok\" : [1] }"), &key, &val), 0);
    assert_true(key.n == 2 && memcmp(key.p, "ok", 2) == 0 && val.n == 3);
    assert_int_equal(base_jscan_single(span("{\"ok\":1,\"err\":2}"), &key, &val), -1);
    assert_int_equal(base_jscan_single(span("{}"), &key, &val), -1);
    /* empty arrays */
    at = 0;
    assert_int_equal(base_jscan_next(span("[ ]"), &at, &x), 0);
    assert_int_equal(base_jscan_next(span("[ ]"), &at, &x), 0);
    at = 0;
    assert_int_equal(base_jscan_next(span("{}"), &at, &x), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_objects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
