/*
 * json.c - jansson loading that tells "out of memory" from "malformed"
 * (json.h).  jansson's allocation functions are process-wide: they are set
 * once, before any JSON is loaded here, to malloc/free with a thread-local
 * note of failures, so objects made anywhere stay compatible.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

static _Thread_local bool alloc_failed;
static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;

static void *noting_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        alloc_failed = true;
    return p;
}

static void install_allocator(void)
{
    json_set_alloc_funcs(noting_malloc, free);
}

json_t *base_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *jerr, bool *oom)
{
    json_t *j;

    pthread_once(&alloc_once, install_allocator);
    alloc_failed = false;
    j = json_loadb(buf, len, flags, jerr);
    if (oom != NULL)
        *oom = j == NULL && (alloc_failed || json_error_code(jerr) == json_error_out_of_memory);
    return j;
}
