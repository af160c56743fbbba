/*
 * server.c - the server object: the home lock, the runtime, the listeners,
 * job threads, the reaper thread, shutdown and logging.
 *
 * The home lock is an exclusive flock on $THEATER_HOME/server.lock (the
 * file holds the pid for messages only: the lock, not the file, says who
 * owns the home, and the kernel drops it when the process dies however it
 * dies).  Holding it, the server knows any theater.sock present is stale
 * and replaces it.  The runtime then takes the chains' own writer lock, so
 * a `theater run` on the same home is refused as well.
 *
 * The reaper wakes every SRV_TICK_MS: it answers waiting requests whose
 * deadline passed (504), shuts the socket of connections whose request has
 * not arrived whole within client_timeout_s (slowloris), and sends a
 * keep-alive comment on idle streams (which also notices dead clients).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hex.h"
#include "theater/store.h"
#include "server/server_int.h"
#include "theater/home.h"
#include "theater/handlers.h"

#define SRV_TICK_MS 20
#define SRV_LOCK_FILE "server.lock"
#define SRV_SOCK_FILE "theater.sock"
#define SRV_TOKEN_FILE "token"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Control characters of p[0..n) as '?': what a log line quotes (a
 * request's decoded path, an actor's text, a module's names) cannot break
 * it into lines of its own. */
static void one_line(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            p[i] = '?';
}

/* One log line, then `tail` (NULL, or lines of their own, each ending in a
 * newline), in one write: other threads' lines do not come between.  The
 * line stays one line whatever it quotes (a request's decoded path, an
 * actor's log text): control characters in it are written as '?'. */
static void log_v(th_server *s, int level, const char *tail, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void log_v(th_server *s, int level, const char *tail, const char *fmt, va_list ap)
{
    char line[2048], when[32];
    struct tm tm;
    time_t now;
    int n;

    if (s != NULL && level > s->log_level)
        return;
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    n = snprintf(line, sizeof line, "%s %-5s ", when, level_names[level]);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    one_line(line + n, strlen(line + n));
    fprintf(stderr, "%s\n%s", line, tail != NULL ? tail : ""); /* (stderr is unbuffered) */
}

void srv_log(th_server *s, int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v(s, level, NULL, fmt, ap);
    va_end(ap);
}

/* (Control characters in a frame, which a module's name section may
 * hold, are written as '?'.) */
void srv_log_backtrace(th_server *s, int level, const json_t *bt, const char *fmt, ...)
{
    srv_buf tail = {0};
    const json_t *f;
    va_list ap;
    size_t i, start;

    json_array_foreach((json_t *)bt, i, f)
    {
        if (!json_is_string(f))
            continue;
        srv_buf_add(&tail, "    at ", 7);
        start = tail.len;
        srv_buf_add(&tail, json_string_value(f), json_string_length(f));
        if (tail.data != NULL)
            one_line(tail.data + start, tail.len - start);
        srv_buf_add(&tail, "\n", 1);
    }
    va_start(ap, fmt);
    log_v(s, level, tail.oom ? NULL : tail.data, fmt, ap);
    va_end(ap);
    srv_buf_release(&tail);
}

/* ------------------------------------------------------------------ */
/* The home lock                                                      */

static int lock_path(const char *home, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", home, SRV_LOCK_FILE);
    return n > 0 && (size_t)n < cap ? 0 : TH_EINVAL;
}

static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

    if (n <= 0)
        return 0;
    buf[n] = 0;
    return (pid_t)strtol(buf, NULL, 10);
}

int th_server_home_owner(const char *home_arg, pid_t *pid, th_error *err)
{
    char home[4096], path[4200];
    int fd, rc;

    *pid = 0;
    if ((rc = th_home_resolve(home_arg, home, sizeof home, err)) != 0)
        return rc;
    if (lock_path(home, path, sizeof path) != 0)
        return th_error_set(err, TH_EINVAL, "THEATER_HOME path too long");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* never had a server */
    /* a shared probe fails only while a server holds its exclusive lock */
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK
                 ? 1
                 : th_error_set(err, TH_EIO, "cannot lock %s: %s", path, strerror(errno));
        if (rc == 1)
            *pid = read_pid(fd);
        close(fd);
        return rc;
    }
    close(fd); /* releases the probe */
    return 0;
}

