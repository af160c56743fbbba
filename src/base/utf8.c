/*
 * utf8.c - the UTF-8 check of utf8.h, and the copy that puts U+FFFD for
 * what fails it.  A sequence is read whole before it is accepted: the lead
 * byte gives its length and the bits of its code point, each continuation
 * byte must be 10xxxxxx, and the code point must need exactly that length
 * and be a scalar value.
 */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

size_t base_utf8_seq(const uint8_t *s, size_t n)
{
    uint32_t c;
    size_t len, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, c = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, c = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, c = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
        (len == 4 && (c < 0x10000 || c > 0x10ffff)))
        return 0;
    return len;
}

size_t base_utf8_prefix(const uint8_t *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((k = base_utf8_seq(s + i, n - i)) == 0)
            break;
        i += k;
    }
    return i;
}

bool base_utf8_valid(const uint8_t *s, size_t n)
{
    return base_utf8_prefix(s, n) == n;
}

char *base_utf8_scrub(const uint8_t *s, size_t n)
{
    size_t i = 0, o = 0, k;
    char *out = malloc(3 * n + 1); /* (each byte at most one U+FFFD) */

    if (out == NULL)
        return NULL;
    while (i < n) {
        k = base_utf8_prefix(s + i, n - i);
        memcpy(out + o, s + i, k);
        o += k;
        i += k;
        if (i < n) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}
