/*
 * home.h - THEATER_HOME, the directory that holds theater.db (content,
 * labels, event chains), the chain signing key and the daemon's socket.
 * Implemented by src/db/, the part below the store and the chain.
 */
#ifndef THEATER_HOME_H
#define THEATER_HOME_H

#include <stddef.h>

#include "theater/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Resolve the THEATER_HOME directory: `home` if not NULL, else the
 * THEATER_HOME environment variable, else $HOME/.theater.  Writes the path
 * into `out` (`cap` bytes).  Returns 0 or TH_EINVAL / TH_ETOOBIG. */
int th_home_resolve(const char *home, char *out /* out */, size_t cap, th_error *err);

#ifdef __cplusplus
}
#endif

#endif