static int take_home_lock(th_server *s, th_error *err)
{
    char path[4200], pid[32];
    int n;

    if (mkdir(s->home, 0700) != 0 && errno != EEXIST)
        return th_error_set(err, TH_EIO, "cannot create %s: %s", s->home, strerror(errno));
    if (lock_path(s->home, path, sizeof path) != 0)
        return th_error_set(err, TH_EINVAL, "THEATER_HOME path too long");
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return th_error_set(err, TH_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            pid_t other = read_pid(s->lock_fd);
            return th_error_set(err, TH_EBUSY,
                                "a theater server is already running on %s (pid %ld); "
                                "one server per THEATER_HOME",
                                s->home, (long)other);
        }
        return th_error_set(err, TH_EIO, "cannot lock %s: %s", path, strerror(errno));
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
        srv_log(s, TH_LOG_WARN, "cannot write the pid into %s: %s", path, strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                            */

static int unix_socket(th_server *s, th_error *err)
{
    struct sockaddr_un sa;
    mode_t old;
    int fd, rc;

    if (strlen(s->sock_path) >= sizeof sa.sun_path)
        return th_error_set(err, TH_EINVAL, "socket path %s is too long (at most %zu bytes)",
                            s->sock_path, sizeof sa.sun_path - 1);
    /* we hold the home lock: a socket file left here is stale */
    if (unlink(s->sock_path) == 0)
        srv_log(s, TH_LOG_INFO, "removed a stale socket %s", s->sock_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return th_error_set(err, TH_EIO, "socket: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, s->sock_path, strlen(s->sock_path) + 1);
    old = umask(0177); /* mode 0600 from the start: no window for others */
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || chmod(s->sock_path, 0600) != 0 || listen(fd, 512) != 0) {
        rc = th_error_set(err, TH_EIO, "cannot listen on %s: %s", s->sock_path, strerror(errno));
        close(fd);
        return rc;
    }
    return fd;
}

/* The address a TCP listener is bound to, as HOST:PORT (the port it got
 * for port 0), else `given`. */
static void tcp_bound(int fd, const char *given, char *out, size_t cap)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    char host[NI_MAXHOST], port[NI_MAXSERV];

    snprintf(out, cap, "%s", given);
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&sa, sl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    snprintf(out, cap, sa.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* "HOST:PORT" (HOST may be [v6]) to a listening TCP socket. */
static int tcp_socket(const char *addr, th_error *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':'), *h = addr;
    size_t hl;
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, one = 1, rc;

    if (colon == NULL || colon[1] == 0)
        return th_error_set(err, TH_EINVAL, "--listen %s: expected HOST:PORT", addr);
    hl = (size_t)(colon - addr);
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        h = addr + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host)
        return th_error_set(err, TH_EINVAL, "--listen %s: expected HOST:PORT", addr);
    memcpy(host, h, hl);
    host[hl] = 0;
    /* (getaddrinfo takes a number above 65535 and wraps it round) */
    if (strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5 ||
        atoi(colon + 1) > 65535)
        return th_error_set(err, TH_EINVAL,
                            "--listen %s: the port must be a number from 0 to 65535", addr);
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
        return th_error_set(err, TH_EINVAL, "--listen %s: %s", addr, gai_strerror(rc));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return th_error_set(err, TH_EIO, "cannot listen on %s: %s", addr, strerror(errno));
    return fd;
}

/* The TCP bearer token: $THEATER_HOME/token, created on first use (0600,
 * 32 random bytes as hex). */
static int load_token(th_server *s, th_error *err)
{
    char path[4200];
    unsigned char raw[32];
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "%s/%s", s->home, SRV_TOKEN_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, s->token, 64);
        close(fd);
        while (n > 0 && (s->token[n - 1] == '\n' || s->token[n - 1] == '\r'))
            n--;
        if (n < 32)
            return th_error_set(err, TH_EINVAL, "%s holds no usable token (32+ characters)", path);
        s->token[n] = 0;
        return 0;
    }
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, raw, sizeof raw) != (ssize_t)sizeof raw) {
        if (fd >= 0)
            close(fd);
        return th_error_set(err, TH_EIO, "cannot read /dev/urandom");
    }
    close(fd);
    base_hex_encode(raw, sizeof raw, s->token);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return th_error_set(err, TH_EIO, "cannot create %s: %s", path, strerror(errno));
    if (write(fd, s->token, 64) != 64 || write(fd, "\n", 1) != 1) {
        close(fd);
        return th_error_set(err, TH_EIO, "cannot write %s", path);
    }
    close(fd);
    srv_log(s, TH_LOG_INFO, "created the TCP bearer token in %s", path);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Jobs and the reaper                                                */

