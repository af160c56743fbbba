/*
 * grow.c - base_grow (grow.h).
 */
#include <stdlib.h>

#include "base/grow.h"

void *base_grow(void *p, size_t *cap, size_t need, size_t first)
{
    size_t n;
    void *q;

    if (need <= *cap)
        return p;
    n = *cap ? *cap : (first ? first : 1);
    while (n < need)
        n = n > (size_t)-1 / 2 ? need : n * 2;
    if ((q = realloc(p, n)) == NULL)
        return NULL;
    *cap = n;
    return q;
}
