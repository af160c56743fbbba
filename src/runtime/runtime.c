/*
 * runtime.c - the embedding API (include/theater/runtime.h): the runtime
 * object, spawning, messages from outside, stop, queries, subscriptions,
 * shutdown; also the runtime-wide channel table and logging.
 *
 * Calls from outside never run actor code on the caller's thread except
 * th_runtime_spawn, which runs the new actor's first turn (its init) right
 * there: the actor is not yet known to anyone, and skipping the hand-off to
 * a worker is what makes a spawn cost microseconds.  Anything that init
 * leaves unfinished (a suspension, a preempted loop) continues on the
 * workers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "theater/chain.h"
#include "theater/store.h"
#include "runtime/rt_int.h"
#include "theater/home.h"

#define RT_MAX_EXITS TH_RT_MAX_EXITS

typedef struct rt_exit_rec {
    char id[RT_ID_LEN + 1];
    th_actor_exit exit; /* data owned */
} rt_exit_rec;

/* The bytes a remembered end holds besides its record. */
static size_t exit_bytes(const th_actor_exit *x)
{
    return (x->has_data ? x->data_len : 0) + (x->backtrace != NULL ? strlen(x->backtrace) + 1 : 0);
}

/* Forget record k (absolute number; its slot is then empty). */
static void exit_forget(rt_runtime *rt, unsigned k)
{
    rt_exit_rec *r = &rt->exits[k % RT_MAX_EXITS];

    rt->exits_bytes -= exit_bytes(&r->exit);
    free(r->exit.data);
    free(r->exit.backtrace);
    memset(r, 0, sizeof *r);
}

void rt_exit_remember(rt_runtime *rt, const char *id, const th_actor_exit *ex)
{
    rt_exit_rec *r;

    pthread_mutex_lock(&rt->exitlock);
    if (rt->exits == NULL && (rt->exits = calloc(RT_MAX_EXITS, sizeof *rt->exits)) == NULL) {
        pthread_mutex_unlock(&rt->exitlock);
        return;
    }
    /* a ring: the oldest record makes room */
    if (rt->nexits - rt->exits_old == RT_MAX_EXITS)
        exit_forget(rt, rt->exits_old++);
    r = &rt->exits[rt->nexits++ % RT_MAX_EXITS];
    memcpy(r->id, id, sizeof r->id);
    r->exit = *ex;
    r->exit.data = ex->has_data ? rt_memdup(ex->data, ex->data_len) : NULL;
    if (ex->has_data && r->exit.data == NULL)
        r->exit.has_data = false;
    r->exit.backtrace = ex->backtrace != NULL ? strdup(ex->backtrace) : NULL; /* (none if OOM) */
    rt->exits_bytes += exit_bytes(&r->exit);
    /* and what they hold is bounded: the oldest go first (the newest is
     * kept whatever its size, for the waiter that is about to ask) */
    while (rt->exits_bytes > TH_RT_EXITS_MAX_BYTES && rt->nexits - rt->exits_old > 1)
        exit_forget(rt, rt->exits_old++);
    pthread_mutex_unlock(&rt->exitlock);
}

/* A remembered end: 0 and *ex filled (data and backtrace copied), or
 * TH_ENOENT. */
static int exit_lookup(rt_runtime *rt, const char *id, th_actor_exit *ex)
{
    unsigned i, n;
    int rc = TH_ENOENT;

    pthread_mutex_lock(&rt->exitlock);
    n = rt->nexits < RT_MAX_EXITS ? rt->nexits : RT_MAX_EXITS;
    for (i = 0; rt->exits != NULL && i < n; i++) {
        rt_exit_rec *r = &rt->exits[i];
        if (strcmp(r->id, id) == 0) {
            if (ex != NULL) {
                *ex = r->exit;
                ex->data = r->exit.has_data ? rt_memdup(r->exit.data, r->exit.data_len) : NULL;
                ex->backtrace = r->exit.backtrace != NULL ? strdup(r->exit.backtrace) : NULL;
            }
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&rt->exitlock);
    return rc;
}

void rt_log(rt_runtime *rt, const char *id, const char *name, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof msg)
        n = sizeof msg - 1;
    if (rt->log_fn != NULL)
        rt->log_fn(rt->log_ud, id, name, msg, (size_t)n);
    else
        fprintf(stderr, "[%s %s] %s\n", name ? name : "runtime", /* layers: not a handler name */
                id ? id : "-", msg);
}

/* Whether `c` may be part of a file's name (a path in a message ends at
 * the first character that may not: a quote, a space, a colon...). */
static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '+' || c == '~' || c == '@' || c == '%' ||
           (unsigned char)c >= 0x80;
}

#define HIDE_MAX 40 /* host paths one message is checked for */

/* A host path that rt_error_hide_host rewrites: the first `len` bytes of
 * `path`, shown as `shown` or, when `up` > 0, as that many "..". */
typedef struct hidden {
    const char *path, *shown;
    size_t len;
    unsigned up;
} hidden;

/* The host paths of rt_error_hide_host for actor `a` (may be NULL) into
 * `h` (HIDE_MAX entries), in the order that decides between two that
 * match alike.  Returns how many. */
