/*
 * fuzz_api.h - the daemon's request path as a fuzz target (fuzz_api.c).
 */
#ifndef THEATER_FUZZ_API_H
#define THEATER_FUZZ_API_H

#include <stddef.h>
#include <stdint.h>

/* Send one input to the server (started on first use) as a client's bytes;
 * returns 1 if it was sent, 0 if skipped (too large). */
int fuzz_api_one(const uint8_t *data, size_t size);
/* Stop the server and remove its home. */
void fuzz_api_finish(void);

#endif
