/*
 * ids.h - actor ids as a person types and reads them: a unique prefix
 * stands for the whole id (as git does for commits), and every short id
 * the CLI prints is one it accepts back.
 *
 * A cli_ids is a sorted set of known ids (from the chains in THEATER_HOME,
 * or from a daemon's actor list).  Short forms are at least
 * CLI_ID_SHORT_MIN characters and as long as needed to be unique in the
 * set, so printing them and typing them back always names the same actor.
 */
#ifndef THEATER_CLI_IDS_H
#define THEATER_CLI_IDS_H

#include <stddef.h>

#include "theater/error.h"

#define CLI_ID_SHORT_MIN 8 /* characters of a short id at least */
#define CLI_ID_MAX 1024    /* longest id (the chains' actor key) */

typedef struct cli_ids {
    char **ids; /* sorted, unique, owned */
    size_t count;
} cli_ids;

/* Take the strings `ids[0..n)` (copied; duplicates dropped) into `set`,
 * which must be zeroed or released.  TH_ENOMEM on allocation failure. */
int cli_ids_init(cli_ids *set, const char *const *ids, size_t n);
/* Free what the set owns; accepts a zeroed set. */
void cli_ids_release(cli_ids *set);

/* Resolve `prefix` against the set: an exact id, or the one id that starts
 * with `prefix`.  On success *out points into the set (borrowed).  Errors:
 * TH_EINVAL (empty prefix), TH_ENOENT (no id starts with it), TH_EEXIST
 * (ambiguous: the message lists the candidates). */
int cli_ids_resolve(const cli_ids *set, const char *prefix, const char **out /* out */,
                    th_error *err);

/* Length of the shortest prefix of `id` that no other id of the set shares,
 * at least CLI_ID_SHORT_MIN (capped at the id's length).  `set` may be NULL
 * (then CLI_ID_SHORT_MIN). */
size_t cli_ids_short_len(const cli_ids *set, const char *id);

/* Write the short form of `id` into buf (cap bytes, NUL-terminated) and
 * return buf. */
char *cli_ids_short(const cli_ids *set, const char *id, char *buf /* out */, size_t cap);

#endif
