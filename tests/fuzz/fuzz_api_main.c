/*
 * fuzz_api_main.c - libFuzzer entry point for the daemon's request path
 * (built with THEATER_FUZZ=ON and clang, see tests/fuzz/README.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_api_one(data, size);
    return 0;
}