static size_t hidden_paths(rt_runtime *rt, rt_actor *a, const rt_hidden_file *files, size_t n,
                           hidden *h)
{
    const char *base = a != NULL && a->spec != NULL ? a->spec->base_dir : NULL;
    size_t k = 0, i, len;
    unsigned up = 0;

    for (i = 0; i < n && k < HIDE_MAX; i++)
        if (files[i].path != NULL && files[i].path[0] == '/' && files[i].path[1] != '\0')
            h[k++] = (hidden){files[i].path, files[i].shown, strlen(files[i].path), 0};
    if (base != NULL && base[0] == '/' && base[1] != '\0' && k < HIDE_MAX) {
        h[k++] = (hidden){base, ".", strlen(base), 0};
        /* the directories above it ("/" itself is no secret) */
        for (len = strlen(base) - 1; len > 0 && k < HIDE_MAX; len--)
            if (base[len] == '/')
                h[k++] = (hidden){base, NULL, len, ++up};
    }
    /* (last: a path that is also one of the above is shown as that) */
    if (rt->home != NULL && rt->home[0] == '/' && rt->home[1] != '\0' && k < HIDE_MAX)
        h[k++] = (hidden){rt->home, "$THEATER_HOME", strlen(rt->home), 0};
    return k;
}

/* Rewrite the host paths `h` (n of them) in `text` (cap bytes) as they
 * are shown (rt_error_hide_host).  Returns how many were rewritten. */
static size_t hide_paths(char *text, size_t cap, const hidden *h, size_t n)
{
    char out[TH_ERROR_MSG_MAX];
    size_t i = 0, o = 0, k, count = 0;
    const hidden *best;
    unsigned u;

    while (text[i] != '\0' && o + 1 < sizeof out) {
        best = NULL;
        for (k = 0; text[i] == '/' && (i == 0 || !name_char(text[i - 1])) && k < n; k++)
            if ((best == NULL || h[k].len > best->len) &&
                strncmp(text + i, h[k].path, h[k].len) == 0 &&
                (text[i + h[k].len] == '/' || !name_char(text[i + h[k].len])))
                best = &h[k];
        if (best == NULL) {
            out[o++] = text[i++];
            continue;
        }
        i += best->len;
        count++;
        if (best->up > 0) {
            for (u = 0; u < best->up && o + 3 < sizeof out; u++)
                o += (size_t)snprintf(out + o, sizeof out - o, u > 0 ? "/.." : "..");
        } else if (strcmp(best->shown, ".") == 0 && text[i] == '/' && name_char(text[i + 1])) {
            i++; /* "DIR/x" is "x" */
        } else {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", best->shown);
            if (o >= sizeof out)
                o = sizeof out - 1;
        }
    }
    out[o] = '\0';
    if (count > 0)
        snprintf(text, cap, "%s", out);
    return count;
}

/* rt_error_hide_host and rt_error_hide_paths: `said` (may be NULL) are
 * the words for the runtime's own storage. */
static int hide(rt_runtime *rt, rt_actor *a, const char *what, const rt_hidden_file *files,
                size_t n, const char *said, th_error *e)
{
    char full[TH_ERROR_MSG_MAX];
    hidden h[HIDE_MAX];

    snprintf(full, sizeof full, "%s", e->msg[0] ? e->msg : th_strerror(e->code));
    if (said != NULL)
        snprintf(e->msg, sizeof e->msg, "%s: %s (details in the runtime's log)", what, said);
    else if (hide_paths(e->msg, sizeof e->msg, h, hidden_paths(rt, a, files, n, h)) == 0)
        return e->code;
    rt_log(rt, a != NULL ? a->id : NULL, a != NULL && a->spec != NULL ? a->spec->name : NULL,
           "%s: %s", what, full);
    return e->code;
}

int rt_error_hide_host(rt_runtime *rt, rt_actor *a, const char *what, const rt_hidden_file *files,
                       size_t n, th_error *e)
{
    const char *said = NULL;

    switch (e->code) {
    case TH_EIO: said = "the runtime's storage could not be read or written"; break;
    case TH_ECORRUPT: said = "the runtime's storage is damaged"; break;
    case TH_EBUSY: said = "the runtime's storage is busy; try again"; break;
    case TH_EVERSION: said = "the runtime's storage has an unknown format"; break;
    default: break;
    }
    return hide(rt, a, what, files, n, said, e);
}

int rt_error_hide_paths(rt_runtime *rt, rt_actor *a, const char *what, const rt_hidden_file *files,
                        size_t n, th_error *e)
{
    return hide(rt, a, what, files, n, NULL, e);
}

