/*
 * uuid.h - random (version 4) UUIDs in their 36-character text form.
 */
#ifndef THEATER_BASE_UUID_H
#define THEATER_BASE_UUID_H

#define BASE_UUID_TEXT_LEN 36 /* without the NUL */

/* Write a fresh UUID v4 (from OpenSSL's CSPRNG) as lowercase text plus NUL
 * into `out`.  Returns 0, or -1 if the random generator failed. */
int base_uuid_v4(char out[BASE_UUID_TEXT_LEN + 1] /* out */);

/* 1 if `s` is a UUID in canonical text form (8-4-4-4-12 hex digits, either
 * case), else 0. */
int base_uuid_valid(const char *s);

#endif
