/*
 * test_base_toml.c - unit tests of the TOML parser's API (src/base/toml.h):
 * the tree and its accessors, line numbers, typed date-times, number edge
 * cases, table-definition rules beyond toml-test, error positions, limits
 * on untrusted input, big tables (hash index) and the formatters.  The
 * full conformance suite runs separately (tests/toml, ctest toml.conformance).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/limits.h"
#include "base/toml.h"

static toml_value *parse_ok(const char *text)
{
    toml_value *root = NULL;
    th_error err = {0};
    int rc = toml_parse(text, strlen(text), &root, &err);
    if (rc != 0)
        fail_msg("unexpected error: %s\n--- input ---\n%s", err.msg, text);
    assert_non_null(root);
    return root;
}

/* Parse, expect failure with `code`, and return the message. */
static const char *parse_bad(const char *text, size_t len, int code)
{
    static th_error err;
    toml_value *root = (toml_value *)1;
    memset(&err, 0, sizeof err);
    int rc = toml_parse(text, len, &root, &err);
    if (rc == 0)
        fail_msg("accepted invalid input:\n%s", text);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_null(root);
    return err.msg;
}

static void test_tree_and_lines(void **state)
{
    (void)state;
    toml_value *root = parse_ok("# comment\n"
                                "name = \"counter\"\n"
                                "\n"
                                "[server]\n"
                                "port = 8080\n"
                                "hosts = [\n"
                                "  \"a\",\n"
                                "  \"b\",\n"
                                "]\n"
                                "[[handler]]\n"
                                "type = \"random\"\n"
                                "[[handler]]\n"
                                "type = \"timing\"\n");
    const toml_keyval *kv = toml_table_find(root, "name");
    assert_non_null(kv);
    assert_int_equal(kv->line, 2);
    assert_int_equal(kv->value->type, TOML_STRING);
    assert_string_equal(kv->value->u.s.ptr, "counter");
    assert_int_equal(kv->value->u.s.len, 7);

    const toml_value *server = toml_table_get(root, "server");
    assert_non_null(server);
    assert_int_equal(server->type, TOML_TABLE);
    assert_int_equal(server->line, 4);
    assert_int_equal(toml_table_find(server, "port")->line, 5);
    assert_int_equal(toml_table_get(server, "port")->u.i, 8080);
    const toml_value *hosts = toml_table_get(server, "hosts");
    assert_int_equal(toml_array_len(hosts), 2);
    assert_int_equal(toml_array_get(hosts, 1)->line, 8);
    assert_string_equal(toml_array_get(hosts, 1)->u.s.ptr, "b");
    assert_null(toml_array_get(hosts, 2));

    const toml_value *handlers = toml_table_get(root, "handler");
    assert_int_equal(handlers->type, TOML_ARRAY);
    assert_int_equal(toml_array_len(handlers), 2);
    assert_int_equal(toml_array_get(handlers, 1)->line, 12);
    assert_string_equal(toml_table_get(toml_array_get(handlers, 1), "type")->u.s.ptr, "timing");
    assert_int_equal(toml_table_find(toml_array_get(handlers, 1), "type")->line, 13);

    /* Document order is kept. */
    assert_int_equal(toml_table_len(root), 3);
    assert_string_equal(toml_table_entry(root, 0)->key, "name");
    assert_string_equal(toml_table_entry(root, 1)->key, "server");
    assert_string_equal(toml_table_entry(root, 2)->key, "handler");
    assert_null(toml_table_entry(root, 3));

    /* Accessors are NULL-safe and type-checked. */
    assert_null(toml_table_get(NULL, "x"));
    assert_null(toml_table_get(hosts, "x"));
    assert_int_equal(toml_array_len(server), 0);
    assert_int_equal(toml_table_len(NULL), 0);
    toml_free(root);
    toml_free(NULL);
}

