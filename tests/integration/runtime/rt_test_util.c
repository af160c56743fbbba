/*
 * rt_test_util.c - see rt_test_util.h.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt_test_util.h"
#include "theater/chain.h"
#include "theater/handlers.h"
#include "theater/store.h"

static void on_log(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    rtt_log *l = ud;
    size_t need;

    (void)id;
    pthread_mutex_lock(&l->lock);
    need = l->len + len + strlen(name ? name : "") + 4;
    if (need > l->cap) {
        l->cap = need * 2;
        l->text = realloc(l->text, l->cap);
    }
    l->len += (size_t)sprintf(l->text + l->len, "%s: %.*s\n", name ? name : "", (int)len, msg);
    pthread_mutex_unlock(&l->lock);
    if (getenv("RTT_VERBOSE"))
        fprintf(stderr, "log %s: %.*s\n", name ? name : "", (int)len, msg);
}

void rtt_start(rtt *t, unsigned workers)
{
    rtt_start_max(t, workers, 0);
}

long rtt_rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

void rtt_start_max(rtt *t, unsigned workers, unsigned max_actors)
{
    rtt_start_packing(t, workers, max_actors, 0);
}

/* A runtime over t->home (a new temporary one if `fresh`). */
static void start_runtime(rtt *t, bool fresh, unsigned workers, unsigned max_actors,
                          unsigned pack_idle_ms, bool durable)
{
    th_runtime_config cfg;
    th_error err;

    if (fresh) {
        memset(t, 0, sizeof *t);
        snprintf(t->home, sizeof t->home, "/tmp/theater-rtt-XXXXXX");
        if (mkdtemp(t->home) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
        pthread_mutex_init(&t->log.lock, NULL);
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.home = t->home;
    cfg.workers = workers;
    cfg.log_fn = on_log;
    cfg.log_ud = &t->log;
    cfg.max_actors = max_actors;
    cfg.pack_idle_ms = pack_idle_ms;
    cfg.durable = durable;
    cfg.handlers = th_handlers_builtin();
    if (th_runtime_new(&cfg, &t->rt, &err) != 0) {
        fprintf(stderr, "th_runtime_new: %s\n", err.msg);
        exit(1);
    }
}

void rtt_start_packing(rtt *t, unsigned workers, unsigned max_actors, unsigned pack_idle_ms)
{
    start_runtime(t, true, workers, max_actors, pack_idle_ms, false);
}

void rtt_start_durable(rtt *t, unsigned workers)
{
    start_runtime(t, true, workers, 0, 0, true);
}

void rtt_restart_durable(rtt *t, unsigned workers)
{
    size_t n = 0;
    th_error err;

    if (th_runtime_shutdown(t->rt, &err) != 0)
        fprintf(stderr, "shutdown: %s\n", err.msg);
    th_runtime_free(t->rt);
    t->rt = NULL;
    start_runtime(t, false, workers, 0, 0, true);
    if (th_runtime_restore(t->rt, NULL, NULL, &n, &err) != 0) {
        fprintf(stderr, "th_runtime_restore: %s\n", err.msg);
        exit(1);
    }
}

void rtt_stop(rtt *t)
{
    char cmd[400];
    th_error err;

    if (th_runtime_shutdown(t->rt, &err) != 0)
        fprintf(stderr, "shutdown: %s\n", err.msg);
    th_runtime_free(t->rt);
    t->rt = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->home);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t->home);
    free(t->log.text);
    pthread_mutex_destroy(&t->log.lock);
}

bool rtt_log_has(rtt *t, const char *needle)
{
    bool yes;

    pthread_mutex_lock(&t->log.lock);
    yes = t->log.text != NULL && strstr(t->log.text, needle) != NULL;
    pthread_mutex_unlock(&t->log.lock);
    return yes;
}

bool rtt_log_wait(rtt *t, const char *needle, unsigned ms)
{
    unsigned i;

    for (i = 0; i <= ms / 5; i++) {
        if (rtt_log_has(t, needle))
            return true;
        usleep(5000);
    }
    return false;
}

unsigned long long rtt_calls(rtt *t, const char *id)
{
    th_actor_info info;
    th_error err;

    if (th_runtime_actor_info(t->rt, id, &info, &err) != 0)
        return 0;
    return (unsigned long long)info.calls;
}

void *rtt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n = -1;

    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL &&
        fread(p, 1, (size_t)n, f) == (size_t)n) {
        fclose(f);
        *len = (size_t)n;
        return p;
    }
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
}