int th_runtime_new(const th_runtime_config *cfg, th_runtime **out, th_error *err)
{
    th_runtime_config def;
    rt_runtime *rt;
    char home[4096];
    long ncpu;
    unsigned nworkers;
    int rc;

    *out = NULL;
    if (cfg == NULL) {
        memset(&def, 0, sizeof def);
        cfg = &def;
    }
    if ((rc = th_home_resolve(cfg->home, home, sizeof home, err)) != 0)
        return rc;
    rt = calloc(1, sizeof *rt);
    if (rt == NULL || (rt->home = strdup(home)) == NULL) {
        free(rt);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    static const th_handler_set no_handlers = {NULL, 0, NULL, NULL};
    rt->handlers = cfg->handlers != NULL ? cfg->handlers : &no_handlers;
    rt->in_memory = cfg->in_memory;
    rt->log_fn = cfg->log_fn;
    rt->log_ud = cfg->log_ud;
    rt->event_fn = cfg->event_fn;
    rt->event_ud = cfg->event_ud;
    rt->max_actors = cfg->max_actors ? cfg->max_actors : TH_RT_DEFAULT_MAX_ACTORS;
    rt->record_stall_ms = cfg->record_stall_ms ? cfg->record_stall_ms : TH_RT_RECORD_STALL_MS;
    pthread_mutex_init(&rt->modlock, NULL);
    pthread_mutex_init(&rt->chanlock, NULL);
    pthread_mutex_init(&rt->outlock, NULL);
    pthread_mutex_init(&rt->sublock, NULL);
    pthread_mutex_init(&rt->exitlock, NULL);
    atomic_init(&rt->closing, false);
    atomic_init(&rt->interrupted, false);
    rt_registry_init(&rt->reg);
    rt_wheel_init(&rt->wheel);
    if ((rc = rt_record_start(rt, err)) != 0)
        goto fail;
    if (cfg->durable && (rc = rt_durable_start(rt, err)) != 0)
        goto fail;
    rt->imports = th_wasm_imports_new();
    if (rt->imports == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = rt_capability_register_all(rt, err)) != 0)
        goto fail;
    if ((rc = rt_io_start(rt, err)) != 0)
        goto fail;
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    nworkers = cfg->workers ? cfg->workers : (ncpu > 0 ? (unsigned)ncpu : 1);
    if ((rc = rt_pack_start(rt, cfg->pack_idle_ms, err)) != 0 ||
        (rc = rt_sched_start(rt, nworkers, err)) != 0)
        goto fail;
    *out = rt;
    return 0;
fail:
    rt->shut = true;
    th_runtime_free(rt);
    return rc;
}

/* Post a stop to one actor (by reference); `code` is RT_STOP_*.  Returns
 * the rt_sync that hears when it has stopped (the caller's reference), or
 * NULL for want of memory. */
static rt_sync *stop_post(rt_actor *a, int code)
{
    rt_sync *s = rt_sync_new();
    rt_msg *m = rt_msg_new(RT_MSG_STOP, NULL, 0);

    if (s == NULL || m == NULL) {
        rt_sync_release(s);
        rt_msg_free(m);
        return NULL;
    }
    m->code = (int16_t)code;
    atomic_fetch_add(&s->refs, 1);
    m->reply.sync = s;
    rt_actor_post_ctl(a, m);
    return s;
}

/* Wait for a posted stop (at most timeout_ms, 0 = no limit) and drop the
 * caller's reference to its rt_sync. */
static int stop_wait(rt_sync *s, uint32_t timeout_ms)
{
    bool done = rt_sync_wait(s, timeout_ms, NULL);

    rt_sync_release(s);
    return done ? 0 : TH_ETIMEDOUT;
}

/* Stop one actor (by reference) and wait; `code` is RT_STOP_*. */
static int stop_and_wait(rt_actor *a, int code, uint32_t timeout_ms)
{
    rt_sync *s = stop_post(a, code);

    return s != NULL ? stop_wait(s, timeout_ms) : TH_ENOMEM;
}

/* Stops in flight at most while a group is stopped (stop_group): enough to
 * keep every worker busy and the chain's commits full, with a bounded
 * number of waits alive. */
#define RT_STOP_WINDOW 1024

/* Stop actors[0..n) (references) side by side: each stop is posted while
 * up to RT_STOP_WINDOW earlier ones are still under way, and each is
 * waited for at most timeout_ms (0 = no limit).  The workers then stop many
 * actors in their turns while the caller sleeps, instead of the caller and
 * a worker waking each other once per actor.  rc[i] (may be NULL) gets
 * each stop's outcome; returns how many failed. */
static size_t stop_group(rt_actor **actors, size_t n, int code, uint32_t timeout_ms, int *rc)
{
    rt_sync *win[RT_STOP_WINDOW];
    size_t i, failed = 0;
    int r;

    for (i = 0; i < n + RT_STOP_WINDOW; i++) {
        if (i >= RT_STOP_WINDOW && i - RT_STOP_WINDOW < n) { /* the oldest in flight */
            size_t k = i - RT_STOP_WINDOW;
            r = win[k % RT_STOP_WINDOW] != NULL ? stop_wait(win[k % RT_STOP_WINDOW], timeout_ms)
                                                : stop_and_wait(actors[k], code, timeout_ms);
            failed += r != 0;
            if (rc != NULL)
                rc[k] = r;
        }
        if (i < n)
            win[i % RT_STOP_WINDOW] = stop_post(actors[i], code);
    }
    return failed;
}

