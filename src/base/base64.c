/*
 * base64.c - strict RFC 4648 base64 (see base64.h).
 */
#include "base/base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base_base64_encoded_size(size_t len)
{
    return (len + 2) / 3 * 4 + 1;
}

size_t base_base64_encode(const void *data, size_t len, char *out)
{
    const uint8_t *p = data;
    size_t i, o = 0;
    uint32_t v;

    for (i = 0; i + 3 <= len; i += 3) {
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        v = (uint32_t)p[i] << 16;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t *out_len)
{
    size_t i, o = 0, pad = 0;
    int k, val[4];
    uint32_t v;

    if (text_len % 4 != 0)
        return -1;
    for (i = 0; i < text_len; i += 4) {
        for (k = 0; k < 4; k++) {
            if (text[i + k] == '=' && i + 4 == text_len && k >= 2) {
                val[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0) /* a data character after '=' */
                return -1;
            val[k] = b64_value(text[i + k]);
            if (val[k] < 0)
                return -1;
        }
        v = (uint32_t)val[0] << 18 | (uint32_t)val[1] << 12 | (uint32_t)val[2] << 6 |
            (uint32_t)val[3];
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)v;
        /* Canonical form: the bits under the padding must be zero. */
        if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
            return -1;
    }
    *out_len = o;
    return 0;
}