static void test_strings(void **state)
{
    (void)state;
    toml_value *root = parse_ok("a = \"tab\\there \\u00e9 \\U0001F600 \\\\ \\\"\"\n"
                                "b = 'C:\\path\\n'\n"
                                "c = \"\"\"\r\nline1\r\nline2 \\\r\n   \r\n  joined\"\"\"\n"
                                "d = '''\n''two quotes'' '''\n"
                                "e = \"nul\\u0000inside\"\n"
                                "f = \"\"\"\"\"\"\"\n");
    assert_string_equal(toml_table_get(root, "a")->u.s.ptr,
                        "tab\there \xC3\xA9 \xF0\x9F\x98\x80 \\ \"");
    assert_string_equal(toml_table_get(root, "b")->u.s.ptr, "C:\\path\\n");
    assert_string_equal(toml_table_get(root, "c")->u.s.ptr, "line1\nline2 joined");
    assert_string_equal(toml_table_get(root, "d")->u.s.ptr, "''two quotes'' ");
    const toml_value *e = toml_table_get(root, "e");
    assert_int_equal(e->u.s.len, 10);
    assert_memory_equal(e->u.s.ptr, "nul\0inside", 10);
    assert_string_equal(toml_table_get(root, "f")->u.s.ptr, "\"");
    toml_free(root);
}

static void test_integers_and_floats(void **state)
{
    (void)state;
    toml_value *root = parse_ok("max = 9223372036854775807\n"
                                "min = -9223372036854775808\n"
                                "hex = 0xDEAD_beef\n"
                                "hexmax = 0x7FFFFFFFFFFFFFFF\n"
                                "oct = 0o755\n"
                                "bin = 0b1101\n"
                                "neg0 = -0\n"
                                "f1 = 6.626e-34\n"
                                "f2 = -0.0\n"
                                "f3 = 1_000.000_1\n"
                                "f4 = -inf\n"
                                "f5 = nan\n"
                                "f6 = 1e+2_0\n"
                                "tiny = 4.9e-324\n");
    assert_true(toml_table_get(root, "max")->u.i == INT64_MAX);
    assert_true(toml_table_get(root, "min")->u.i == INT64_MIN);
    assert_int_equal(toml_table_get(root, "hex")->u.i, 0xDEADBEEF);
    assert_true(toml_table_get(root, "hexmax")->u.i == INT64_MAX);
    assert_int_equal(toml_table_get(root, "oct")->u.i, 0755);
    assert_int_equal(toml_table_get(root, "bin")->u.i, 13);
    assert_int_equal(toml_table_get(root, "neg0")->u.i, 0);
    assert_int_equal(toml_table_get(root, "f1")->type, TOML_FLOAT);
    assert_true(toml_table_get(root, "f1")->u.f == 6.626e-34);
    assert_true(signbit(toml_table_get(root, "f2")->u.f));
    assert_true(toml_table_get(root, "f3")->u.f == 1000.0001);
    assert_true(isinf(toml_table_get(root, "f4")->u.f) && toml_table_get(root, "f4")->u.f < 0);
    assert_true(isnan(toml_table_get(root, "f5")->u.f));
    assert_true(toml_table_get(root, "f6")->u.f == 1e20);
    assert_true(toml_table_get(root, "tiny")->u.f == 4.9e-324);
    toml_free(root);

    assert_non_null(strstr(parse_bad("x = 9223372036854775808", 23, TH_EINVAL), "64 bits"));
    assert_non_null(strstr(parse_bad("x = -9223372036854775809", 24, TH_EINVAL), "64 bits"));
    assert_non_null(strstr(parse_bad("x = 0x8000000000000000", 22, TH_EINVAL), "64 bits"));
    assert_non_null(strstr(parse_bad("x = 1e400", 9, TH_EINVAL), "out of range"));
    parse_bad("x = 0x", 6, TH_EINVAL);
    parse_bad("x = 1__0", 8, TH_EINVAL);
    parse_bad("x = 012", 7, TH_EINVAL);
    parse_bad("x = +0x1", 8, TH_EINVAL);
    parse_bad("x = 0b2", 7, TH_EINVAL);
    parse_bad("x = 0o8", 7, TH_EINVAL);
    parse_bad("x = .5", 6, TH_EINVAL);
    parse_bad("x = 5.", 6, TH_EINVAL);
    parse_bad("x = 1e", 6, TH_EINVAL);
    parse_bad("x = 1.e5", 8, TH_EINVAL);
    parse_bad("x = in", 6, TH_EINVAL);
    parse_bad("x = +nan_", 9, TH_EINVAL);
}

