/*
 * spec.c - from a manifest to what the runtime needs to spawn an actor: the
 * checked manifest (rt_manifest, manifest.c), the loaded module (shared
 * through the runtime's module cache), the initial state resolved to bytes
 * and the capability check of the module's imports.
 *
 * A spec is immutable and reference-counted: every actor spawned from it,
 * and every restart of such an actor, uses the same one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/limits.h"
#include "theater/store.h"
#include "runtime/manifest.h"
#include "runtime/rt_int.h"
#include "wit_glue.h"

/* Flat parameter counts of the exports (all i32, one i32 result). */
static const uint32_t export_params[RT_EX_COUNT] = {5, 5, 7, 7, 7, 5, 9, 8, 5};

int rt_module_load(rt_runtime *rt, const char *path, bool keep, th_wasm_module **out,
                   char hash[RT_HASH_HEX + 1], th_error *err)
{
    struct stat st;
    char key[4200];
    rt_module_entry *e;
    uint8_t *bytes;
    size_t len;
    int rc;

    if (stat(path, &st) != 0)
        return th_error_set(err, TH_ENOENT, "component %s: %s", path, strerror(errno));
    snprintf(key, sizeof key, "%s|%lld|%lld.%09ld", path, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    pthread_mutex_lock(&rt->modlock);
    for (e = rt->modules; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0 && (e->stored || !keep)) {
            /* an instance keeps its module alive; the cache keeps one ref */
            th_wasm_module *m = e->module;
            memcpy(hash, e->hash, RT_HASH_HEX + 1);
            pthread_mutex_unlock(&rt->modlock);
            *out = m;
            return 0;
        }
    }
    pthread_mutex_unlock(&rt->modlock);
    if ((rc = base_file_read(path, "component", TH_WASM_MAX_MODULE_BYTES, &bytes, &len, err)) != 0)
        return rc;
    rc = rt_module_from_bytes(rt, bytes, len, keep, out, hash, err);
    free(bytes);
    if (rc != 0)
        return th_error_prefix(err, "component %s", path);
    return rt_module_cache_put(rt, key, *out, hash, keep, err);
}

int rt_spec_check_exports(const th_wasm_module *m, th_error *err)
{
    uint32_t n = th_wasm_module_export_count(m), i, k, j;
    th_wasm_extern_desc d;
    bool has_memory = false;

    for (i = 0; i < n; i++) {
        if (th_wasm_module_export(m, i, &d) != 0)
            continue;
        if (d.kind == TH_WASM_EXTERN_MEMORY && d.name_len == 6 && memcmp(d.name, "memory", 6) == 0)
            has_memory = true;
        if (d.kind != TH_WASM_EXTERN_FUNC)
            continue;
        for (k = 0; k < RT_EX_COUNT; k++) {
            if (strlen(rt_export_names[k]) != d.name_len ||
                memcmp(rt_export_names[k], d.name, d.name_len) != 0)
                continue;
            bool ok = d.functype.nparams == export_params[k] && d.functype.nresults == 1;
            for (j = 0; ok && j < d.functype.nparams + 1; j++)
                ok = d.functype.types[j] == TH_WASM_I32;
            if (!ok)
                return th_error_set(err, TH_ELINK,
                                    "export %s has the wrong type (expected %u i32 parameters "
                                    "and one i32 result)",
                                    rt_export_names[k], export_params[k]);
        }
        if (strlen(WIT_EXPORT_ACTOR_MIGRATE) == d.name_len &&
            memcmp(WIT_EXPORT_ACTOR_MIGRATE, d.name, d.name_len) == 0) {
            bool ok = d.functype.nparams == 5 && d.functype.nresults == 1;
            for (j = 0; ok && j < 6; j++)
                ok = d.functype.types[j] == TH_WASM_I32;
            if (!ok)
                return th_error_set(err, TH_ELINK,
                                    "export %s has the wrong type (expected 5 i32 parameters "
                                    "and one i32 result)",
                                    WIT_EXPORT_ACTOR_MIGRATE);
        }
        if (d.name_len == 12 && memcmp(d.name, "cabi_realloc", 12) == 0) {
            bool ok = d.functype.nparams == 4 && d.functype.nresults == 1;
            for (j = 0; ok && j < 5; j++)
                ok = d.functype.types[j] == TH_WASM_I32;
            if (!ok)
                return th_error_set(err, TH_ELINK,
                                    "export cabi_realloc has the wrong type "
                                    "(expected (i32 i32 i32 i32) -> i32)");
        }
    }
    if (!has_memory)
        return th_error_set(err, TH_ELINK, "the module does not export its memory as \"memory\"");
    return 0;
}

