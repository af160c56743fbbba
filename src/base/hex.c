/*
 * hex.c - lowercase hex encoding/decoding (see hex.h).
 */
#include <string.h>

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

/* Each hex digit's value with bit 0x80 set (0: not a hex digit): a
 * decode looks each digit up and tests them all once at the end, instead
 * of branching per digit (a content reference is decoded on every get). */
#define HV(c, v) [c] = 0x80 | (v)
static const uint8_t hex_value[256] = {
    HV('0', 0),  HV('1', 1),  HV('2', 2),  HV('3', 3),  HV('4', 4),  HV('5', 5),
    HV('6', 6),  HV('7', 7),  HV('8', 8),  HV('9', 9),  HV('a', 10), HV('b', 11),
    HV('c', 12), HV('d', 13), HV('e', 14), HV('f', 15), HV('A', 10), HV('B', 11),
    HV('C', 12), HV('D', 13), HV('E', 14), HV('F', 15),
};
#undef HV

int base_hex_digit(int c)
{
    unsigned v = c >= 0 && c < 256 ? hex_value[c] : 0;

    return v != 0 ? (int)(v & 15) : -1;
}

int base_hex_id_lower(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'F')
            *s = (char)(*s - 'A' + 'a');
        else if (*s != '-' && base_hex_digit((unsigned char)*s) < 0)
            return 0;
    }
    return 1;
}

int base_hex_decode(const char *hex, uint8_t *out, size_t len)
{
    /* exactly 2*len characters (no digit past the NUL is read) */
    if (strnlen(hex, 2 * len + 1) != 2 * len)
        return -1;
    return base_hex_decode_n(hex, out, len);
}

int base_hex_decode_n(const char *hex, uint8_t *out, size_t len)
{
    const unsigned char *p = (const unsigned char *)hex;
    unsigned valid = 0x80, hi, lo;
    size_t i;

    for (i = 0; i < len; i++) {
        hi = hex_value[p[2 * i]];
        lo = hex_value[p[2 * i + 1]];
        valid &= hi & lo;
        out[i] = (uint8_t)((hi & 15) << 4 | (lo & 15));
    }
    return valid != 0 ? 0 : -1;
}
