/*
 * fuzz_manifest_main.c - libFuzzer entry point for the manifest harness
 * (built with THEATER_FUZZ=ON and clang, see tests/fuzz/README.md).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
unsigned fuzz_replay_reached(void);

static unsigned reached; /* manifests accepted (replay_main.c asks) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reached += (unsigned)fuzz_manifest_one(data, size);
    return 0;
}

unsigned fuzz_replay_reached(void)
{
    return reached;
}