/* The manifest's init_state into s->init_state.  `by_actor`: an actor
 * spawns, which cannot read a store the runtime keeps for itself
 * (rt_store_reserved: answered as a store that does not exist). */
static int resolve_init_state(rt_runtime *rt, rt_spec *s, const rt_manifest *man, bool by_actor,
                              th_error *err)
{
    const rt_manifest_init_state *is = &man->init_state;
    th_content_ref ref;
    void *data;
    size_t len;
    bool found;
    int rc;

    switch (is->kind) {
    case RT_MANIFEST_INIT_NONE: return 0;
    case RT_MANIFEST_INIT_JSON:
        s->init_state = rt_memdup(is->json, strlen(is->json));
        s->init_state_len = strlen(is->json);
        break;
    case RT_MANIFEST_INIT_FILE:
        if ((rc = base_file_read(is->path, "init_state file", TH_RT_MAX_INIT_STATE_BYTES,
                                 &s->init_state, &s->init_state_len, err)) != 0)
            return th_error_prefix(err, "init_state");
        break;
    case RT_MANIFEST_INIT_STORE:
        if (by_actor && rt_store_reserved(is->store_id, strlen(is->store_id), err))
            rc = TH_ENOENT;
        else
            rc = th_store_get_by_label(rt->store, is->store_id, is->label, &ref, &found, err);
        if (rc == 0 && !found)
            rc = th_error_set(err, TH_ENOENT, "no label %s in store %s", is->label, is->store_id);
        if (rc == 0)
            rc = th_store_get(rt->store, is->store_id, ref.hash, &data, &len, err);
        if (rc != 0) { /* (an actor's spawn reports this to the actor) */
            rt_error_hide_host(rt, NULL, "reading the store", NULL, 0, err);
            return th_error_prefix(err, "init_state");
        }
        s->init_state = data;
        s->init_state_len = len;
        break;
    }
    if (s->init_state == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    s->has_init_state = true;
    return 0;
}

/* Spec cache: manifests loaded from files, reused while neither the
 * manifest nor its component changed on disk.  Specs whose init_state is
 * read from a file or the store are not cached: that content may change
 * on its own.
 *
 * Whether a file changed is decided by stat() (size, mtime and inode, as
 * recorded when the spec was cached).  That costs two path lookups per
 * spawn, so the files are watched (inotify) instead: the file itself (a
 * write, a change of its attributes or link count, its deletion or move)
 * and its directory's names (a file created, moved or deleted there: the
 * path replaced by a rename, or a symbolic link there re-pointed).  An
 * event marks the entries it concerns stale, and a stale entry is checked
 * with stat() at its next use.  inotify queues an event before the
 * system call that caused it returns, and each lookup first reads the
 * queued events, so a change made before a spawn begins is seen by that
 * spawn.  What inotify cannot see, a directory above the files renamed or
 * a symbolic link above them re-pointed, is caught by the stat() check
 * every entry gets at least every SPEC_RECHECK_NS.  Without inotify (its
 * limits reached) every use is checked with stat(), as before. */
#define SPEC_RECHECK_NS 1000000000ull
#define SPEC_FILE_EVENTS (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define SPEC_DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

/* One watched file of an entry: its watch, its directory's and its name
 * there (-1: not watched, so always checked). */
typedef struct spec_watch {
    int wd_file, wd_dir;
    char *base; /* last component of the path (owned) */
} spec_watch;

typedef struct spec_entry {
    struct spec_entry *next;
    char *path;
    struct stat man_st, comp_st;
    spec_watch man_w, comp_w;
    bool stale;          /* an event concerned it: check before use */
    uint64_t events;     /* events that concerned it so far */
    uint64_t checked_ns; /* when stat() last confirmed it */
    rt_spec *spec;       /* one reference */
} spec_entry;

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ino == b->st_ino &&
           a->st_dev == b->st_dev;
}

/* The runtime's inotify descriptor, created at first use (modlock held);
 * -1 if there is none to be had. */
static int watch_fd(rt_runtime *rt)
{
    if (!rt->spec_watch_tried) {
        rt->spec_watch_tried = true;
        rt->spec_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    }
    return rt->spec_watch;
}

/* Watch `path` (a file) and its directory into *w (modlock held).  A
 * watch that cannot be had is -1: the entry is then checked at each use. */
