/*
 * test_base_grow.c - base_grow (src/base/grow.c): a first block of the
 * size asked for, doubling until the need is met, the block returned as it
 * is while it is large enough, nothing for a need of 0 with no block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/grow.h"

static void test_grow(void **unused)
{
    size_t cap = 0;
    char *p, *q;

    (void)unused;
    assert_null(base_grow(NULL, &cap, 0, 16));
    assert_int_equal(cap, 0);
    p = base_grow(NULL, &cap, 10, 16);
    assert_non_null(p);
    assert_int_equal(cap, 16);
    memset(p, 'x', 16);
    q = base_grow(p, &cap, 16, 16); /* large enough: the same block */
    assert_ptr_equal(q, p);
    assert_int_equal(cap, 16);
    p = base_grow(q, &cap, 17, 16);
    assert_non_null(p);
    assert_int_equal(cap, 32);
    assert_memory_equal(p, "xxxxxxxxxxxxxxxx", 16); /* the contents kept */
    p = base_grow(p, &cap, 200, 16);
    assert_int_equal(cap, 256);
    free(p);
    cap = 0;
    p = base_grow(NULL, &cap, 3, 0); /* no first size: from 1 */
    assert_int_equal(cap, 4);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
