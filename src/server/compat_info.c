/*
 * compat_info.c - GetActorManifest and GetActorMetrics of the
 * compatibility listener, in the shapes of the original's ManifestConfig
 * and ActorMetrics (serde_json, fields in declaration order).
 *
 * ManifestConfig is rebuilt from the manifest TOML the actor was started
 * with: name, version, component, description, long_description,
 * save_chain, init_state (a string or null) and "handler": one object per
 * [[handler]], {"type": T} followed by the fields the original's config
 * struct for T has (its defaults where the TOML is silent).
 *
 * ActorMetrics: total_operations is the runtime's count of export calls,
 * failed_operations the failures on the actor's chain ("actor-failed"),
 * memory_usage (and peak_memory_usage) its linear memory after its last
 * call, start_time its spawn, last_update its last event (seconds, as the
 * original).  Processing times and queue sizes are not measured by this
 * runtime and are reported as 0 (min_processing_time null).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/toml.h"
#include "server/compat_int.h"

/* ------------------------------------------------------------------ */
/* ManifestConfig                                                     */

static void key(srv_jbuf *b, const char *k)
{
    srv_jbuf_puts(b, ",\"");
    srv_jbuf_puts(b, k);
    srv_jbuf_puts(b, "\":");
}

/* A TOML string as a JSON string, or `fallback` (may be NULL: null). */
static void opt_str(srv_jbuf *b, const toml_value *t, const char *k, const char *fallback)
{
    const toml_value *v = toml_table_get(t, k);

    if (v != NULL && v->type == TOML_STRING)
        srv_jbuf_str(b, v->u.s.ptr, v->u.s.len);
    else if (fallback != NULL)
        srv_jbuf_str(b, fallback, strlen(fallback));
    else
        srv_jbuf_puts(b, "null");
}

static void opt_bool(srv_jbuf *b, const toml_value *t, const char *k, const char *fallback)
{
    const toml_value *v = toml_table_get(t, k);

    if (v != NULL && v->type == TOML_BOOL)
        srv_jbuf_puts(b, v->u.b ? "true" : "false");
    else
        srv_jbuf_puts(b, fallback);
}

static void opt_uint(srv_jbuf *b, const toml_value *t, const char *k, const char *fallback)
{
    const toml_value *v = toml_table_get(t, k);

    if (v != NULL && v->type == TOML_INTEGER && v->u.i >= 0)
        srv_jbuf_u64(b, (uint64_t)v->u.i);
    else
        srv_jbuf_puts(b, fallback);
}

/* Option<Vec<String>> */
static void opt_strings(srv_jbuf *b, const toml_value *t, const char *k)
{
    const toml_value *v = toml_table_get(t, k);
    size_t i, n;

    if (v == NULL || v->type != TOML_ARRAY) {
        srv_jbuf_puts(b, "null");
        return;
    }
    n = toml_array_len(v);
    srv_jbuf_puts(b, "[");
    for (i = 0; i < n; i++) {
        const toml_value *e = toml_array_get(v, i);
        if (i > 0)
            srv_jbuf_puts(b, ",");
        if (e->type == TOML_STRING)
            srv_jbuf_str(b, e->u.s.ptr, e->u.s.len);
        else
            srv_jbuf_puts(b, "\"\"");
    }
    srv_jbuf_puts(b, "]");
}

static void handler(srv_jbuf *b, const toml_value *h)
{
    const toml_value *tv = toml_table_get(h, "type");
    const char *type = tv != NULL && tv->type == TOML_STRING ? tv->u.s.ptr : "";

    srv_jbuf_puts(b, "{\"type\":");
    srv_jbuf_str(b, type, strlen(type));
    if (strcmp(type, "timing") == 0) {
        key(b, "max_sleep_duration");
        opt_uint(b, h, "max_sleep_duration", "3600000");
        key(b, "min_sleep_duration");
        opt_uint(b, h, "min_sleep_duration", "1");
    } else if (strcmp(type, "random") == 0) {
        key(b, "seed");
        opt_uint(b, h, "seed", "null");
        key(b, "max_bytes");
        opt_uint(b, h, "max_bytes", "1048576");
        key(b, "max_int");
        opt_uint(b, h, "max_int", "9223372036854775807");
        key(b, "allow_crypto_secure");
        opt_bool(b, h, "allow_crypto_secure", "false");
    } else if (strcmp(type, "environment") == 0) {
        key(b, "allowed_vars");
        opt_strings(b, h, "allowed_vars");
        key(b, "denied_vars");
        opt_strings(b, h, "denied_vars");
        key(b, "allow_list_all");
        opt_bool(b, h, "allow_list_all", "false");
        key(b, "allowed_prefixes");
        opt_strings(b, h, "allowed_prefixes");
    } else if (strcmp(type, "filesystem") == 0) {
        key(b, "path");
        opt_str(b, h, "path", NULL);
        key(b, "new_dir");
        opt_bool(b, h, "new_dir", "null");
        key(b, "allowed_commands");
        opt_strings(b, h, "allowed_commands");
    } else if (strcmp(type, "process") == 0) {
        key(b, "max_processes");
        opt_uint(b, h, "max_processes", "10");
        key(b, "max_output_buffer");
        opt_uint(b, h, "max_output_buffer", "1048576");
        key(b, "allowed_programs");
        opt_strings(b, h, "allowed_programs");
        key(b, "allowed_paths");
        opt_strings(b, h, "allowed_paths");
    }
    srv_jbuf_puts(b, "}");
}