static void watch_add(rt_runtime *rt, const char *path, spec_watch *w)
{
    int fd = watch_fd(rt);
    const char *slash = strrchr(path, '/');
    char dir[4096];

    w->wd_file = w->wd_dir = -1;
    w->base = NULL;
    if (fd < 0 || slash == NULL || (size_t)(slash - path) >= sizeof dir ||
        (w->base = strdup(slash + 1)) == NULL)
        return;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (dir[0] == '\0')
        strcpy(dir, "/");
    w->wd_file = inotify_add_watch(fd, path, SPEC_FILE_EVENTS);
    w->wd_dir = inotify_add_watch(fd, dir, SPEC_DIR_EVENTS);
}

static bool watched(const spec_watch *w)
{
    return w->wd_file >= 0 && w->wd_dir >= 0;
}

static bool watch_hit(const spec_watch *w, const struct inotify_event *ev)
{
    if (ev->wd == w->wd_file)
        return true;
    return ev->wd == w->wd_dir && ev->len > 0 && strcmp(ev->name, w->base) == 0;
}

/* Read the queued events and mark the entries they concern stale
 * (modlock held).  A lost event (queue overflow) marks them all. */
static void watch_drain(rt_runtime *rt)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    const struct inotify_event *ev;
    spec_entry *e;
    ssize_t n;

    if (rt->spec_watch < 0 || !rt->spec_watch_tried)
        return;
    while ((n = read(rt->spec_watch, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n; p += sizeof *ev + ev->len) {
            ev = (const struct inotify_event *)(void *)p;
            for (e = rt->specs; e != NULL; e = e->next)
                if ((ev->mask & IN_Q_OVERFLOW) || watch_hit(&e->man_w, ev) ||
                    watch_hit(&e->comp_w, ev)) {
                    e->stale = true;
                    e->events++;
                }
        }
    }
}

static void entry_free(spec_entry *e)
{
    rt_spec_release(e->spec);
    free(e->man_w.base);
    free(e->comp_w.base);
    free(e->path);
    free(e);
}

/* Whether entry `e` may be used without stat() (modlock held). */
static bool entry_trusted(const spec_entry *e, uint64_t now)
{
    return !e->stale && watched(&e->man_w) && watched(&e->comp_w) &&
           now - e->checked_ns < SPEC_RECHECK_NS;
}

static spec_entry *entry_find(rt_runtime *rt, const char *path)
{
    spec_entry *e;

    for (e = rt->specs; e != NULL; e = e->next)
        if (strcmp(e->path, path) == 0)
            break;
    return e;
}

static rt_spec *cache_get(rt_runtime *rt, const char *path)
{
    struct stat ms, cs, comp;
    spec_entry *e;
    rt_spec *s = NULL;
    uint64_t now = rt_now_ns(), gen;

    pthread_mutex_lock(&rt->modlock);
    watch_drain(rt);
    if ((e = entry_find(rt, path)) != NULL) {
        s = e->spec;
        atomic_fetch_add(&s->refs, 1);
        if (entry_trusted(e, now)) {
            pthread_mutex_unlock(&rt->modlock);
            return s;
        }
        gen = e->events;
        ms = e->man_st;
        comp = e->comp_st;
    }
    pthread_mutex_unlock(&rt->modlock);
    if (s == NULL)
        return NULL;
    /* check it with stat(); an event read after this point (a change
     * during the check) leaves it stale */
    if (stat(path, &cs) != 0 || !same_file(&ms, &cs) || stat(s->man->component, &cs) != 0 ||
        !same_file(&comp, &cs)) {
        rt_spec_release(s);
        return NULL;
    }
    pthread_mutex_lock(&rt->modlock);
    watch_drain(rt);
    if ((e = entry_find(rt, path)) != NULL && e->spec == s && e->events == gen) {
        e->stale = false;
        e->checked_ns = now;
    }
    pthread_mutex_unlock(&rt->modlock);
    return s;
}

