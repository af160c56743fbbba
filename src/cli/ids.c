/*
 * ids.c - unique-prefix resolution and short forms of actor ids (ids.h).
 *
 * The set is a sorted array, so the ids sharing a prefix are adjacent: a
 * prefix resolves with one binary search, and an id's shortest unique
 * prefix is one longer than what it shares with its two neighbours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "cli/ids.h"
#include "theater/runtime.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_ids_init(cli_ids *set, const char *const *ids, size_t n)
{
    size_t i, k = 0;

    set->ids = NULL;
    set->count = 0;
    if (n == 0)
        return TH_OK;
    set->ids = calloc(n, sizeof *set->ids);
    if (set->ids == NULL)
        return TH_ENOMEM;
    for (i = 0; i < n; i++) {
        if ((set->ids[i] = strdup(ids[i])) == NULL) {
            set->count = i;
            cli_ids_release(set);
            return TH_ENOMEM;
        }
    }
    qsort(set->ids, n, sizeof *set->ids, cmp_str);
    for (i = 0; i < n; i++) {
        if (k > 0 && strcmp(set->ids[k - 1], set->ids[i]) == 0)
            free(set->ids[i]);
        else
            set->ids[k++] = set->ids[i];
    }
    set->count = k;
    return TH_OK;
}

void cli_ids_release(cli_ids *set)
{
    size_t i;

    if (set == NULL)
        return;
    for (i = 0; i < set->count; i++)
        free(set->ids[i]);
    free(set->ids);
    set->ids = NULL;
    set->count = 0;
}

/* Index of the first id >= key. */
static size_t lower_bound(const cli_ids *set, const char *key)
{
    size_t lo = 0, hi = set->count, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (strcmp(set->ids[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int cli_ids_resolve(const cli_ids *set, const char *prefix, const char **out, th_error *err)
{
    size_t plen = strlen(prefix), i, n = 0, at;
    char list[400];
    size_t used = 0;

    *out = NULL;
    if (plen == 0)
        return th_error_set(err, TH_EINVAL, "an empty actor id");
    at = lower_bound(set, prefix);
    if (at < set->count && strcmp(set->ids[at], prefix) == 0) {
        *out = set->ids[at];
        return TH_OK;
    }
    for (i = at; i < set->count && strncmp(set->ids[i], prefix, plen) == 0; i++)
        n++;
    if (n == 0 && plen < TH_ACTOR_ID_SIZE) {
        /* ids are written in lower case: an id or prefix typed in upper
         * case is matched too, as git matches object names */
        char low[TH_ACTOR_ID_SIZE];
        if (base_hex_id_lower(memcpy(low, prefix, plen + 1)) && strcmp(low, prefix) != 0)
            return cli_ids_resolve(set, low, out, err);
    }
    if (n == 0)
        return th_error_set(err, TH_ENOENT, "no actor '%s'", prefix);
    if (n == 1) {
        *out = set->ids[at];
        return TH_OK;
    }
    list[0] = '\0';
    for (i = at; i < at + n && i < at + 5; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i > at ? ", " : "", set->ids[i]);
        if (w < 0 || (size_t)w >= sizeof list - used)
            break;
        used += (size_t)w;
    }
    return th_error_set(err, TH_EEXIST,
                        "actor id '%s' is ambiguous: %zu actors start with it (%s%s); "
                        "type more of it",
                        prefix, n, list, n > 5 ? ", ..." : "");
}

static size_t common_len(const char *a, const char *b)
{
    size_t i = 0;

    while (a[i] != '\0' && a[i] == b[i])
        i++;
    return i;
}

size_t cli_ids_short_len(const cli_ids *set, const char *id)
{
    size_t len = strlen(id), need = 0, at;

    if (set != NULL && set->count > 0) {
        at = lower_bound(set, id);
        /* neighbours: the id before, and the first one after id itself */
        if (at > 0)
            need = common_len(set->ids[at - 1], id) + 1;
        if (at < set->count && strcmp(set->ids[at], id) == 0)
            at++;
        if (at < set->count) {
            size_t c = common_len(set->ids[at], id) + 1;
            if (c > need)
                need = c;
        }
    }
    if (need < CLI_ID_SHORT_MIN)
        need = CLI_ID_SHORT_MIN;
    return need < len ? need : len;
}

char *cli_ids_short(const cli_ids *set, const char *id, char *buf, size_t cap)
{
    size_t n = cli_ids_short_len(set, id);

    if (cap == 0)
        return buf;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, id, n);
    buf[n] = '\0';
    return buf;
}
