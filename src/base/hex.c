/*
 * hex.c - lowercase hex encoding/decoding (see hex.h).
 */
#include "base/hex.h"

char *base_hex_encode(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

int base_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int base_hex_decode(const char *hex, uint8_t *out, size_t len)
{
    size_t i;
    int hi, lo;

    for (i = 0; i < len; i++) {
        if (hex[2 * i] == '\0' || hex[2 * i + 1] == '\0')
            return -1;
        hi = base_hex_digit((unsigned char)hex[2 * i]);
        lo = base_hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * len] == '\0' ? 0 : -1;
}

int base_hex_decode_n(const char *hex, uint8_t *out, size_t len)
{
    size_t i;
    int hi, lo;

    for (i = 0; i < len; i++) {
        hi = base_hex_digit((unsigned char)hex[2 * i]);
        lo = base_hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