static void cache_put(rt_runtime *rt, const char *path, rt_spec *s)
{
    spec_entry *e, **pp;

    if (s->man->init_state.kind == RT_MANIFEST_INIT_FILE ||
        s->man->init_state.kind == RT_MANIFEST_INIT_STORE)
        return;
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->path = strdup(path)) == NULL) {
        free(e);
        return;
    }
    /* watched before the stat()s, and entered stale: its first use checks
     * it against these stat()s, so a change whose event went by before the
     * entry was listed is still seen */
    pthread_mutex_lock(&rt->modlock);
    watch_add(rt, path, &e->man_w);
    watch_add(rt, s->man->component, &e->comp_w);
    pthread_mutex_unlock(&rt->modlock);
    e->stale = true;
    if (stat(path, &e->man_st) != 0 || stat(s->man->component, &e->comp_st) != 0) {
        e->spec = NULL;
        entry_free(e);
        return;
    }
    atomic_fetch_add(&s->refs, 1);
    e->spec = s;
    pthread_mutex_lock(&rt->modlock);
    for (pp = (spec_entry **)&rt->specs; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->path, path) == 0) { /* replace a stale entry */
            spec_entry *old = *pp;
            *pp = old->next;
            entry_free(old);
            break;
        }
    }
    e->next = rt->specs;
    rt->specs = e;
    pthread_mutex_unlock(&rt->modlock);
}

void rt_spec_cache_free(rt_runtime *rt)
{
    spec_entry *e;

    while ((e = rt->specs) != NULL) {
        rt->specs = e->next;
        entry_free(e);
    }
    if (rt->spec_watch_tried && rt->spec_watch >= 0)
        close(rt->spec_watch);
    rt->spec_watch_tried = false;
}

/* ${VAR} in a manifest an actor gives: only the variables a handler it
 * holds lets it read (others are "not defined"). */
typedef struct grant_ctx {
    const th_handler_set *handlers;
    const rt_spec *grant;
} grant_ctx;

static const char *grant_getenv(void *ctx, const char *name)
{
    const grant_ctx *g = ctx;
    const char *v;

    for (size_t i = 0; i < g->handlers->count; i++) {
        const rt_iface *f = g->handlers->ifaces[i];
        if (f->grant_getenv != NULL && (g->grant->handlers & (1u << f->handler)) &&
            (v = f->grant_getenv(rt_spec_settings(g->grant, f->handler), name)) != NULL)
            return v;
    }
    return NULL;
}

/* A spawn by an actor reads the files its manifest names only through that
 * actor's grant (rt_grant_file); they are then read by their real paths
 * (the ones checked).  init_state from the store needs a handler that
 * grants the store. */
static int check_grant(const th_handler_set *hs, const rt_spec *grant, rt_manifest *man,
                       th_error *err)
{
    const rt_iface *store = NULL;
    char *real = NULL;
    int rc;

    if (grant == NULL)
        return 0;
    if ((rc = rt_grant_file(hs, grant, man->component, "component", &real, err)) == 0) {
        free(man->component);
        man->component = real;
        if (man->init_state.kind == RT_MANIFEST_INIT_FILE &&
            (rc = rt_grant_file(hs, grant, man->init_state.path, "init_state file", &real, err)) ==
                0) {
            free(man->init_state.path);
            man->init_state.path = real;
        }
    }
    for (size_t i = 0; i < hs->count && store == NULL; i++)
        if (hs->ifaces[i]->grants_store)
            store = hs->ifaces[i];
    if (rc == 0 && man->init_state.kind == RT_MANIFEST_INIT_STORE &&
        (store == NULL || !(grant->handlers & (1u << store->handler))))
        rc = th_error_set(err, TH_EPERM,
                          "init_state from the store, but the spawning actor does not "
                          "hold the \"%s\" handler",
                          store != NULL ? store->name : "?");
    return rc != 0 ? th_error_prefix(err, "%s", man->source) : 0;
}

int rt_spec_manifest(const th_handler_set *hs, const char *path, const char *text,
                     const char *base_dir, const rt_spec *grant, rt_manifest **out, th_error *err)
{
    grant_ctx g = {hs, grant};
    rt_manifest_options opt;
    char *real = NULL;
    int rc;

    *out = NULL;
    if (text == NULL && grant != NULL) {
        if ((rc = rt_grant_file(hs, grant, path, "manifest", &real, err)) != 0)
            return rc;
        path = real;
    }
    memset(&opt, 0, sizeof opt);
    opt.base_dir = base_dir;
    opt.handlers = hs;
    if (grant != NULL) {
        opt.getenv = grant_getenv;
        opt.getenv_ctx = &g;
    }
    if (text != NULL)
        rc = rt_manifest_parse(text, strlen(text), &opt, out, err);
    else
        rc = rt_manifest_load(path, &opt, out, err);
    free(real);
    if (rc == 0 && (rc = check_grant(hs, grant, *out, err)) != 0) {
        rt_manifest_free(*out);
        *out = NULL;
    }
    return rc;
}