void srv_job_submit(th_server *s, srv_req *req, srv_job_fn fn)
{
    srv_req_ref(req);
    req->job = fn;
    req->next = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->jobs_tail != NULL)
        s->jobs_tail->next = req;
    else
        s->jobs_head = req;
    s->jobs_tail = req;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void *job_main(void *arg)
{
    th_server *s = arg;
    srv_req *req;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->jobs_head == NULL && !s->threads_stop)
            pthread_cond_wait(&s->cond, &s->lock);
        if (s->jobs_head == NULL)
            break;
        req = s->jobs_head;
        s->jobs_head = req->next;
        if (s->jobs_head == NULL)
            s->jobs_tail = NULL;
        s->jobs_busy++;
        pthread_mutex_unlock(&s->lock);
        req->job(req);
        srv_req_release(req);
        pthread_mutex_lock(&s->lock);
        s->jobs_busy--;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

void srv_timeout_add(th_server *s, srv_req *req, uint32_t timeout_ms)
{
    srv_req_ref(req);
    pthread_mutex_lock(&s->lock);
    req->deadline_ns = base_clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    req->next = s->waiting;
    s->waiting = req;
    pthread_mutex_unlock(&s->lock);
}

/* Answer overdue requests with 504; forget answered ones (most of the
 * list under load: every message to a durable actor waits here until its
 * commit, and only an overdue one needs its error body built). */