void th_runtime_chain_status(th_runtime *rt, th_chain_status *out)
{
    memset(out, 0, sizeof *out);
    if (rt->chain != NULL)
        th_chain_status_get(rt->chain, out);
}

void th_runtime_stop_actors(th_runtime *rt)
{
    rt_actor **all;
    size_t n, i, k;
    int pass;

    if (rt == NULL || rt->shut || rt->actors_stopped)
        return;
    rt->actors_stopped = true;
    atomic_store(&rt->closing, true);
    rt_pack_stop(rt);
    /* roots first: each stops its children before itself; then whatever
     * is left (children whose parents are already gone) */
    for (pass = 0; pass < 2; pass++) {
        if (rt_registry_snapshot(&rt->reg, &all, &n) != 0)
            break;
        for (i = 0, k = 0; i < n; i++) { /* the ones to stop to the front */
            rt_actor *a = all[i];
            if (pass == 1 || a->parent == NULL) {
                all[i] = all[k];
                all[k++] = a;
            }
        }
        stop_group(all, k, RT_STOP_RUNTIME, 30000, NULL);
        for (i = 0; i < n; i++)
            rt_actor_release(all[i]);
        free(all);
    }
    /* their last events appended, so heard (th_runtime_config.on_event) */
    rt_record_flush_all(rt, NULL);
}

int th_runtime_shutdown(th_runtime *rt, th_error *err)
{
    int rc;

    if (rt == NULL || rt->shut)
        return 0;
    th_runtime_stop_actors(rt);
    rt_sched_stop(rt);
    rt_io_stop(rt);
    rt_durable_stop(rt);
    rc = rt_record_stop(rt, err);
    rt->shut = true;
    return rc;
}

void th_runtime_free(th_runtime *rt)
{
    rt_module_entry *e, *next;
    rt_channel *c, *cn;

    if (rt == NULL)
        return;
    if (!rt->shut) {
        th_runtime_shutdown(rt, NULL);
    } else {
        if (rt->workers != NULL)
            rt_sched_stop(rt);
        rt_io_stop(rt);
        rt_durable_stop(rt);
        rt_record_stop(rt, NULL);
    }
    rt_pack_free(rt);
    rt_registry_release(&rt->reg);
    rt_spec_cache_free(rt);
    th_wasm_imports_free(rt->imports);
    free(rt->bound);
    for (e = rt->modules; e != NULL; e = next) {
        next = e->next;
        th_wasm_module_free(e->module);
        free(e->key);
        free(e);
    }
    for (c = rt->channels; c != NULL; c = cn) {
        cn = c->next;
        free(c);
    }
    rt_outside_free(rt);
    pthread_mutex_destroy(&rt->outlock);
    if (rt->exits != NULL) {
        unsigned i;
        for (i = 0; i < RT_MAX_EXITS; i++) {
            free(rt->exits[i].exit.data);
            free(rt->exits[i].exit.backtrace);
        }
        free(rt->exits);
    }
    pthread_mutex_destroy(&rt->exitlock);
    pthread_mutex_destroy(&rt->modlock);
    pthread_mutex_destroy(&rt->chanlock);
    pthread_mutex_destroy(&rt->sublock);
    rt_wheel_release(&rt->wheel);
    free(rt->home);
    free(rt);
}

/* ------------------------------------------------------------------ */
/* Spawning                                                           */

static rt_actor *lookup(th_runtime *rt, const char *id, th_error *err);