int rt_spec_from_manifest(rt_manifest *man, bool from_text, rt_spec **out, th_error *err)
{
    rt_spec *s = calloc(1, sizeof *s);

    *out = NULL;
    if (s == NULL) {
        rt_manifest_free(man);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    atomic_init(&s->refs, 1);
    s->man = man;
    s->name = man->name;
    s->version = man->version;
    s->manifest_path = from_text ? NULL : man->source;
    s->manifest_text = man->text;
    s->base_dir = man->dir;
    s->handlers = man->handler_set;
    s->save_chain = man->save_chain;
    s->durable = man->durable && man->save_chain; /* restored from its chain */
    s->limits.fuel_per_call = man->limits.fuel_per_call;
    s->limits.memory_bytes = man->limits.memory_bytes;
    s->limits.call_timeout_ms = man->limits.call_timeout_ms;
    s->limits.max_children = man->limits.max_children;
    s->limits.max_descendants = man->limits.max_descendants;
    s->limits.mailbox_messages = man->limits.mailbox_messages;
    s->limits.mailbox_bytes = man->limits.mailbox_bytes;
    s->limits.store_bytes = man->limits.store_bytes;
    s->limits.stack_bytes = man->limits.stack_bytes;
    s->limits_set = man->limits_set;
    s->strategy = (int)man->supervision.strategy;
    s->max_restarts = man->supervision.max_restarts;
    s->within_seconds = man->supervision.within_seconds;
    if (s->strategy != RT_STRAT_NONE && s->max_restarts == 0 && s->within_seconds == 0) {
        s->max_restarts = 3; /* default intensity: 3 restarts in 5 s */
        s->within_seconds = 5;
    }
    s->restart = (int)man->restart;
    *out = s;
    return 0;
}

int rt_spec_load(rt_runtime *rt, const char *path, const char *text, const char *base_dir,
                 const rt_spec *grant, rt_spec **out, th_error *err)
{
    rt_manifest *man = NULL;
    rt_spec *s;
    int rc;

    *out = NULL;
    /* the cache holds the operator's specs: ${VAR} there was substituted
     * from the whole environment */
    if (text == NULL && grant == NULL && (*out = cache_get(rt, path)) != NULL)
        return 0;
    if ((rc = rt_spec_manifest(rt->handlers, path, text, base_dir, grant, &man, err)) != 0 ||
        (rc = rt_spec_from_manifest(man, text != NULL, &s, err)) != 0)
        return rc;
    if ((rc = rt_module_load(rt, man->component, man->save_chain, &s->module, s->component, err)) !=
        0)
        goto fail;
    if ((rc = rt_spec_check_exports(s->module, err)) != 0 ||
        (rc = rt_capability_check(rt, s->module, s->handlers, err)) != 0) {
        th_error_prefix(err, "actor %s (%s)", s->name, man->component);
        goto fail;
    }
    if ((rc = resolve_init_state(rt, s, man, grant != NULL, err)) != 0)
        goto fail;
    if (text == NULL && grant == NULL)
        cache_put(rt, s->man->source, s);
    *out = s;
    return 0;
fail:
    s->module = NULL; /* owned by the cache */
    rt_spec_release(s);
    return rc;
}

int rt_spec_load_recorded(rt_runtime *rt, const char *text, const char *base_dir, const char *hash,
                          rt_spec **out, th_error *err)
{
    rt_manifest *man = NULL;
    rt_spec *s;
    int rc;

    *out = NULL;
    if ((rc = rt_spec_manifest(rt->handlers, NULL, text, base_dir, NULL, &man, err)) != 0 ||
        (rc = rt_spec_from_manifest(man, true, &s, err)) != 0)
        return rc;
    if ((rc = rt_component_module(rt, hash, &s->module, err)) != 0)
        goto fail;
    memcpy(s->component, hash, sizeof s->component);
    if ((rc = rt_spec_check_exports(s->module, err)) != 0 ||
        (rc = rt_capability_check(rt, s->module, s->handlers, err)) != 0) {
        th_error_prefix(err, "actor %s (component %.16s)", s->name, hash);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    s->module = NULL; /* owned by the cache */
    rt_spec_release(s);
    return rc;
}

const void *rt_spec_settings(const rt_spec *s, int handler)
{
    const rt_manifest_handler *h = rt_manifest_handler_get(s->man, handler);

    return h != NULL ? h->data : NULL;
}

void rt_spec_release(rt_spec *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    rt_manifest_free(s->man);
    free(s->init_state);
    free(atomic_load(&s->exports));
    free(s);
}