bool rtt_calls_wait(rtt *t, const char *id, unsigned long long n, unsigned ms)
{
    unsigned i;

    for (i = 0; i <= ms / 5; i++) {
        if (rtt_calls(t, id) > n)
            return true;
        usleep(5000);
    }
    return false;
}

static const char *bindir(void)
{
    const char *d = getenv("THEATER_BINARY_DIR");
    return d ? d : ".";
}

const char *rtt_example(const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8];

    snprintf(p, 512, "%s/examples/actors/%s.toml", bindir(), name);
    return access(p, R_OK) == 0 ? p : NULL;
}

const char *rtt_module(const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8];

    snprintf(p, 512, "%s/tests/integration/runtime/%s.wasm", bindir(), name);
    return p;
}

const char *rtt_manifest(rtt *t, const char *name, const char *module, const char *handlers,
                         const char *extra)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8], h[64];
    const char *s = handlers, *e;
    FILE *f;

    snprintf(p, 512, "%s/%s.toml", t->home, name);
    f = fopen(p, "w");
    if (f == NULL) {
        perror(p);
        exit(1);
    }
    fprintf(f, "name = \"%s\"\nversion = \"0.1.0\"\ncomponent = \"%s\"\n", name, module);
    if (extra != NULL)
        fprintf(f, "%s\n", extra);
    while (s != NULL && *s) {
        e = strchr(s, ' ');
        snprintf(h, sizeof h, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
        fprintf(f, "\n[[handler]]\ntype = \"%s\"\n", h);
        s = e ? e + 1 : NULL;
    }
    fclose(f);
    return p;
}

void rtt_spawn_state(rtt *t, const char *man, const char *state, char *id)
{
    th_spawn_opts o = {0};
    th_error err;

    o.manifest_path = man;
    if (state != NULL) {
        o.initial_state = (const uint8_t *)state;
        o.initial_state_len = strlen(state);
    }
    if (th_runtime_spawn(t->rt, &o, id, &err) != 0) {
        fprintf(stderr, "spawn of %s: %s\n", man, err.msg);
        exit(1);
    }
}

void rtt_spawn_probe(rtt *t, const char *name, const char *module, const char *handler,
                     const char *grant, char *id)
{
    char path[512];
    th_spawn_opts o = {0};
    th_error err;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s.toml", t->home, name);
    if ((f = fopen(path, "w")) == NULL) {
        perror(path);
        exit(1);
    }
    fprintf(f,
            "name = \"%s\"\ncomponent = \"%s\"\n\n[[handler]]\ntype = \"runtime\"\n\n"
            "[[handler]]\ntype = \"message-server\"\n\n[[handler]]\ntype = \"%s\"\n%s\n",
            name, rtt_module(module), handler, grant);
    fclose(f);
    o.manifest_path = path;
    if (th_runtime_spawn(t->rt, &o, id, &err) != 0) {
        fprintf(stderr, "spawn of %s: %s\n", name, err.msg);
        exit(1);
    }
}

int rtt_spawn_family(rtt *t, const char *handler, const char *grant, const char *child_grant,
                     th_error *err)
{
    char par[512], kid[2048], id[TH_ACTOR_ID_SIZE];
    th_spawn_opts o = {0};
    FILE *f;

    snprintf(par, sizeof par, "%s/parent.toml", t->home);
    if ((f = fopen(par, "w")) == NULL) {
        perror(par);
        exit(1);
    }
    fprintf(f,
            "name = \"parent\"\ncomponent = \"%s\"\n[[handler]]\ntype = \"runtime\"\n"
            "[[handler]]\ntype = \"supervisor\"\n[[handler]]\ntype = \"filesystem\"\npath = "
            "\"/\"\n[[handler]]\ntype = \"%s\"\n%s\n",
            rtt_module("parent"), handler, grant);
    fclose(f);
    snprintf(kid, sizeof kid,
             "name = \"kid\"\ncomponent = \"%s\"\n[[handler]]\ntype = \"%s\"\n%s\n",
             rtt_module("hostile"), handler, child_grant);
    o.manifest_path = par;
    o.initial_state = (const uint8_t *)kid;
    o.initial_state_len = strlen(kid);
    return th_runtime_spawn(t->rt, &o, id, err);
}