static void test_datetimes(void **state)
{
    (void)state;
    char text[TOML_DATETIME_MAX_TEXT];
    toml_value *root = parse_ok("odt = 1979-05-27T07:32:00.999999-07:30\n"
                                "utc = 1979-05-27 07:32:00z\n"
                                "ldt = 2000-02-29t23:59:60.1234567891\n"
                                "ld = 1979-05-27\n"
                                "lt = 00:32:00.5\n"
                                "arr = [1979-05-27, 07:32:00]\n");
    const toml_value *v = toml_table_get(root, "odt");
    assert_int_equal(v->type, TOML_DATETIME);
    assert_int_equal(v->u.dt.year, 1979);
    assert_int_equal(v->u.dt.month, 5);
    assert_int_equal(v->u.dt.day, 27);
    assert_int_equal(v->u.dt.hour, 7);
    assert_int_equal(v->u.dt.minute, 32);
    assert_int_equal(v->u.dt.nanosecond, 999999000);
    assert_int_equal(v->u.dt.frac_digits, 6);
    assert_int_equal(v->u.dt.offset_minutes, -450);
    toml_datetime_format(&v->u.dt, v->type, text, sizeof text);
    assert_string_equal(text, "1979-05-27T07:32:00.999999-07:30");

    v = toml_table_get(root, "utc");
    assert_int_equal(v->type, TOML_DATETIME);
    assert_int_equal(v->u.dt.offset_minutes, 0);
    toml_datetime_format(&v->u.dt, v->type, text, sizeof text);
    assert_string_equal(text, "1979-05-27T07:32:00Z");

    v = toml_table_get(root, "ldt");
    assert_int_equal(v->type, TOML_DATETIME_LOCAL);
    assert_int_equal(v->u.dt.second, 60);
    assert_int_equal(v->u.dt.nanosecond, 123456789); /* digits past 9 dropped */
    toml_datetime_format(&v->u.dt, v->type, text, sizeof text);
    assert_string_equal(text, "2000-02-29T23:59:60.123456789");

    v = toml_table_get(root, "ld");
    assert_int_equal(v->type, TOML_DATE_LOCAL);
    toml_datetime_format(&v->u.dt, v->type, text, sizeof text);
    assert_string_equal(text, "1979-05-27");

    v = toml_table_get(root, "lt");
    assert_int_equal(v->type, TOML_TIME_LOCAL);
    toml_datetime_format(&v->u.dt, v->type, text, sizeof text);
    assert_string_equal(text, "00:32:00.5");

    v = toml_table_get(root, "arr");
    assert_int_equal(toml_array_get(v, 0)->type, TOML_DATE_LOCAL);
    assert_int_equal(toml_array_get(v, 1)->type, TOML_TIME_LOCAL);
    assert_int_equal(toml_datetime_format(&v->u.dt, TOML_STRING, text, sizeof text), -1);
    toml_free(root);

    parse_bad("d = 1900-02-29", 14, TH_EINVAL); /* not a leap year */
    parse_bad("d = 2023-04-31", 14, TH_EINVAL);
    parse_bad("d = 1979-05-27T07:32", 20, TH_EINVAL);
    parse_bad("d = 07:32:00Z", 13, TH_EINVAL);
    parse_bad("d = 1979-05-27T07:32:00+24:00", 29, TH_EINVAL);
}

/* Rules about defining tables that toml-test leaves to the spec text. */
static void test_table_rules(void **state)
{
    (void)state;
    toml_value *root;
    /* A header may define a table that only existed implicitly, once. */
    root = parse_ok("[a.b.c]\nx = 1\n[a]\ny = 2\n[a.b]\nz = 3\n");
    assert_int_equal(toml_table_get(toml_table_get(toml_table_get(root, "a"), "b"), "z")->u.i, 3);
    toml_free(root);
    /* Dotted keys may add to implicit tables and to their own section's. */
    root = parse_ok("[a.b.c]\n[a]\nb.d = 1\nb.e.f = 2\nb.e.g = 3\n");
    assert_int_equal(toml_table_len(toml_table_get(toml_table_get(root, "a"), "b")), 3);
    toml_free(root);
    /* Headers may pass through tables defined by dotted keys. */
    root = parse_ok("[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true\n");
    toml_free(root);

    parse_bad("[a]\nb.c = 1\n[a.b]\n", 18, TH_EINVAL);        /* defined by dotted keys */
    parse_bad("a.b = 1\n[x]\n[a]\nb.c = 2\n", 23, TH_EINVAL); /* other section */
    parse_bad("a = {}\n[a.b]\n", 13, TH_EINVAL);              /* inline tables are sealed */
    parse_bad("a = [{}]\n[[a]]\n", 15, TH_EINVAL);            /* static arrays too */
    parse_bad("a = {b = {}}\na.b.c = 1\n", 22, TH_EINVAL);
    parse_bad("[[a]]\n[a]\n", 10, TH_EINVAL);
    parse_bad("a = 1\n[a.b]\n", 12, TH_EINVAL);
    parse_bad("x = {a = 1, a = 2}\n", 19, TH_EINVAL);
    parse_bad("x = {a = 1,}\n", 13, TH_EINVAL);
    parse_bad("x = {a = 1\n}\n", 13, TH_EINVAL);
}

