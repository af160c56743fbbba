/*
 * fuzz_compat.h - the fuzz harness of the compatibility listener's codec
 * (src/server/compat_codec.c), shared by the libFuzzer target
 * (fuzz_compat_main.c, also linked with replay_main.c for the corpus replay test).
 */
#ifndef THEATER_FUZZ_COMPAT_H
#define THEATER_FUZZ_COMPAT_H

#include <stddef.h>
#include <stdint.h>

/* Run one input through the decoder.  The first byte chooses the form:
 * even, the rest is one message (unwrapped, then parsed as a command);
 * odd, the rest is a byte stream from a client, cut into frames, each
 * unwrapped (with reassembly of fragments across frames) and parsed.
 * Every parsed command is encoded back into responses in both layers.
 * Returns the number of commands parsed.  A crash, a sanitizer report or
 * a leak is a bug. */
int fuzz_compat_one(const uint8_t *data, size_t size);

#endif