int th_runtime_spawn(th_runtime *rt, const th_spawn_opts *opts, char id_out[TH_ACTOR_ID_SIZE],
                     th_error *err)
{
    rt_spec *spec = NULL;
    rt_actor *a = NULL, *parent = NULL;
    rt_sync *s;
    int rc;

    if (opts != NULL && opts->backtrace != NULL)
        *opts->backtrace = NULL;
    if (atomic_load(&rt->closing))
        return th_error_set(err, TH_ECLOSED, "the runtime is shutting down");
    if (opts == NULL || (opts->manifest_path == NULL) == (opts->manifest_text == NULL))
        return th_error_set(err, TH_EINVAL, "give either a manifest path or a manifest text");
    rc = rt_spec_load(rt, opts->manifest_path, opts->manifest_text, opts->base_dir, NULL, &spec,
                      err);
    if (rc != 0)
        return rc;
    if (opts->parent_id != NULL && (parent = lookup(rt, opts->parent_id, err)) == NULL) {
        rt_spec_release(spec);
        return TH_ENOENT;
    }
    rc = rt_actor_create(rt, spec, parent, opts->initial_state != NULL, opts->initial_state,
                         opts->initial_state_len, opts, &a, err);
    rt_spec_release(spec);
    if (parent != NULL)
        rt_actor_release(parent);
    if (rc != 0)
        return rc;
    s = rt_sync_new();
    if (s == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        rt_sched_push(a, RT_PUSH_WAKE); /* the caller's turn goes to a worker */
        stop_and_wait(a, RT_STOP_BY_PARENT, 0);
        return rc;
    }
    atomic_fetch_add(&s->refs, 1);
    a->init_sync = s;
    memcpy(id_out, a->id, TH_ACTOR_ID_SIZE);
    rt_actor_ref(a);
    rt_actor_turn(a); /* init runs here; consumes the turn's reference */
    rt_sync_wait(s, 0, NULL);
    rc = s->status;
    /* an init stopped because its events could not be recorded for want of
     * memory failed for want of memory, whatever the guest made of it */
    if (rc != 0 && rt_record_failure(a) == TH_ENOMEM)
        rc = TH_ENOMEM;
    if (rc != 0) {
        th_error_set(err, rc, "init of %s failed: %s", id_out, s->msg);
        if (opts->backtrace != NULL) { /* (done: nothing writes it any more) */
            *opts->backtrace = s->backtrace;
            s->backtrace = NULL;
        }
    }
    rt_sync_release(s);
    rt_actor_release(a);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Messages from outside                                              */

static rt_actor *lookup(th_runtime *rt, const char *id, th_error *err)
{
    rt_actor *a = id ? rt_registry_get(&rt->reg, id, strlen(id)) : NULL;

    if (a == NULL)
        th_error_set(err, TH_ENOENT, "no actor %s", id ? id : "(null)");
    return a;
}

/* Queue a message from outside, or TH_EBUSY if the mailbox is full (an
 * outside thread is never held: the caller decides whether to retry). */
static int offer(rt_actor *a, rt_msg *m, th_error *err)
{
    int rc = rt_actor_offer(a, m, false);

    if (rc == RT_OFFER_QUEUED)
        return 0;
    rc = rt_actor_offer_error(a, m, rc, err);
    rt_msg_free(m);
    return rc;
}

/* A one-way message to a durable actor (durable.c): stored, then queued
 * (waiting for room in its mailbox); `s` hears when it is both. */
static int send_durable(rt_actor *a, const uint8_t *msg, size_t len, rt_sync *s, th_error *err)
{
    rt_msg *m = rt_msg_new(RT_MSG_SEND, msg, len);

    if (m == NULL) {
        s->fn = NULL; /* the caller hears it from the result */
        rt_sync_release(s);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    if (!rt_actor_msg_fits(a, m)) { /* refused before it is stored */
        int rc = rt_actor_offer_error(a, m, RT_OFFER_TOOBIG, err);
        s->fn = NULL; /* the caller hears it from the result */
        rt_msg_free(m);
        rt_sync_release(s);
        return rc;
    }
    m->ack = true;
    m->reply.sync = s; /* the message holds this reference */
    rt_durable_post(a->rt, NULL, a, m);
    return 0;
}

int th_runtime_send(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                    th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    rt_sync *s;
    rt_msg *m;
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    if (a->durable) {
        if ((s = rt_sync_new()) == NULL) {
            rt_actor_release(a);
            return th_error_set(err, TH_ENOMEM, "out of memory");
        }
        atomic_fetch_add(&s->refs, 1);
        rc = send_durable(a, msg, len, s, err);
        rt_actor_release(a);
        if (rc == 0) {
            rt_sync_wait(s, 0, NULL);
            rc = s->status;
            if (rc != 0)
                th_error_set(err, rc, "%s", s->msg);
        }
        rt_sync_release(s);
        return rc;
    }
    m = rt_msg_new(RT_MSG_SEND, msg, len);
    if (m == NULL) {
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    rc = offer(a, m, err);
    rt_actor_release(a);
    return rc;
}

int th_runtime_send_async(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                          th_runtime_reply_fn fn, void *ud, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    bool stopping;
    rt_sync *s;
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    /* a stop queued behind the mailbox (graceful) is the last thing the
     * actor handles: a message after it would be acknowledged and never
     * handled, so it is refused, as a restart is then */
    pthread_mutex_lock(&a->lock);
    stopping = a->stop_queued || a->status == TH_ACTOR_STOPPING || a->status == TH_ACTOR_STOPPED;
    pthread_mutex_unlock(&a->lock);
    if (stopping) {
        rt_actor_release(a);
        return th_error_set(err, TH_ESTATE,
                            "actor %s is stopping: the message would not be handled", actor_id);
    }
    if (!a->durable) {
        rt_actor_release(a);
        if ((rc = th_runtime_send(rt, actor_id, msg, len, err)) == 0)
            fn(ud, TH_OK, NULL, 0, NULL, NULL);
        return rc;
    }
    if ((s = rt_sync_new()) == NULL) {
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    s->fn = fn;
    s->fn_ud = ud;
    rc = send_durable(a, msg, len, s, err);
    rt_actor_release(a);
    return rc;
}

int th_runtime_request(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                       uint32_t timeout_ms, uint8_t **resp, size_t *resp_len, th_error *err)
{
    return th_runtime_request_bt(rt, actor_id, msg, len, timeout_ms, resp, resp_len, NULL, err);
}

int th_runtime_request_bt(th_runtime *rt, const char *actor_id, const uint8_t *msg, size_t len,
                          uint32_t timeout_ms, uint8_t **resp, size_t *resp_len, char **backtrace,
                          th_error *err)
{
    rt_actor *a;
    rt_sync *s;
    rt_msg *m;
    int rc;

    *resp = NULL;
    *resp_len = 0;
    if (backtrace != NULL)
        *backtrace = NULL;
    a = lookup(rt, actor_id, err);
    if (a == NULL)
        return TH_ENOENT;
    s = rt_sync_new();
    m = rt_msg_new(RT_MSG_REQUEST, msg, len);
    if (s == NULL || m == NULL) {
        rt_sync_release(s);
        rt_msg_free(m);
        rt_actor_release(a);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    rt_uuid_v4(m->b);
    atomic_fetch_add(&s->refs, 1);
    m->reply.sync = s;
    m->reply.deadline_ns = rt_deadline_ns(timeout_ms);
    rc = offer(a, m, err);
    rt_actor_release(a);
    if (rc != 0) {
        rt_sync_release(s);
        return rc;
    }
    if (!rt_sync_wait(s, timeout_ms, rt)) {
        rt_sync_release(s);
        if (atomic_load(&rt->interrupted))
            return th_error_set(err, TH_ECLOSED, "interrupted");
        return th_error_set(err, TH_ETIMEDOUT, "no response from %s within %u ms", actor_id,
                            timeout_ms);
    }
    rc = s->status;
    if (rc == 0) {
        *resp = s->data;
        *resp_len = s->len;
        s->data = NULL;
        if (*resp == NULL)
            *resp = calloc(1, 1);
    } else {
        th_error_set(err, rc, "%s", s->msg);
        if (backtrace != NULL) { /* (done: nothing writes it any more) */
            *backtrace = s->backtrace;
            s->backtrace = NULL;
        }
    }
    rt_sync_release(s);
    return rc;
}

int th_runtime_stop(th_runtime *rt, const char *actor_id, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    rc = stop_and_wait(a, RT_STOP_EXTERNAL, 0);
    /* its last events (actor-stopped) are readable when the caller hears
     * that it has gone; a stalled writer makes this wait at most
     * record_stall_ms (the stop itself has happened) */
    if (rc == 0)
        rt_record_flush(a, NULL);
    rt_actor_release(a);
    if (rc != 0)
        th_error_set(err, rc, "stopping %s failed", actor_id);
    return rc;
}

int th_runtime_stop_many(th_runtime *rt, const char *const *actor_ids, size_t n, size_t *stopped,
                         th_error *err)
{
    rt_actor **all = n ? calloc(n, sizeof *all) : NULL;
    int *rcs = n ? calloc(n, sizeof *rcs) : NULL;
    size_t i, k = 0, done = 0, missing = 0;
    const char *first_missing = NULL;
    int rc = 0;

    if (stopped != NULL)
        *stopped = 0;
    if (n > 0 && (all == NULL || rcs == NULL)) {
        free(all);
        free(rcs);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        rt_actor *a =
            actor_ids[i] ? rt_registry_get(&rt->reg, actor_ids[i], strlen(actor_ids[i])) : NULL;
        if (a != NULL)
            all[k++] = a;
        else if (missing++ == 0)
            first_missing = actor_ids[i] ? actor_ids[i] : "(null)";
    }
    stop_group(all, k, RT_STOP_EXTERNAL, 0, rcs);
    /* their last events are readable when the caller hears that they have
     * gone (as th_runtime_stop): the first wait covers nearly all */
    for (i = 0; i < k; i++) {
        if (rcs[i] == 0) {
            rt_record_flush(all[i], NULL);
            done++;
        } else if (rc == 0) {
            rc = th_error_set(err, rcs[i], "stopping %s failed", all[i]->id);
        }
        rt_actor_release(all[i]);
    }
    if (rc == 0 && missing > 0)
        rc = th_error_set(err, TH_ENOENT,
                          "no actor %s (%zu of %zu ids not found; the others stopped)",
                          first_missing, missing, n);
    if (stopped != NULL)
        *stopped = done;
    free(all);
    free(rcs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Queries                                                            */

int th_runtime_get_state(th_runtime *rt, const char *actor_id, bool *has_state, uint8_t **state,
                         size_t *len, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    rc = rt_actor_get_state(a, has_state, state, len);
    rt_actor_release(a);
    if (rc != 0)
        th_error_set(err, rc, "out of memory");
    return rc;
}

int th_runtime_flush(th_runtime *rt, const char *actor_id, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    int rc;

    if (a == NULL) {
        /* an actor that has ended: its last events were queued before it
         * left the registry (supervise.c), so waiting for everything
         * queued now covers them */
        th_chain_head h;
        if (actor_id == NULL || rt->chain == NULL)
            return TH_ENOENT;
        th_error_clear(err);
        if ((rc = rt_record_flush_all(rt, err)) != 0)
            return rc;
        if (th_chain_head_get(rt->chain, actor_id, &h, NULL) != 0)
            return th_error_set(err, TH_ENOENT, "no actor %.64s", actor_id);
        return 0;
    }
    rc = rt_record_flush(a, err);
    rt_actor_release(a);
    return rc;
}

int th_runtime_memory_events(th_runtime *rt, const char *actor_id, const th_chain_query *q,
                             th_chain_events *out, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    int rc;

    memset(out, 0, sizeof *out);
    if (a == NULL)
        return TH_ENOENT;
    rc = rt_record_memory_read(a, q, out, err);
    rt_actor_release(a);
    return rc;
}

int th_runtime_actor_status(th_runtime *rt, const char *actor_id, th_actor_status *status,
                            th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);

    if (a == NULL)
        return TH_ENOENT;
    *status = (th_actor_status)rt_actor_status(a);
    rt_actor_release(a);
    return 0;
}

/* The ids of v's actors but those already stopped: an actor is STOPPED
 * before its actor-stopped event can be heard (rt_sup_finish), so whoever
 * heard it no longer finds it listed, although it leaves the registry (and
 * its parent's children) a moment later. */
static int ids_of(rt_actor **v, size_t n, char ***ids, size_t *count)
{
    char **out = calloc(n + 1, sizeof *out);
    size_t i, k = 0;

    if (out == NULL)
        return TH_ENOMEM;
    for (i = 0; i < n; i++) {
        if (rt_actor_status(v[i]) == TH_ACTOR_STOPPED)
            continue;
        out[k] = strdup(v[i]->id);
        if (out[k++] == NULL) {
            th_runtime_strv_free(out);
            return TH_ENOMEM;
        }
    }
    *ids = out;
    *count = k;
    return 0;
}

int th_runtime_list_actors(th_runtime *rt, char ***ids, size_t *n, th_error *err)
{
    rt_actor **v;
    size_t cnt, i;
    int rc = rt_registry_snapshot(&rt->reg, &v, &cnt);

    if (rc == 0) {
        rc = ids_of(v, cnt, ids, n);
        for (i = 0; i < cnt; i++)
            rt_actor_release(v[i]);
        free(v);
    }
    if (rc != 0)
        th_error_set(err, rc, "out of memory");
    return rc;
}

int th_runtime_list_children(th_runtime *rt, const char *actor_id, char ***ids, size_t *n,
                             th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err), **v;
    size_t cnt, i;
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    rc = rt_actor_children(a, &v, &cnt);
    rt_actor_release(a);
    if (rc == 0) {
        rc = ids_of(v, cnt, ids, n);
        for (i = 0; i < cnt; i++)
            rt_actor_release(v[i]);
        free(v);
    }
    if (rc != 0)
        th_error_set(err, rc, "out of memory");
    return rc;
}

void th_runtime_strv_free(char **ids)
{
    size_t i;

    if (ids == NULL)
        return;
    for (i = 0; ids[i] != NULL; i++)
        free(ids[i]);
    free(ids);
}

int th_runtime_subscribe(th_runtime *rt, const char *actor_id, th_runtime_event_fn fn, void *ud,
                         uint64_t *sub_id, th_error *err)
{
    rt_actor *a = lookup(rt, actor_id, err);
    int rc;

    if (a == NULL)
        return TH_ENOENT;
    rc = rt_record_subscribe(a, fn, ud, sub_id);
    rt_actor_release(a);
    if (rc != 0)
        th_error_set(err, rc, "out of memory");
    return rc;
}

int th_runtime_unsubscribe(th_runtime *rt, uint64_t sub_id)
{
    return rt_record_unsubscribe(rt, sub_id);
}

int th_runtime_wait(th_runtime *rt, const char *actor_id, uint32_t timeout_ms, th_actor_exit *ex,
                    th_error *err)
{
    rt_actor *a = actor_id ? rt_registry_get(&rt->reg, actor_id, strlen(actor_id)) : NULL;
    rt_sync *s = NULL;
    rt_sync **w;
    bool done;
    int rc = 0;

    if (a == NULL) {
        if (actor_id != NULL && exit_lookup(rt, actor_id, ex) == 0)
            return 0;
        return th_error_set(err, TH_ENOENT, "no actor %s", actor_id ? actor_id : "(null)");
    }
    pthread_mutex_lock(&a->lock);
    if (!a->exited) {
        s = rt_sync_new();
        w = s ? realloc(a->waiters, (a->nwaiters + 1) * sizeof *w) : NULL;
        if (w == NULL) {
            pthread_mutex_unlock(&a->lock);
            rt_sync_release(s);
            rt_actor_release(a);
            return th_error_set(err, TH_ENOMEM, "out of memory");
        }
        a->waiters = w;
        atomic_fetch_add(&s->refs, 1);
        w[a->nwaiters++] = s;
    }
    pthread_mutex_unlock(&a->lock);
    if (s != NULL) {
        done = rt_sync_wait(s, timeout_ms, rt);
        rt_sync_release(s);
        if (!done) {
            rt_actor_release(a);
            if (atomic_load(&rt->interrupted))
                return th_error_set(err, TH_ECLOSED, "interrupted");
            return th_error_set(err, TH_ETIMEDOUT, "%s still running after %u ms", actor_id,
                                timeout_ms);
        }
    }
    if (ex != NULL) {
        pthread_mutex_lock(&a->lock);
        if (a->exit != NULL) {
            *ex = *a->exit;
            ex->data = a->exit->has_data ? rt_memdup(a->exit->data, a->exit->data_len) : NULL;
            /* (no backtrace if out of memory: the end is still told) */
            ex->backtrace = a->exit->backtrace != NULL ? strdup(a->exit->backtrace) : NULL;
            if (a->exit->has_data && ex->data == NULL)
                rc = TH_ENOMEM;
        } else {
            memset(ex, 0, sizeof *ex);
            ex->reason = a->exit_reason;
        }
        pthread_mutex_unlock(&a->lock);
    }
    rt_actor_release(a);
    return rc;
}

void th_runtime_interrupt(th_runtime *rt)
{
    atomic_store(&rt->interrupted, true);
}

/* ------------------------------------------------------------------ */
/* Channels                                                           */

int rt_channel_new(rt_runtime *rt, const char *opener, const char *target, char id[RT_ID_LEN + 1])
{
    rt_channel *c = calloc(1, sizeof *c);

    if (c == NULL)
        return TH_ENOMEM;
    rt_uuid_v4(c->id);
    memcpy(c->side[0], opener, RT_ID_LEN + 1);
    memcpy(c->side[1], target, RT_ID_LEN + 1);
    memcpy(id, c->id, RT_ID_LEN + 1);
    pthread_mutex_lock(&rt->chanlock);
    c->next = rt->channels;
    rt->channels = c;
    pthread_mutex_unlock(&rt->chanlock);
    return 0;
}

static rt_channel **chan_find(rt_runtime *rt, const char *id, size_t n)
{
    rt_channel **pp;

    for (pp = &rt->channels; *pp != NULL; pp = &(*pp)->next)
        if (n == RT_ID_LEN && memcmp((*pp)->id, id, RT_ID_LEN) == 0)
            return pp;
    return NULL;
}

int rt_channel_peer(rt_runtime *rt, const char *chan, size_t n, const char *self,
                    char peer[RT_ID_LEN + 1])
{
    rt_channel **pp;
    int rc = 0;

    pthread_mutex_lock(&rt->chanlock);
    pp = chan_find(rt, chan, n);
    if (pp == NULL)
        rc = TH_ENOENT;
    else if (strcmp((*pp)->side[0], self) == 0)
        memcpy(peer, (*pp)->side[1], RT_ID_LEN + 1);
    else if (strcmp((*pp)->side[1], self) == 0)
        memcpy(peer, (*pp)->side[0], RT_ID_LEN + 1);
    else
        rc = TH_EPERM;
    if (rc == 0 && !(*pp)->open)
        rc = TH_ECLOSED;
    pthread_mutex_unlock(&rt->chanlock);
    return rc;
}

void rt_channel_set_open(rt_runtime *rt, const char *chan, bool open)
{
    rt_channel **pp;

    pthread_mutex_lock(&rt->chanlock);
    pp = chan_find(rt, chan, strlen(chan));
    if (pp != NULL)
        (*pp)->open = open;
    pthread_mutex_unlock(&rt->chanlock);
}

int rt_channel_close(rt_runtime *rt, const char *chan, const char *self, char peer[RT_ID_LEN + 1])
{
    rt_channel **pp, *c = NULL;
    int rc = 0;

    pthread_mutex_lock(&rt->chanlock);
    pp = chan_find(rt, chan, strlen(chan));
    if (pp == NULL) {
        rc = TH_ENOENT;
    } else if (self != NULL && strcmp((*pp)->side[0], self) != 0 &&
               strcmp((*pp)->side[1], self) != 0) {
        rc = TH_EPERM;
    } else {
        c = *pp;
        *pp = c->next;
        if (!c->open)
            rc = TH_ECLOSED;
        else if (self != NULL && peer != NULL)
            memcpy(peer, strcmp(c->side[0], self) == 0 ? c->side[1] : c->side[0], RT_ID_LEN + 1);
    }
    pthread_mutex_unlock(&rt->chanlock);
    free(c);
    return rc;
}

void rt_channel_close_all(rt_runtime *rt, const char *self, const char *why)
{
    rt_channel **pp, *c, *closed = NULL;
    rt_msg *m;

    pthread_mutex_lock(&rt->chanlock);
    for (pp = &rt->channels; (c = *pp) != NULL;) {
        if (strcmp(c->side[0], self) == 0 || strcmp(c->side[1], self) == 0) {
            *pp = c->next;
            c->next = closed;
            closed = c;
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&rt->chanlock);
    while ((c = closed) != NULL) {
        closed = c->next;
        if (c->open) {
            const char *other = strcmp(c->side[0], self) == 0 ? c->side[1] : c->side[0];
            m = rt_msg_new(RT_MSG_CHAN_CLOSE, (const uint8_t *)why, why != NULL ? strlen(why) : 0);
            if (m != NULL) {
                memcpy(m->a, self, RT_ID_LEN + 1);
                memcpy(m->b, c->id, RT_ID_LEN + 1);
                rt_channel_deliver(rt, other, m);
            }
        }
        free(c);
    }
}