static void test_error_positions(void **state)
{
    (void)state;
    const char *msg = parse_bad("a = 1\nb = 2\nc = @\n", 18, TH_EINVAL);
    assert_non_null(strstr(msg, "line 3, column 5"));
    msg = parse_bad("a = 1\n[t]\nx = 1\n[t]\n", 20, TH_EINVAL);
    assert_non_null(strstr(msg, "line 4"));
    assert_non_null(strstr(msg, "'t'"));
    assert_non_null(strstr(msg, "line 2")); /* where it was defined first */
    msg = parse_bad("k = 1\nk = 2\n", 12, TH_EINVAL);
    assert_non_null(strstr(msg, "duplicate key 'k'"));
    /* Columns count characters, not bytes. */
    msg = parse_bad("s = \"\xC3\xA9\xC3\xA9\" x\n", 14, TH_EINVAL);
    assert_non_null(strstr(msg, "line 1, column 10"));
    msg = parse_bad("a = \"x\"\nb = \"\xFF\"\n", 14, TH_EINVAL);
    assert_non_null(strstr(msg, "line 2"));
    assert_non_null(strstr(msg, "UTF-8"));
    msg = parse_bad("a = 1\r\nb = 2\r\nc\r\n", 16, TH_EINVAL);
    assert_non_null(strstr(msg, "line 3"));
    parse_bad("a = 1\rb = 2\n", 12, TH_EINVAL);      /* bare CR */
    parse_bad("a = \"\xED\xA0\x80\"", 9, TH_EINVAL); /* encoded surrogate */
    parse_bad("a = \"\xC0\xAF\"", 8, TH_EINVAL);     /* overlong */
    parse_bad("a = \"\\uD800\"", 12, TH_EINVAL);     /* escaped surrogate */
    parse_bad("a = \"x\0\"", 8, TH_EINVAL);          /* NUL byte */
    parse_bad("a = ", 4, TH_EINVAL);
    parse_bad("= 1", 3, TH_EINVAL);
}