static void reap_timeouts(th_server *s, uint64_t now)
{
    srv_req **pp, *r, *due = NULL, *answered = NULL;

    pthread_mutex_lock(&s->lock);
    for (pp = &s->waiting; (r = *pp) != NULL;) {
        int st;
        pthread_mutex_lock(&r->lock);
        st = r->state;
        pthread_mutex_unlock(&r->lock);
        if (st != REQ_WAITING) {
            *pp = r->next;
            r->next = answered;
            answered = r;
        } else if (now >= r->deadline_ns) {
            *pp = r->next;
            r->next = due;
            due = r;
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&s->lock);
    while ((r = answered) != NULL) {
        answered = r->next;
        srv_req_release(r);
    }
    while ((r = due) != NULL) {
        due = r->next;
        /* (answered meanwhile: srv_req_done_error leaves it alone; it logs
         * the 504 when it sends it) */
        srv_req_done_error(r, 504, "timeout", "no response from actor %s within the timeout",
                           r->id);
        srv_req_release(r);
    }
}

/* Close connections whose request is overdue (slow clients). */
static void reap_slow(th_server *s, uint64_t now)
{
    uint64_t limit = (uint64_t)s->client_timeout_s * 1000000000u;
    srv_conn *c;

    pthread_mutex_lock(&s->lock);
    for (c = s->conns; c != NULL; c = c->next) {
        /* (since_ns may be later than `now`, taken before the lock: a
         * request that completed meanwhile) */
        if (!c->handling && c->fd >= 0 && now > c->since_ns && now - c->since_ns > limit) {
            srv_log(s, TH_LOG_WARN, "closing a connection whose request did not arrive within %u s",
                    s->client_timeout_s);
            shutdown(c->fd, SHUT_RDWR);
            c->fd = -1; /* once */
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* A recording stall (the chain writer cannot store events: a full disk,
 * say) is logged when it starts and when it ends; in between actors that
 * record wait, then fail, and GET /v1/health says why. */
static void watch_recording(th_server *s, uint64_t now)
{
    th_chain_status cs;

    if (now < s->rec_check_ns || s->rt == NULL)
        return;
    s->rec_check_ns = now + 250000000u; /* four looks a second */
    /* under the lock: the runtime's shutdown closes the chain (th_server_run) */
    pthread_mutex_lock(&s->lock);
    if (s->rec_watch_off) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    th_runtime_chain_status(s->rt, &cs);
    pthread_mutex_unlock(&s->lock);
    if ((cs.stalled || cs.failed) && !s->rec_stalled) {
        s->rec_stalled = true;
        srv_log(s, TH_LOG_ERROR,
                "recording stalled: %s; actors that record events wait, then fail, until it "
                "can store them again (GET /v1/health)",
                cs.message[0] ? cs.message : "events cannot be stored");
    } else if (!cs.stalled && !cs.failed && s->rec_stalled) {
        s->rec_stalled = false;
        srv_log(s, TH_LOG_INFO, "recording resumed: events are stored again");
    }
}

static void *reaper_main(void *arg)
{
    th_server *s = arg;
    struct timespec ts;
    uint64_t now;

    for (;;) {
        pthread_mutex_lock(&s->lock);
        if (s->threads_stop) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        ts = base_clock_wall_deadline((uint64_t)SRV_TICK_MS * 1000000u);
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        pthread_mutex_unlock(&s->lock);
        now = base_clock_mono_ns();
        reap_timeouts(s, now);
        reap_slow(s, now);
        srv_streams_tick(s, now);
        watch_recording(s, now);
    }
    return NULL;
}

static void stop_threads(th_server *s)
{
    unsigned i;

    pthread_mutex_lock(&s->lock);
    s->threads_stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    for (i = 0; i < s->njob_threads; i++)
        pthread_join(s->job_threads[i], NULL);
    s->njob_threads = 0;
    if (s->reaper_started)
        pthread_join(s->reaper, NULL);
    s->reaper_started = false;
}

/* ------------------------------------------------------------------ */
/* Runtime callbacks                                                  */

static void on_actor_log(void *ud, const char *id, const char *name, const char *msg, size_t len)
{
    th_server *s = ud;

    if (s->log_level >= TH_LOG_INFO)
        fprintf(stderr, "[%s %.8s] %.*s\n", name ? name : "runtime", id ? id : "-", (int)len, msg);
}

/* One log line per lifecycle event, naming the actor by name and short
 * id; a failure's is followed by the frames of its wasm backtrace, if it
 * has one (its "actor-failed" event records them).  Names are remembered
 * from "actor-spawned" until "actor-stopped" (the actor may be gone from
 * the runtime when its last event is heard), and then among the stopped
 * ones, for an "actor-restarted" after it (a permanent child that ended
 * by its own shutdown, restarted by its supervisor). */
static void log_lifecycle(th_server *s, const th_runtime_event *ev)
{
    static const char *const types[] = {"actor-spawned", "actor-stopped", "actor-failed",
                                        "actor-restarted", "actor-restored"};
    static const char *const verbs[] = {"started", "stopped", "failed", "restarted", "restored"};
    enum { STARTED, STOPPED, FAILED, RESTARTED, RESTORED, NKINDS };
    json_t *d, *nm;
    const char *name, *detail = "";
    int k;

    for (k = 0; k < NKINDS; k++)
        if (strcmp(ev->type, types[k]) == 0)
            break;
    if (k == NKINDS)
        return;
    d = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
    pthread_mutex_lock(&s->names_lock);
    if ((k == STARTED || k == RESTORED) && json_is_string(json_object_get(d, "name")))
        json_object_set(s->names, ev->actor_id, json_object_get(d, "name"));
    if (k == RESTORED) { /* logged by on_restored, with what it got back */
        pthread_mutex_unlock(&s->names_lock);
        json_decref(d);
        return;
    }
    nm = json_object_get(s->names, ev->actor_id);
    if (nm == NULL && k == RESTARTED && (nm = json_object_get(s->stopped_names, ev->actor_id))) {
        /* stopped by its own exit, and restarted by its supervisor */
        json_object_set(s->names, ev->actor_id, nm);
        json_object_del(s->stopped_names, ev->actor_id);
        nm = json_object_get(s->names, ev->actor_id);
    }
    name = nm ? json_string_value(nm) : "";
    if (k == STOPPED && json_is_string(json_object_get(d, "reason")))
        detail = json_string_value(json_object_get(d, "reason"));
    if (k == FAILED && json_is_string(json_object_get(d, "message")))
        detail = json_string_value(json_object_get(d, "message"));
    srv_log_backtrace(s, k == FAILED ? TH_LOG_WARN : TH_LOG_INFO,
                      k == FAILED ? json_object_get(d, "backtrace") : NULL,
                      "actor %s (%.8s) %s%s%s", name, ev->actor_id, verbs[k], detail[0] ? ": " : "",
                      detail);
    if (k == STOPPED && nm != NULL) {
        if (json_object_size(s->stopped_names) >= SRV_STOPPED_NAMES)
            json_object_clear(s->stopped_names);
        json_object_set(s->stopped_names, ev->actor_id, nm);
        json_object_del(s->names, ev->actor_id);
    }
    pthread_mutex_unlock(&s->names_lock);
    json_decref(d);
}

static void on_event(void *ud, const th_runtime_event *ev)
{
    th_server *s = ud;

    if (ev->type[0] == 'a' && strncmp(ev->type, "actor-", 6) == 0)
        log_lifecycle(s, ev);
    srv_stream_on_event(s, ev);
}

/* One line per durable actor the restore brought back, or did not. */
static void on_restored(void *ud, const char *id, const char *name, int status, const char *what)
{
    th_server *s = ud;

    if (status == 0)
        srv_log(s, TH_LOG_INFO, "restored actor %s (%.8s): %s", name, id, what);
    else
        srv_log(s, TH_LOG_WARN, "actor %.8s not brought back: %s", id, what);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */

int th_server_new(const th_server_config *cfg, th_server **out, th_error *err)
{
    th_server_config def;
    th_runtime_config rc_cfg;
    th_server *s;
    char home[4096], tcp_addr[NI_MAXHOST + NI_MAXSERV + 4] = "";
    size_t restored = 0;
    int rc, fd;
    unsigned i;

    *out = NULL;
    if (cfg == NULL) {
        memset(&def, 0, sizeof def);
        def.log_level = TH_LOG_INFO;
        cfg = &def;
    }
    if ((rc = th_home_resolve(cfg->home, home, sizeof home, err)) != 0)
        return rc;
    s = calloc(1, sizeof *s);
    if (s == NULL || (s->home = strdup(home)) == NULL) {
        free(s);
        return th_error_set(err, TH_ENOMEM, "out of memory");
    }
    s->lock_fd = -1;
    s->unix_l.fd = s->tcp_l.fd = -1;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    s->log_level = cfg->log_level;
    s->client_timeout_s =
        cfg->client_timeout_s ? cfg->client_timeout_s : TH_SERVER_CLIENT_TIMEOUT_S;
    s->stream_buffer = cfg->stream_buffer ? cfg->stream_buffer : TH_SERVER_STREAM_BUFFER_BYTES;
    s->on_closing = cfg->on_closing;
    s->on_closing_ud = cfg->on_closing_ud;
    s->started_ns = base_clock_mono_ns();
    s->started_ms = base_clock_wall_ms();
    atomic_init(&s->closing, false);
    atomic_init(&s->nstreams, 0);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->streams_lock, NULL);
    pthread_cond_init(&s->chan_cond, NULL);
    pthread_mutex_init(&s->names_lock, NULL);
    if ((s->names = json_object()) == NULL || (s->stopped_names = json_object()) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(s->sock_path, sizeof s->sock_path, "%s/%s", s->home, SRV_SOCK_FILE);
    if (pipe2(s->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = th_error_set(err, TH_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    if ((rc = take_home_lock(s, err)) != 0)
        goto fail;
    memset(&rc_cfg, 0, sizeof rc_cfg);
    rc_cfg.home = s->home;
    rc_cfg.workers = cfg->workers;
    rc_cfg.log_fn = on_actor_log;
    rc_cfg.log_ud = s;
    rc_cfg.event_fn = on_event;
    rc_cfg.event_ud = s;
    rc_cfg.handlers = th_handlers_builtin();
    rc_cfg.durable = true;
    if ((rc = th_runtime_new(&rc_cfg, &s->rt, err)) != 0) {
        if (rc == TH_EBUSY)
            th_error_prefix(err, "%s is in use by another process (a `theater run`?)", s->home);
        goto fail;
    }
    /* the actors of the last server come back before anyone can ask */
    if ((rc = th_runtime_restore(s->rt, on_restored, s, &restored, err)) != 0)
        goto fail;
    if (restored > 0)
        srv_log(s, TH_LOG_INFO, "restored %zu durable actor%s", restored, restored == 1 ? "" : "s");
    if ((fd = unix_socket(s, err)) < 0) {
        rc = fd;
        goto fail;
    }
    if ((rc = srv_listen(s, &s->unix_l, fd, false, err)) != 0)
        goto fail;
    if (cfg->listen != NULL) {
        if ((rc = load_token(s, err)) != 0)
            goto fail;
        if ((fd = tcp_socket(cfg->listen, err)) < 0) {
            rc = fd;
            goto fail;
        }
        tcp_bound(fd, cfg->listen, tcp_addr, sizeof tcp_addr);
        if ((rc = srv_listen(s, &s->tcp_l, fd, true, err)) != 0)
            goto fail;
        s->has_tcp = true;
    }
    for (i = 0; i < TH_SERVER_JOB_THREADS; i++) {
        if (pthread_create(&s->job_threads[i], NULL, job_main, s) != 0) {
            rc = th_error_set(err, TH_ENOMEM, "cannot start a thread");
            goto fail;
        }
        s->njob_threads++;
    }
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
        rc = th_error_set(err, TH_ENOMEM, "cannot start a thread");
        goto fail;
    }
    s->reaper_started = true;
    srv_log(s, TH_LOG_INFO, "theater server %s (pid %ld) on %s%s%s", THEATER_VERSION,
            (long)getpid(), s->sock_path, cfg->listen ? " and tcp " : "",
            cfg->listen ? tcp_addr : "");
    *out = s;
    return 0;
fail:
    th_server_free(s);
    return rc;
}

th_runtime *th_server_runtime(th_server *s)
{
    return s->rt;
}

void th_server_stop(th_server *s)
{
    char c = 1;
    ssize_t n = write(s->stop_pipe[1], &c, 1);
    (void)n; /* full pipe: a stop is already pending */
}

void srv_request_stop(th_server *s)
{
    th_server_stop(s);
}

static void close_listener(srv_listener *l)
{
    if (l->d != NULL) {
        MHD_stop_daemon(l->d);
        l->d = NULL;
    }
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
}

/* Stop accepting: MHD no longer accepts on the listening sockets (the
 * unix socket's file goes at once), connections already open are still
 * served (they get 503).  The sockets MHD hands back are ours, but they
 * are closed only after MHD_stop_daemon (close_listener): one of MHD's
 * threads may still be using them, as its documentation warns. */
static void quiesce(th_server *s)
{
    if (s->unix_l.d != NULL)
        s->unix_l.fd = MHD_quiesce_daemon(s->unix_l.d);
    unlink(s->sock_path);
    if (s->tcp_l.d != NULL)
        s->tcp_l.fd = MHD_quiesce_daemon(s->tcp_l.d);
}

int th_server_run(th_server *s, th_error *err)
{
    struct pollfd p;
    char buf[16];
    uint64_t t0;
    int rc, left;

    p.fd = s->stop_pipe[0];
    p.events = POLLIN;
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    while (read(s->stop_pipe[0], buf, sizeof buf) > 0)
        ;
    t0 = base_clock_mono_ns();
    srv_log(s, TH_LOG_INFO, "shutting down: no new connections; stopping every actor");
    atomic_store(&s->closing, true);
    quiesce(s);
    if (s->on_closing != NULL)
        s->on_closing(s->on_closing_ud);
    /* jobs in flight finish (spawns are refused from now on) */
    pthread_mutex_lock(&s->lock);
    while (s->jobs_head != NULL || s->jobs_busy > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    s->rec_watch_off = true; /* the chain closes below */
    pthread_mutex_unlock(&s->lock);
    /* The streams stay open while the actors stop: they send the actors'
     * last events (actor-stopped) and their channels' `closed`, then end;
     * a client that does not read them in time is cut off below. */
    th_runtime_stop_actors(s->rt);
    left = srv_streams_finish(s, TH_SERVER_STREAM_DRAIN_MS);
    if (left > 0)
        srv_log(s, TH_LOG_WARN, "%d stream%s not sent in %u ms: cut off", left,
                left == 1 ? "" : "s", TH_SERVER_STREAM_DRAIN_MS);
    srv_streams_close_all(s);
    rc = th_runtime_shutdown(s->rt, err);
    /* waiting requests were answered by the actors' ends (or time out) */
    reap_timeouts(s, UINT64_MAX);
    stop_threads(s);
    close_listener(&s->unix_l);
    close_listener(&s->tcp_l);
    srv_log(s, rc == 0 ? TH_LOG_INFO : TH_LOG_ERROR, "stopped in %llu ms%s%s",
            (unsigned long long)((base_clock_mono_ns() - t0) / 1000000u), rc == 0 ? "" : ": ",
            rc == 0 ? "" : err->msg);
    return rc;
}

void th_server_free(th_server *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->closing, true);
    if (s->unix_l.d != NULL || s->tcp_l.d != NULL)
        srv_streams_close_all(s);
    stop_threads(s);
    close_listener(&s->unix_l);
    close_listener(&s->tcp_l);
    if (s->rt != NULL) {
        th_runtime_free(s->rt);
        unlink(s->sock_path);
    }
    s->rt = NULL;
    srv_streams_close_all(s); /* frees what is left */
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the home */
    if (s->stop_pipe[0] >= 0) {
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->streams_lock);
    pthread_cond_destroy(&s->chan_cond);
    pthread_mutex_destroy(&s->names_lock);
    json_decref(s->names);
    json_decref(s->stopped_names);
    free(s->home);
    free(s);
}