void srv_compat_manifest(th_runtime *rt, const char *id, srv_jbuf *out)
{
    th_actor_info info;
    toml_value *root = NULL;
    const toml_value *hs;
    char *text = NULL;
    th_error e;
    size_t i, n;

    th_error_clear(&e);
    if (th_runtime_actor_info(rt, id, &info, &e) != 0 ||
        th_runtime_actor_manifest(rt, id, &text, NULL, &e) != 0) {
        srv_compat_error(out, e.code == TH_ENOENT ? SRV_E_ACTOR_NOT_FOUND : SRV_E_INTERNAL_ERROR,
                         e.msg);
        return;
    }
    if (toml_parse(text, strlen(text), &root, &e) != 0) {
        srv_compat_error(out, SRV_E_INTERNAL_ERROR, e.msg);
        free(text);
        return;
    }
    srv_jbuf_puts(out, "{\"ActorManifest\":{\"id\":");
    srv_jbuf_str(out, id, strlen(id));
    srv_jbuf_puts(out, ",\"manifest\":{\"name\":");
    srv_jbuf_str(out, info.name, strlen(info.name));
    key(out, "version");
    srv_jbuf_str(out, info.version, strlen(info.version));
    key(out, "component");
    opt_str(out, root, "component", "");
    key(out, "description");
    opt_str(out, root, "description", NULL);
    key(out, "long_description");
    opt_str(out, root, "long_description", NULL);
    key(out, "save_chain");
    opt_bool(out, root, "save_chain", "null");
    key(out, "init_state");
    opt_str(out, root, "init_state", NULL);
    key(out, "handler");
    srv_jbuf_puts(out, "[");
    hs = toml_table_get(root, "handler");
    n = hs != NULL && hs->type == TOML_ARRAY ? toml_array_len(hs) : 0;
    for (i = 0; i < n; i++) {
        const toml_value *h = toml_array_get(hs, i);
        if (i > 0)
            srv_jbuf_puts(out, ",");
        if (h->type == TOML_TABLE)
            handler(out, h);
        else
            srv_jbuf_puts(out, "{\"type\":\"\"}");
    }
    srv_jbuf_puts(out, "]}}}");
    toml_free(root);
    free(text);
}

/* ------------------------------------------------------------------ */
/* ActorMetrics                                                       */

typedef struct failures {
    uint64_t count;
    uint64_t last_ms;
    bool any;
} failures;

static void count_event(void *ud, const th_runtime_event *ev)
{
    failures *f = ud;

    if (strcmp(ev->type, "actor-failed") == 0)
        f->count++;
    f->last_ms = ev->timestamp_ms;
    f->any = true;
}

void srv_compat_metrics(th_runtime *rt, const char *id, srv_jbuf *out)
{
    th_actor_info info;
    failures f = {0};
    th_error e;
    uint64_t now;
    int rc;

    th_error_clear(&e);
    if ((rc = th_runtime_actor_info(rt, id, &info, &e)) == 0)
        rc = th_runtime_actor_events(rt, id, count_event, &f, &e);
    if (rc != 0) {
        srv_compat_error(out, rc == TH_ENOENT ? SRV_E_ACTOR_NOT_FOUND : SRV_E_RUNTIME_ERROR, e.msg);
        return;
    }
    now = (uint64_t)time(NULL);
    srv_jbuf_puts(out, "{\"ActorMetrics\":{\"id\":");
    srv_jbuf_str(out, id, strlen(id));
    srv_jbuf_puts(out, ",\"metrics\":{\"operation_metrics\":{\"total_operations\":");
    srv_jbuf_u64(out, info.calls);
    srv_jbuf_puts(out, ",\"failed_operations\":");
    srv_jbuf_u64(out, f.count);
    srv_jbuf_puts(out, ",\"total_processing_time\":0,\"max_processing_time\":0,"
                       "\"min_processing_time\":null},\"resource_metrics\":{\"memory_usage\":");
    srv_jbuf_u64(out, info.memory_bytes);
    srv_jbuf_puts(out, ",\"operation_queue_size\":0,\"peak_memory_usage\":");
    srv_jbuf_u64(out, info.memory_bytes);
    srv_jbuf_puts(out, ",\"peak_queue_size\":0},\"last_update\":");
    if (f.any)
        srv_jbuf_u64(out, f.last_ms / 1000);
    else
        srv_jbuf_puts(out, "null");
    srv_jbuf_puts(out, ",\"uptime_secs\":");
    srv_jbuf_u64(out, now > info.started_ms / 1000 ? now - info.started_ms / 1000 : 0);
    srv_jbuf_puts(out, ",\"start_time\":");
    srv_jbuf_u64(out, info.started_ms / 1000);
    srv_jbuf_puts(out, "}}}");
}
