/*
 * test_sdk_headers.c - the guest SDK's header and the host's public headers
 * in one program: their names do not collide (the SDK's are ta_ / TA_, the
 * host's th_ / TH_), and the values both define under similar names are
 * their own (the SDK's TA_OK is a status, the host's TH_OK a code).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "theater.h"
#include "theater/chain.h"
#include "theater/error.h"
#include "theater/runtime.h"
#include "theater/store.h"
#include "theater/wasm.h"

static void test_both_apis(void **unused)
{
    ta_status ok = TA_OK;
    ta_content_ref guest_ref = {TA_STR("abc")};
    th_content_ref host_ref;

    (void)unused;
    assert_true(ok.ok);
    assert_int_equal(TH_OK, 0);
    assert_int_equal(guest_ref.hash.len, 3);
    /* the host's content-ref is a fixed hex buffer, the guest's a string */
    assert_true(sizeof host_ref.hash == TH_STORE_REF_HEX_LEN + 1);
    assert_int_equal(TA_ERROR_PAUSED, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_apis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