static void test_limits(void **state)
{
    (void)state;
    size_t depth = TH_TOML_MAX_DEPTH + 1, n = 0;
    char *text = malloc(4 * depth + 64);
    assert_non_null(text);

    /* Nested arrays: exactly at the limit is fine, one more is refused. */
    n = (size_t)sprintf(text, "a = ");
    for (size_t i = 0; i < TH_TOML_MAX_DEPTH - 1; i++)
        text[n++] = '[';
    for (size_t i = 0; i < TH_TOML_MAX_DEPTH - 1; i++)
        text[n++] = ']';
    text[n] = '\0';
    toml_free(parse_ok(text));
    n = (size_t)sprintf(text, "a = ");
    for (size_t i = 0; i < depth; i++)
        text[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        text[n++] = ']';
    assert_non_null(strstr(parse_bad(text, n, TH_ETOOBIG), "nesting"));

    /* Inline tables and dotted keys count too. */
    n = (size_t)sprintf(text, "a = ");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(text + n, "{b=");
    text[n++] = '1';
    for (size_t i = 0; i < depth; i++)
        text[n++] = '}';
    parse_bad(text, n, TH_ETOOBIG);
    n = 0;
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(text + n, "k.");
    n += (size_t)sprintf(text + n, "k = 1");
    parse_bad(text, n, TH_ETOOBIG);
    n = (size_t)sprintf(text, "[");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(text + n, "k.");
    n += (size_t)sprintf(text + n, "k]");
    parse_bad(text, n, TH_ETOOBIG);
    free(text);

    /* Input size: checked before anything is read. */
    assert_non_null(
        strstr(parse_bad("", (size_t)TH_TOML_MAX_INPUT_BYTES + 1, TH_ETOOBIG), "limit"));
}

/* Many keys in one table go through the hash index. */
static void test_big_table(void **state)
{
    (void)state;
    enum { N = 20000 };
    char *text = malloc(N * 32), key[32];
    size_t n = 0;
    th_error err = {0};
    toml_value *root = NULL;
    assert_non_null(text);
    for (int i = 0; i < N; i++)
        n += (size_t)sprintf(text + n, "k%d = %d\n", i, i);
    assert_int_equal(toml_parse(text, n, &root, &err), 0);
    assert_int_equal(toml_table_len(root), N);
    for (int i = 0; i < N; i += 997) {
        sprintf(key, "k%d", i);
        assert_int_equal(toml_table_get(root, key)->u.i, i);
        assert_int_equal(toml_table_find(root, key)->line, i + 1);
    }
    assert_null(toml_table_get(root, "k20000"));
    toml_free(root);
    /* The duplicate is found through the index too. */
    n += (size_t)sprintf(text + n, "k123 = 0\n");
    assert_int_equal(toml_parse(text, n, &root, &err), TH_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate key 'k123'"));
    free(text);
}

static void test_string_set(void **state)
{
    (void)state;
    toml_value *root = parse_ok("s = \"old\"\ni = 1\n");
    toml_value *s = (toml_value *)toml_table_get(root, "s");
    assert_int_equal(toml_string_set(s, "new value", 9), 0);
    assert_string_equal(toml_table_get(root, "s")->u.s.ptr, "new value");
    assert_int_equal(toml_string_set(s, NULL, 0), 0);
    assert_string_equal(s->u.s.ptr, "");
    assert_int_equal(toml_string_set((toml_value *)toml_table_get(root, "i"), "x", 1), TH_EINVAL);
    toml_free(root);
}

static void test_float_format(void **state)
{
    (void)state;
    static const double cases[] = {0.1,
                                   1.0 / 3,
                                   1e300,
                                   5e-324,
                                   123456789012345680.0,
                                   -2.5,
                                   100.0,
                                   1e21,
                                   0.0,
                                   1e-5,
                                   1e-6,
                                   1e16,
                                   1e17,
                                   -1.7976931348623157e308,
                                   2.2250738585072014e-308};
    char text[TOML_FLOAT_MAX_TEXT];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        toml_value *root;
        char doc[64];
        toml_float_format(cases[i], text, sizeof text);
        /* Reads back exactly, and as a TOML float. */
        snprintf(doc, sizeof doc, "x = %s", text);
        root = parse_ok(doc);
        assert_int_equal(toml_table_get(root, "x")->type, TOML_FLOAT);
        assert_true(toml_table_get(root, "x")->u.f == cases[i]);
        toml_free(root);
    }
    toml_float_format(0.1, text, sizeof text);
    assert_string_equal(text, "0.1");
    toml_float_format(100.0, text, sizeof text);
    assert_string_equal(text, "100.0");
    toml_float_format(0.001, text, sizeof text);
    assert_string_equal(text, "0.001");
    toml_float_format(1e21, text, sizeof text);
    assert_string_equal(text, "1.0e+21");
    toml_float_format(-1.25e-7, text, sizeof text);
    assert_string_equal(text, "-1.25e-7");
    toml_float_format(123456.5, text, sizeof text);
    assert_string_equal(text, "123456.5");
    toml_float_format(-0.0, text, sizeof text);
    assert_string_equal(text, "-0.0");
    toml_float_format(-INFINITY, text, sizeof text);
    assert_string_equal(text, "-inf");
    toml_float_format(NAN, text, sizeof text);
    assert_string_equal(text, "nan");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_and_lines),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_integers_and_floats),
        cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_table_rules),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_big_table),
        cmocka_unit_test(test_string_set),
        cmocka_unit_test(test_float_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
