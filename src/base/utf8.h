/*
 * utf8.h - well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF.  The one check every part uses
 * (string arguments from guests, JSON text, TOML documents, event data
 * shown to people).
 */
#ifndef THEATER_BASE_UTF8_H
#define THEATER_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1 to 4) of the well-formed UTF-8 sequence that starts at s[0],
 * with n >= 1 bytes readable; 0 if the bytes there are not one. */
size_t base_utf8_seq(const uint8_t *s, size_t n);

/* How many bytes of s[0..n) form well-formed UTF-8 from the start: n when
 * all of it does, else the offset of the first byte that does not. */
size_t base_utf8_prefix(const uint8_t *s, size_t n);

/* True if s[0..n) is well-formed UTF-8 (the empty string is). */
bool base_utf8_valid(const uint8_t *s, size_t n);

/* A copy of s[0..n) in which every byte that is not part of well-formed
 * UTF-8 is U+FFFD, NUL-terminated (malloc'd, the caller's; NULL when out
 * of memory): text that JSON can carry. */
char *base_utf8_scrub(const uint8_t *s, size_t n);

#endif
