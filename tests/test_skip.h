/*
 * test_skip.h - skips a cmocka test program cannot hide.
 *
 * cmocka counts a skipped case as no failure, so a program whose cases
 * were all skipped would pass.  Here a skip is seen:
 *
 *   th_skip_missing("wat2wasm (Debian package wabt)");
 *       in a case: something it needs is missing.  The case is skipped
 *       and the program exits 77 (th_test_exit), which ctest reports as
 *       skipped (SKIP_RETURN_CODE, set by th_test_skips in
 *       cmake/tests.cmake).  Under THEATER_REQUIRE_SUITES=1 (.ci/run: the
 *       machine has everything scripts/setup.sh installs and every guest
 *       the build makes) the case fails instead.
 *   th_skip(why);
 *       a skip that does not depend on the set-up (the system would not
 *       map 4 GiB): the program exits 77 also under CI.
 *
 *   int main(void) { ... return th_test_exit(cmocka_run_group_tests(...)); }
 *
 * Include after <cmocka.h>.
 */
#ifndef THEATER_TESTS_TEST_SKIP_H
#define THEATER_TESTS_TEST_SKIP_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int th_test_skipped;

/* True when a missing tool, suite or guest is a failure (CI). */
static inline bool th_test_required(void)
{
    const char *v = getenv("THEATER_REQUIRE_SUITES");

    return v != NULL && strcmp(v, "1") == 0;
}

/* Skip the running case: `what` (a tool, a guest, a suite) is missing. */
static inline void th_skip_missing(const char *what)
{
    if (th_test_required())
        fail_msg("%s is missing (THEATER_REQUIRE_SUITES=1: a skip would hide this case)", what);
    print_message("skipped: %s is missing\n", what);
    th_test_skipped++;
    skip();
}

/* Skip the running case for a reason that is not a missing set-up. */
static inline void th_skip(const char *why)
{
    print_message("skipped: %s\n", why);
    th_test_skipped++;
    skip();
}

/* The program's exit status: 1 if a case failed, else 77 if one was
 * skipped, else 0. */
static inline int th_test_exit(int failed)
{
    if (failed != 0)
        return 1;
    return th_test_skipped > 0 ? 77 : 0;
}

#endif
