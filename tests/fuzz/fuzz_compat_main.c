/*
 * fuzz_compat_main.c - libFuzzer entry point for the compat codec
 * (built with THEATER_FUZZ=ON and clang, see tests/fuzz/README.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
unsigned fuzz_replay_reached(void);

static unsigned reached; /* commands parsed (replay_main.c asks) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reached += (unsigned)fuzz_compat_one(data, size);
    return 0;
}

unsigned fuzz_replay_reached(void)
{
    return reached;
}
