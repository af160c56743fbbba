/*
 * fuzz_manifest.h - the manifest fuzz harness (manifest checking with
 * ${VAR} substitution, and attenuation of a child manifest against its
 * parent), shared by the libFuzzer target (fuzz_manifest_main.c) and the
 * corpus replay test (fuzz_manifest_main.c with replay_main.c).
 */
#ifndef THEATER_FUZZ_MANIFEST_H
#define THEATER_FUZZ_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

/* Run one input (format in fuzz_manifest.c).  Returns how many manifests
 * were accepted (0, 1 or 2).  A crash, a sanitizer report, a leak or an
 * abort (a child accepted with more than its parent holds) is a bug. */
int fuzz_manifest_one(const uint8_t *data, size_t size);

#endif
