/*
 * jscan.h - reading JSON text in place, without building a tree: the span
 * of one value, the members of an object picked by key, the elements of an
 * array, the contents of a string.  Nothing is allocated; spans point into
 * the caller's text.  For hot paths that read text the program wrote
 * itself (a replay reading its record) and that fall back to a full parser
 * (jansson, base/json.h) for anything these functions do not take.
 *
 * The text is untrusted: every read is bounded by its length, nesting is
 * bounded by BASE_JSCAN_MAX_DEPTH, and malformed text is an error (-1),
 * never a crash.  Strings are checked for their syntax (escapes, no raw
 * control characters), not for valid UTF-8.
 */
#ifndef THEATER_BASE_JSCAN_H
#define THEATER_BASE_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define BASE_JSCAN_MAX_DEPTH 64

/* A value's text (for a string: with its quotes). */
typedef struct base_jspan {
    const char *p;
    size_t n;
} base_jspan;

/* The value at s[*at] (after any white space): its span into *v and *at
 * past it.  0, or -1 if the text there is not one JSON value. */
int base_jscan_value(const char *s, size_t n, size_t *at, base_jspan *v /* out */);
/* The whole of s[0..n) as one value (white space around it allowed). */
int base_jscan_whole(const char *s, size_t n, base_jspan *v /* out */);
/* For an object: vals[i] gets the value of member keys[i] (p NULL when
 * absent).  A key written with escapes matches none; a key that comes
 * twice is an error (the caller's full parser decides).  The number of
 * members the object has, or -1 if `obj` is not a well-formed object. */
int base_jscan_object(base_jspan obj, const char *const *keys, size_t nkeys,
                      base_jspan *vals /* out */);
/* For an object of exactly one member: its key (contents, written without
 * escapes) and value.  0, or -1. */
int base_jscan_single(base_jspan obj, base_jspan *key /* out */, base_jspan *val /* out */);
/* For an object: the next member after *at (start with *at = 0): its key
 * (with its quotes) and value.  1, 0 at the end, -1 if malformed. */
int base_jscan_member(base_jspan obj, size_t *at, base_jspan *key /* out */,
                      base_jspan *val /* out */);
/* For an array: the next element after *at (start with *at = 0).  1 and
 * the element in *v, 0 at the end, -1 if malformed. */
int base_jscan_next(base_jspan arr, size_t *at, base_jspan *v /* out */);
/* True if v is a string written without escapes: its contents in *out. */
bool base_jscan_plain(base_jspan v, base_jspan *out /* out */);
/* True if v is the literal `lit` ("null", "true", "false"). */
bool base_jscan_is(base_jspan v, const char *lit);

#endif