char *rtt_ask(rtt *t, const char *id, uint32_t timeout_ms, const char *fmt, ...)
{
    char *s;
    va_list ap;

    va_start(ap, fmt);
    s = rtt_askv(t, id, timeout_ms, fmt, ap);
    va_end(ap);
    return s;
}

char *rtt_askv(rtt *t, const char *id, uint32_t timeout_ms, const char *fmt, va_list ap)
{
    char c[4096];

    vsnprintf(c, sizeof c, fmt, ap);
    return rtt_ask_bytes(t, id, timeout_ms, c, strlen(c));
}

char *rtt_ask_bytes(rtt *t, const char *id, uint32_t timeout_ms, const void *req, size_t n)
{
    uint8_t *resp;
    size_t len;
    th_error err;
    char *s;

    if (th_runtime_request(t->rt, id, req, n, timeout_ms, &resp, &len, &err) != 0) {
        fprintf(stderr, "request '%.*s': %s\n", (int)n, (const char *)req, err.msg);
        exit(1);
    }
    if ((s = malloc(len + 1)) == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(s, resp, len);
    s[len] = 0;
    free(resp);
    return s;
}

int rtt_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    while (d != NULL && readdir(d) != NULL)
        n++;
    if (d != NULL)
        closedir(d);
    return n;
}

unsigned long long rtt_verify_chain(rtt *t, const char *id)
{
    th_chain_config cfg = {0};
    th_chain_verify_result res;
    th_chain *c;
    th_error err;

    if (th_runtime_flush(t->rt, id, &err) != 0) {
        fprintf(stderr, "flush of %s: %s\n", id, err.msg);
        exit(1);
    }
    cfg.home = t->home;
    cfg.read_only = 1;
    if (th_chain_open(&cfg, &c, &err) != TH_OK) {
        fprintf(stderr, "chain open: %s\n", err.msg);
        exit(1);
    }
    if (th_chain_verify(c, id, &res, &err) != TH_OK || res.problem != 0) {
        fprintf(stderr, "chain of %s does not verify: %s %s\n", id, err.msg, res.detail);
        exit(1);
    }
    th_chain_close(c);
    return (unsigned long long)res.events;
}

char *rtt_event_types(rtt *t, const char *id)
{
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_error err;
    size_t i, len = 0, k;
    char *s, *n;

    q.actor = id;
    if (th_runtime_flush(t->rt, id, &err) != 0 ||
        th_chain_read(th_runtime_chain(t->rt), &q, &evs, &err) != 0) {
        fprintf(stderr, "events of %s: %s\n", id, err.msg);
        exit(1);
    }
    if ((s = calloc(1, 1)) == NULL)
        exit(1);
    for (i = 0; i < evs.count; i++) {
        k = strlen(evs.items[i].type);
        if ((n = realloc(s, len + k + 2)) == NULL)
            exit(1);
        s = n;
        memcpy(s + len, evs.items[i].type, k);
        len += k;
        s[len++] = '\n';
        s[len] = '\0';
    }
    th_chain_events_free(&evs);
    return s;
}

void rtt_replay_identical(rtt *t, const char *id)
{
    th_store_config sc = {0};
    th_chain_query q = {0};
    th_chain_events evs = {0};
    th_runtime_replay_opts o = {0};
    th_runtime_replay_result res = {0};
    th_store *s = NULL;
    th_error err;

    q.actor = id;
    sc.home = t->home;
    sc.read_only = 1;
    if (th_runtime_flush(t->rt, id, &err) != 0 ||
        th_chain_read(th_runtime_chain(t->rt), &q, &evs, &err) != 0 ||
        th_store_open(&sc, &s, &err) != 0) {
        fprintf(stderr, "replay of %s: %s\n", id, err.msg);
        exit(1);
    }
    o.events = &evs;
    o.store = s;
    o.handlers = th_handlers_builtin();
    o.until = UINT64_MAX;
    if (th_runtime_replay(&o, &res, &err) != 0) {
        fprintf(stderr, "replay of %s: %s\n", id, err.msg);
        exit(1);
    }
    if (res.diverged || res.events != evs.count) {
        fprintf(stderr,
                "replay of %s diverged at event %llu (%s) after %llu of %zu events: "
                "recorded %s, replayed %s\n",
                id, (unsigned long long)res.seq, res.type, (unsigned long long)res.events,
                evs.count, res.recorded, res.replayed);
        exit(1);
    }
    th_runtime_replay_result_release(&res);
    th_store_close(s);
    th_chain_events_free(&evs);
}
