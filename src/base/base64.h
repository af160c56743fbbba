/*
 * base64.h - standard base64 (RFC 4648 section 4, with '=' padding), strict
 * on decode: no whitespace, no missing or extra padding, no stray bits.
 */
#ifndef THEATER_BASE_BASE64_H
#define THEATER_BASE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to hold the encoding of `len` bytes, including the NUL. */
size_t base_base64_encoded_size(size_t len);

/* Encode `len` bytes into `out` (base_base64_encoded_size(len) bytes) and
 * NUL-terminate it.  Returns the length of the text without the NUL. */
size_t base_base64_encode(const void *data, size_t len, char *out /* out */);

/* Decode `text_len` characters into `out`, which must hold at least
 * text_len / 4 * 3 bytes.  Returns 0 and sets *out_len, or -1 if the text is
 * not canonical base64. */
int base_base64_decode(const char *text, size_t text_len, uint8_t *out /* out */,
                       size_t *out_len /* out */);

#endif
