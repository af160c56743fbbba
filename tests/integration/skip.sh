# skip.sh - skips an integration script cannot hide; a script sources it
# (lib.sh does) with
#   . "$(dirname "$0")/../skip.sh"
#
#   it_skip WHY        the test cannot run (something it needs is missing):
#                      exit 77, which ctest reports as skipped
#                      (SKIP_RETURN_CODE), never as passed
#   it_skip_part WHY   a part of it cannot run: say so and go on; the
#                      script ends with it_skipped_parts
#   it_skipped_parts   exit 77 if a part was skipped (call it after the
#                      script's own failures made it exit 1)
#
# Under THEATER_REQUIRE_SUITES=1 (.ci/run: the machine has everything
# scripts/setup.sh installs and the build makes) a skip fails instead:
# it_skip exits 1, it_skip_part exits 1 at once.

it_skip() {
    if [ "${THEATER_REQUIRE_SUITES:-}" = 1 ]; then
        echo "FAILED: $1 (THEATER_REQUIRE_SUITES=1: a skip would hide this test)" >&2
        exit 1
    fi
    echo "skipped: $1"
    exit 77
}

it_parts_skipped=
it_skip_part() {
    if [ "${THEATER_REQUIRE_SUITES:-}" = 1 ]; then
        echo "FAILED: $1 (THEATER_REQUIRE_SUITES=1: a skip would hide part of this test)" >&2
        exit 1
    fi
    echo "skipped part: $1"
    it_parts_skipped=1
}

it_skipped_parts() {
    [ -z "$it_parts_skipped" ] || exit 77
}
