/*
 * json.h - loading JSON with jansson so that running out of memory is told
 * apart from malformed text.  jansson reports some allocation failures as
 * syntax errors ("string or '}' expected"); the loader here installs
 * allocation functions (once per process, before the first load) that note
 * a failed allocation in the calling thread, and asks that note afterwards.
 */
#ifndef THEATER_BASE_JSON_H
#define THEATER_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* json_loadb with the same flags and error; *oom (may be NULL) is true when
 * NULL was returned because an allocation failed.  The result is a new
 * reference (caller decrefs) or NULL. */
json_t *base_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *jerr,
                        bool *oom /* out */);

#endif
