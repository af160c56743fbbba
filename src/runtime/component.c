/*
 * component.c - an actor's code as part of its record.
 *
 * The chain events that start code in an actor (actor-spawned,
 * actor-restarted, component-updated) name the SHA-256 of the component's
 * bytes (field "component", docs/events.md), and the bytes are put in the
 * content store TH_CHAIN_CONTENT_STORE of the home before the event that
 * names them is recorded, so a chain together with its store is
 * self-contained: replay (replay.c) and the daemon's restore fetch the code
 * by its hash.  Actors with `save_chain = false` leave nothing in the home:
 * their events name the hash, the bytes are not stored.
 *
 * Modules are cached (rt->modules) by file (path, size, mtime) and by hash
 * ("sha256:<hex>"); the cache holds one reference of each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/hex.h"
#include "base/json.h"
#include "base/sha256.h"
#include "theater/chain.h"
#include "theater/store.h"
#include "runtime/rt_int.h"

bool rt_store_reserved(const char *id, size_t n, th_error *err)
{
    /* the one reserved id (all digits: no other spelling of it names a
     * store) */
    if (n != strlen(TH_CHAIN_CONTENT_STORE) || memcmp(id, TH_CHAIN_CONTENT_STORE, n) != 0)
        return false;
    if (err != NULL) /* the text of check_store (src/store/store.c) */
        th_error_set(err, TH_ENOENT, "unknown store %s", TH_CHAIN_CONTENT_STORE);
    return true;
}

/* Put the bytes in the content store (created on first use). */
static int component_put(rt_runtime *rt, const uint8_t *bytes, size_t len, th_error *err)
{
    th_content_ref ref;
    int rc;

    if (rt->store == NULL)
        return 0;
    if ((rc = th_store_create(rt->store, TH_CHAIN_CONTENT_STORE, err)) != 0 ||
        (rc = th_store_put(rt->store, TH_CHAIN_CONTENT_STORE, bytes, len, &ref, err)) != 0) {
        /* (an actor's spawn or update-child reports this to the actor) */
        rt_error_hide_host(rt, NULL, "storing the component", NULL, 0, err);
        return th_error_prefix(err, "storing the component (%zu bytes)", len);
    }
    return 0;
}

int rt_module_from_bytes(rt_runtime *rt, const uint8_t *bytes, size_t len, bool keep,
                         th_wasm_module **out, char hash[RT_HASH_HEX + 1], th_error *err)
{
    uint8_t h[32];
    int rc;

    *out = NULL;
    if (base_sha256(bytes, len, h) != 0)
        return th_error_set(err, TH_ENOMEM, "SHA-256 failed (out of memory)");
    base_hex_encode(h, sizeof h, hash);
    if ((rc = th_wasm_module_new(bytes, len, out, err)) != 0)
        return rc;
    if (keep && (rc = component_put(rt, bytes, len, err)) != 0) {
        th_wasm_module_free(*out);
        *out = NULL;
    }
    return rc;
}

int rt_module_cache_put(rt_runtime *rt, const char *key, th_wasm_module *m,
                        const char hash[RT_HASH_HEX + 1], bool stored, th_error *err)
{
    rt_module_entry *e = calloc(1, sizeof *e);

    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        th_wasm_module_free(m);
        return th_error_set(err, TH_ENOMEM, "out of memory caching a module");
    }
    e->module = m;
    memcpy(e->hash, hash, RT_HASH_HEX + 1);
    e->stored = stored;
    pthread_mutex_lock(&rt->modlock);
    e->next = rt->modules;
    rt->modules = e;
    pthread_mutex_unlock(&rt->modlock);
    return 0;
}

int rt_component_module(rt_runtime *rt, const char *hash, th_wasm_module **out, th_error *err)
{
    char key[8 + RT_HASH_HEX], got[RT_HASH_HEX + 1];
    rt_module_entry *e;
    void *bytes = NULL;
    size_t len = 0;
    uint8_t raw[32];
    int rc;

    *out = NULL;
    if (hash == NULL || strlen(hash) != RT_HASH_HEX || base_hex_decode(hash, raw, 32) != 0)
        return th_error_set(err, TH_EINVAL, "bad component hash '%.80s'", hash ? hash : "");
    snprintf(key, sizeof key, "sha256:%s", hash);
    pthread_mutex_lock(&rt->modlock);
    for (e = rt->modules; e != NULL; e = e->next) {
        if (strcmp(e->hash, hash) == 0) {
            *out = e->module;
            pthread_mutex_unlock(&rt->modlock);
            return 0;
        }
    }
    pthread_mutex_unlock(&rt->modlock);
    if (rt->store == NULL)
        return th_error_set(err, TH_ENOENT, "component %s: no store", hash);
    if ((rc = th_runtime_component_read(rt->store, hash, (uint8_t **)&bytes, &len, err)) != 0)
        return rc;
    rc = rt_module_from_bytes(rt, bytes, len, false, out, got, err);
    free(bytes);
    if (rc != 0)
        return th_error_prefix(err, "component %s", hash);
    return rt_module_cache_put(rt, key, *out, got, true, err);
}

int th_runtime_component_read(struct th_store *s, const char *hash, uint8_t **bytes, size_t *len,
                              th_error *err)
{
    uint8_t want[32];
    void *data = NULL;
    size_t n = 0;
    int rc;

    *bytes = NULL;
    *len = 0;
    if (hash == NULL || strlen(hash) != RT_HASH_HEX || base_hex_decode(hash, want, 32) != 0)
        return th_error_set(err, TH_EINVAL, "bad component hash '%.80s'", hash ? hash : "");
    rc = th_store_get(s, TH_CHAIN_CONTENT_STORE, hash, &data, &n, err);
    if (rc == TH_ENOENT)
        return th_error_set(err, TH_ENOENT,
                            "component %s is not in this home's store (recorded with "
                            "save_chain = false, or the chain was imported without "
                            "--with-components)",
                            hash);
    if (rc != 0)
        return th_error_prefix(err, "component %s", hash);
    /* th_store_get has checked that the bytes hash to `hash` (the content
     * reference is their SHA-256): not hashed a second time */
    *bytes = data;
    *len = n;
    return 0;
}

/* The "component" field of a code-starting event's data into hash. */
static bool event_component(const th_chain_event *ev, char hash[RT_HASH_HEX + 1])
{
    json_error_t jerr;
    json_t *o, *c;
    bool ok = false;

    if (strcmp(ev->type, "actor-spawned") != 0 && strcmp(ev->type, "actor-restarted") != 0 &&
        strcmp(ev->type, "component-updated") != 0)
        return false;
    o = base_json_loadb((const char *)ev->data, ev->data_len, 0, &jerr, NULL);
    c = json_is_object(o) ? json_object_get(o, "component") : NULL;
    if (json_is_string(c) && json_string_length(c) == RT_HASH_HEX) {
        memcpy(hash, json_string_value(c), RT_HASH_HEX + 1);
        ok = true;
    }
    json_decref(o);
    return ok;
}

int th_runtime_chain_component(const th_chain_events *evs, size_t upto, char *hash, th_error *err)
{
    size_t i, n = upto < evs->count ? upto + 1 : evs->count;

    for (i = n; i-- > 0;)
        if (event_component(&evs->items[i], hash))
            return 0;
    return th_error_set(err, TH_ENOENT, "no event of the chain names its component");
}
