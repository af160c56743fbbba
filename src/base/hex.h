/*
 * hex.h - lowercase hexadecimal encoding and decoding of byte strings
 * (content references and event hashes are shown as lowercase hex).
 */
#ifndef THEATER_BASE_HEX_H
#define THEATER_BASE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Write 2*len lowercase hex digits and a NUL to `out` (which must hold
 * 2*len+1 bytes).  Returns `out`. */
char *base_hex_encode(const void *data, size_t len, char *out /* out */);

/* Decode exactly 2*len hex digits (either case) of the NUL-terminated string
 * `hex` into `out`.  Returns 0, or -1 if `hex` is not exactly 2*len hex
 * digits long. */
int base_hex_decode(const char *hex, uint8_t *out /* out */, size_t len);
/* Decode exactly 2*len hex digits at hex (no terminator needed) into out:
 * 0, or -1 if one is not a hex digit. */
int base_hex_decode_n(const char *hex, uint8_t *out, size_t len);

/* The value of one hex digit (either case; `c` as an unsigned char), or -1. */
int base_hex_digit(int c);

/* Lower-case, in place, a string of hex digits and dashes (an id such as
 * a UUID, or a prefix of one); returns 1 if `s` is one, else 0 (then `s`
 * may be partly lowered). */
int base_hex_id_lower(char *s);

#endif
