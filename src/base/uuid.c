/*
 * uuid.c - UUID v4 generation and syntax check (RFC 9562, section 5.4).
 */
#include <ctype.h>
#include <stdint.h>

#include <openssl/rand.h>

#include "base/hex.h"
#include "base/uuid.h"

int base_uuid_v4(char out[BASE_UUID_TEXT_LEN + 1])
{
    uint8_t b[16];
    char hex[33];
    int i, o = 0;

    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx */
    base_hex_encode(b, sizeof b, hex);
    for (i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        out[o++] = hex[i];
    }
    out[o] = '\0';
    return 0;
}

int base_uuid_valid(const char *s)
{
    int i;

    for (i = 0; i < BASE_UUID_TEXT_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[BASE_UUID_TEXT_LEN] == '\0';
}
