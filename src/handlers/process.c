/*
 * process.c - the `process` interface: os-spawn, os-write-stdin, os-status,
 * os-signal, os-kill; and the `process-handlers` exports it calls.
 *
 * A spawn is checked on the actor's worker against the manifest's grants
 * (allowed_programs: the exact absolute path; allowed_paths: the cwd's real
 * path, relative to the manifest's directory, inside one of them, with one
 * answer for any path outside whether or not it exists; max_processes
 * running at once; no env entry the loader or libc would act on), then
 * the actor is suspended while the I/O thread starts the child with
 * uv_spawn: no shell, the environment exactly what the config gives, its
 * own process group (so a kill reaches what it started),
 * stdin/stdout/stderr pipes.
 * The answer (the pid, or err) resumes the actor.
 *
 * Output: each stream is cut into deliveries by its output mode (raw:
 * each read, at most buffer-size bytes; line-by-line: each line without
 * its "\n", empty lines skipped; json: each line that parses as JSON, other lines counted as
 * invalid; chunked: chunk-size bytes, the rest at the end) and each
 * delivery becomes an inbound event handle-stdout / handle-stderr(pid,
 * bytes) in the actor's mailbox (rt_inbound_deliver), run in its turn and
 * recorded.  Bytes delivered and not yet handled by the actor count
 * against max_output_buffer per stream: at that mark the stream is no
 * longer read (the child waits on its full pipe) until the actor has
 * caught up.  A line (or chunk) longer than max_output_buffer is cut:
 * the rest of it is dropped and the next event's record says how many
 * bytes were cut before it ("cut"), as does the exit's record.  When the child has exited and its
 * pipes are closed (or 200 ms after its exit, if something it started
 * keeps them open), handle-exit(pid, status) follows the last output: the
 * exit status, or -N when signal N ended it.
 *
 * Ends: execution-timeout, os-kill, the actor's end (failure, stop,
 * restart) and the runtime's stop send SIGTERM to the child's process
 * group, then SIGKILL after TH_PROC_KILL_GRACE_MS (os-kill and the
 * runtime's stop: SIGKILL at once).  libuv reaps every child; a child's
 * handle is closed only after it is reaped, so none is left a zombie, and
 * every pipe is closed with its handle.
 *
 * Ownership and threads: a process (pr_proc) is shared by the actor's
 * table (os-status etc., on workers, under the table's lock) and the loop
 * (its handles, loop thread only), and by each event in flight; it is
 * freed when the last reference goes.  Fields under `lock` are the status
 * the workers read.
 */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <jansson.h>
#include <uv.h>

#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "wit_glue.h"

#define IFACE "process"
#define LINGER_MS 200 /* after the exit, how long output may still come */

enum { OUT_STDOUT = 0, OUT_STDERR = 1, EV_EXIT = 2 };

typedef struct pr_proc pr_proc;

/* One output stream (loop thread, but `inflight`). */
typedef struct pr_stream {
    uv_pipe_t pipe;
    pr_proc *p;
    int which; /* OUT_STDOUT / OUT_STDERR */
    int mode;  /* WIT_PROCESS_OUTPUT_MODE_* */
    bool open;
    rt_buf pend;                    /* a line or chunk being gathered */
    bool pend_cut;                  /* the line in pend was cut: skip to its end */
    atomic_uint_least64_t inflight; /* bytes delivered, not yet handled */
    atomic_bool paused;             /* reading stopped until the actor catches up */
    atomic_bool resume_posted;
    uint64_t cut, invalid; /* bytes cut, JSON lines refused: not yet recorded */
    uint64_t cut_total;
} pr_stream;

struct pr_proc {
    atomic_int refs;
    pr_proc *next;  /* the actor's table */
    pr_proc *lnext; /* the loop's list */
    rt_runtime *rt;
    char actor[RT_ID_LEN + 1];
    pthread_mutex_t lock; /* the status below */
    uint64_t pid;
    bool running, exited, spawned;
    int32_t exit_code;
    uint64_t start_ms;
    uint64_t stdin_queued; /* bytes given to os-write-stdin, not yet written */
    bool stdin_closed;
    /* the spawn (set on the worker, read on the loop) */
    char *file, **argv, **envp, *cwd;
    uint64_t token;
    uint32_t read_size, chunk;
    uint64_t max_output, timeout_ms;
    /* loop thread only */
    uv_process_t proc;
    uv_pipe_t in;
    pr_stream out[2];
    uv_timer_t kill_timer, linger;
    int handles;    /* open handles */
    bool proc_open; /* proc handle open (closed after the exit) */
    bool in_open;
    bool ended;     /* its actor ended: nothing more is delivered */
    bool term_sent; /* SIGTERM sent; SIGKILL when kill_timer fires */
    bool exit_seen, exit_told;
    int64_t status;
    int term_signal;
};

/* The actor's processes (rt_hstate.procs). */
typedef struct pr_table {
    pthread_mutex_t lock;
    pr_proc *list;
    uint32_t running; /* spawned or spawning, not yet exited */
    uint32_t ended;   /* exited ones kept for os-status */
} pr_table;

/* The loop's processes (slot HANDLER_PROCESS). */
typedef struct pr_loop {
    pr_proc *list;    /* running children */
    pr_proc *exiting; /* exited, their handles not yet all closed */
    bool quitting;
} pr_loop;

static void proc_unref(pr_proc *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    free(p->file);
    for (size_t i = 0; p->argv != NULL && p->argv[i] != NULL; i++)
        free(p->argv[i]);
    free(p->argv);
    for (size_t i = 0; p->envp != NULL && p->envp[i] != NULL; i++)
        free(p->envp[i]);
    free(p->envp);
    free(p->cwd);
    rt_buf_release(&p->out[0].pend);
    rt_buf_release(&p->out[1].pend);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ------------------------------------------------------------------ */
/* Results of suspended calls (os-spawn)                              */

/* Resume the spawning actor with ok(pid) or err(why) (the generated
 * wit_wake_T). */
static void answer_spawn(pr_proc *p, const char *why)
{
    wit_res_u64_str v;

    memset(&v, 0, sizeof v);
    v.is_err = why != NULL;
    if (why != NULL) {
        v.err.ptr = strdup(why);
        v.err.len = v.err.ptr ? strlen(why) : 0;
    } else {
        v.ok = p->pid;
    }
    wit_wake_res_u64_str(p->rt, p->actor, p->token, &v);
}

/* ------------------------------------------------------------------ */
/* Events to the actor                                                */

typedef struct pr_event {
    rt_inbound in;
    pr_proc *p; /* reference */
    int kind;   /* OUT_STDOUT, OUT_STDERR, EV_EXIT */
    uint64_t pid;
    int32_t code;
    uint64_t cut, invalid;     /* before this event (output), or in all (exit) */
    uint64_t cut_out, cut_err; /* exit: bytes cut per stream over the whole run */
    size_t len;
    uint8_t data[];
} pr_event;

static int ev_lower(rt_inbound *in, rt_guest *g, const struct wit_opt_bytes *state,
                    th_wasm_val *args, uint32_t *nargs)
{
    pr_event *e = (pr_event *)in;

    if (e->kind == EV_EXIT) {
        wit_tup2_u64_s32 p = {e->pid, e->code};
        return wit_call_lower_process_handlers_handle_exit(g, state, &p, args, nargs);
    }
    wit_tup2_u64_bytes p = {e->pid, {e->data, e->len}};
    if (e->kind == OUT_STDOUT)
        return wit_call_lower_process_handlers_handle_stdout(g, state, &p, args, nargs);
    return wit_call_lower_process_handlers_handle_stderr(g, state, &p, args, nargs);
}

static int ev_lift(rt_inbound *in, rt_guest *g, const th_wasm_val *res, bool *has, uint8_t **state,
                   size_t *len, char **err)
{
    pr_event *e = (pr_event *)in;
    wit_res_tup1_opt_bytes_str v;
    int rc;

    memset(&v, 0, sizeof v);
    if (e->kind == EV_EXIT)
        rc = wit_call_lift_process_handlers_handle_exit(g, res, &v);
    else if (e->kind == OUT_STDOUT)
        rc = wit_call_lift_process_handlers_handle_stdout(g, res, &v);
    else
        rc = wit_call_lift_process_handlers_handle_stderr(g, res, &v);
    if (rc == 0 && v.is_err) {
        *err = v.err.ptr;
        v.err.ptr = NULL;
    } else if (rc == 0) {
        *has = v.ok.f0.some;
        *state = v.ok.f0.val.ptr;
        *len = v.ok.f0.val.len;
        v.ok.f0.val.ptr = NULL;
    }
    wit_free_res_tup1_opt_bytes_str(&v);
    return rc;
}

static void ev_params(rt_inbound *in, rt_buf *b)
{
    pr_event *e = (pr_event *)in;

    rt_buf_printf(b, "%llu,", (unsigned long long)e->pid);
    if (e->kind == EV_EXIT)
        rt_buf_printf(b, "%d", (int)e->code);
    else
        rt_buf_json_hex(b, e->data, e->len);
}

static void ev_call_json(rt_inbound *in, rt_buf *b)
{
    pr_event *e = (pr_event *)in;

    if (e->kind == EV_EXIT) {
        if (e->cut_out || e->cut_err)
            rt_buf_printf(b, ",\"cut\":{\"stdout\":%llu,\"stderr\":%llu}",
                          (unsigned long long)e->cut_out, (unsigned long long)e->cut_err);
        return;
    }
    if (e->cut)
        rt_buf_printf(b, ",\"cut\":%llu", (unsigned long long)e->cut);
    if (e->invalid)
        rt_buf_printf(b, ",\"invalid_json_lines\":%llu", (unsigned long long)e->invalid);
}

/* Posted when an actor caught up with a paused stream: read again. */
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void resume_on_loop(uv_loop_t *loop, void *ud)
{
    pr_stream *s = ud;
    pr_proc *p = s->p;

    atomic_store(&s->resume_posted, false);
    if (loop != NULL && s->open && atomic_load(&s->paused) &&
        atomic_load(&s->inflight) < p->max_output) {
        atomic_store(&s->paused, false);
        uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
    }
    proc_unref(p);
}

static void ev_done(rt_inbound *in, int status, const char *text)
{
    pr_event *e = (pr_event *)in;
    pr_stream *s;
    bool no = false;

    (void)status;
    (void)text;
    if (e->kind != EV_EXIT) {
        s = &e->p->out[e->kind];
        atomic_fetch_sub(&s->inflight, e->len);
        /* (the loop re-checks `inflight` after pausing: one of the two
         * sees the other) */
        if (atomic_load(&s->paused) && atomic_load(&s->inflight) < e->p->max_output &&
            atomic_compare_exchange_strong(&s->resume_posted, &no, true)) {
            atomic_fetch_add(&e->p->refs, 1);
            if (rt_io_post(e->p->rt, resume_on_loop, s) != 0) {
                atomic_store(&s->resume_posted, false);
                atomic_fetch_sub(&e->p->refs, 1);
            }
        }
    }
    proc_unref(e->p);
    free(e);
}

static const rt_inbound_ops stdout_ops = {
    "process-handlers",
    WIT_EXPORT_PROCESS_HANDLERS_HANDLE_STDOUT,
    ev_lower,
    ev_lift,
    ev_params,
    ev_call_json,
    NULL,
    ev_done,
};
static const rt_inbound_ops stderr_ops = {
    "process-handlers",
    WIT_EXPORT_PROCESS_HANDLERS_HANDLE_STDERR,
    ev_lower,
    ev_lift,
    ev_params,
    ev_call_json,
    NULL,
    ev_done,
};
static const rt_inbound_ops exit_ops = {
    "process-handlers",
    WIT_EXPORT_PROCESS_HANDLERS_HANDLE_EXIT,
    ev_lower,
    ev_lift,
    ev_params,
    ev_call_json,
    NULL,
    ev_done,
};

/* Hand an event to the actor (loop thread); false if it cannot be. */
static bool post_event(pr_proc *p, pr_event *e)
{
    static const rt_inbound_ops *const ops[] = {&stdout_ops, &stderr_ops, &exit_ops};

    e->in.ops = ops[e->kind];
    atomic_fetch_add(&p->refs, 1);
    e->p = p;
    e->pid = p->pid;
    if (p->ended || rt_inbound_deliver(p->rt, p->actor, &e->in, false) != 0) {
        atomic_fetch_sub(&p->refs, 1);
        free(e);
        return false;
    }
    return true;
}

/* Deliver `n` bytes of stream `s` (reading pauses once the bytes
 * delivered and not yet handled reach max_output_buffer: on_read). */
static void deliver(pr_stream *s, const uint8_t *data, size_t n)
{
    pr_proc *p = s->p;
    pr_event *e;

    if ((e = calloc(1, sizeof *e + n)) == NULL) {
        s->cut += n;
        s->cut_total += n;
        return;
    }
    e->kind = s->which;
    e->len = n;
    memcpy(e->data, data, n);
    e->cut = s->cut;
    e->invalid = s->invalid;
    atomic_fetch_add(&s->inflight, n);
    if (post_event(p, e)) {
        s->cut = s->invalid = 0;
    } else {
        atomic_fetch_sub(&s->inflight, n);
    }
}

/* A complete line (without "\n") in line or json mode.  An empty line is
 * no delivery (as in the original system). */
static void line(pr_stream *s, const uint8_t *data, size_t n)
{
    json_error_t jerr;
    json_t *j;

    if (n == 0)
        return;

    if (s->mode == WIT_PROCESS_OUTPUT_MODE_JSON) {
        size_t k = 0;
        while (k < n && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r'))
            k++;
        if (k == n)
            return; /* blank lines separate values */
        if ((j = json_loadb((const char *)data, n, JSON_DECODE_ANY, &jerr)) == NULL) {
            s->invalid++;
            return;
        }
        json_decref(j);
    }
    deliver(s, data, n);
}

/* Gather bytes of a line or chunk in s->pend, cutting a line that grows
 * past max_output_buffer. */
static void gather(pr_stream *s, const uint8_t *data, size_t n)
{
    uint64_t max = s->p->max_output;

    if (s->pend_cut) {
        s->cut += n;
        s->cut_total += n;
        return;
    }
    if (s->pend.len + n > max) {
        size_t keep = (size_t)(max - s->pend.len);
        s->cut += n - keep;
        s->cut_total += n - keep;
        n = keep;
        s->pend_cut = s->mode != WIT_PROCESS_OUTPUT_MODE_CHUNKED;
    }
    rt_buf_append(&s->pend, data, n);
    if (s->pend.oom) {
        s->cut += s->pend.len;
        s->cut_total += s->pend.len;
        rt_buf_release(&s->pend);
    }
}

static void take_output(pr_stream *s, const uint8_t *data, size_t n)
{
    pr_proc *p = s->p;
    const uint8_t *nl;
    size_t k;

    switch (s->mode) {
    case WIT_PROCESS_OUTPUT_MODE_RAW:
        for (; n > 0; data += k, n -= k) {
            k = n < p->read_size ? n : p->read_size;
            deliver(s, data, k);
        }
        break;
    case WIT_PROCESS_OUTPUT_MODE_CHUNKED:
        while (n > 0) {
            k = p->chunk - s->pend.len < n ? p->chunk - s->pend.len : n;
            gather(s, data, k);
            data += k;
            n -= k;
            if (s->pend.len >= p->chunk) {
                deliver(s, s->pend.data, s->pend.len);
                s->pend.len = 0;
            }
        }
        break;
    default: /* line-by-line, json */
        while (n > 0 && (nl = memchr(data, '\n', n)) != NULL) {
            k = (size_t)(nl - data);
            gather(s, data, k);
            line(s, s->pend.data != NULL ? s->pend.data : data, s->pend.len);
            s->pend.len = 0;
            s->pend_cut = false;
            data += k + 1;
            n -= k + 1;
        }
        if (n > 0)
            gather(s, data, n);
        break;
    }
}

/* The end of a stream: what is gathered goes out. */
static void flush(pr_stream *s)
{
    if (s->pend.len > 0) {
        if (s->mode == WIT_PROCESS_OUTPUT_MODE_CHUNKED || s->mode == WIT_PROCESS_OUTPUT_MODE_RAW)
            deliver(s, s->pend.data, s->pend.len);
        else
            line(s, s->pend.data, s->pend.len);
    }
    s->pend.len = 0;
    s->pend_cut = false;
}

/* ------------------------------------------------------------------ */
/* The child on the loop                                              */

static void maybe_finish(pr_proc *p);

static void handle_gone(pr_proc *p)
{
    if (--p->handles == 0)
        proc_unref(p); /* the loop's reference */
}

/* (the data of every handle is the process, but the output pipes', which
 * is their stream) */
static void on_handle_closed(uv_handle_t *h)
{
    handle_gone(h->data);
}

static void on_stream_closed(uv_handle_t *h)
{
    handle_gone(((pr_stream *)h->data)->p);
}

static void close_handle(pr_proc *p, uv_handle_t *h)
{
    (void)p;
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

static void close_pipe(pr_stream *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->pipe))
        uv_close((uv_handle_t *)&s->pipe, on_stream_closed);
}

static void close_stream(pr_stream *s)
{
    if (!s->open)
        return;
    s->open = false;
    uv_read_stop((uv_stream_t *)&s->pipe);
    flush(s);
    close_pipe(s);
}

static void close_stdin(pr_proc *p)
{
    if (!p->in_open)
        return;
    p->in_open = false;
    close_handle(p, (uv_handle_t *)&p->in);
    pthread_mutex_lock(&p->lock);
    p->stdin_closed = true;
    pthread_mutex_unlock(&p->lock);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    buf->base = malloc(65536);
    buf->len = buf->base != NULL ? 65536 : 0;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    pr_stream *s = st->data;

    if (n > 0)
        take_output(s, (const uint8_t *)buf->base, (size_t)n);
    free(buf->base);
    if (n < 0) { /* EOF or an error: the stream is done */
        close_stream(s);
        maybe_finish(s->p);
        return;
    }
    /* the actor has max_output_buffer bytes to handle: the child waits
     * (its pipe fills) until it has caught up (ev_done) */
    if (atomic_load(&s->inflight) >= s->p->max_output) {
        uv_read_stop(st);
        atomic_store(&s->paused, true);
        if (atomic_load(&s->inflight) < s->p->max_output) { /* caught up meanwhile */
            atomic_store(&s->paused, false);
            uv_read_start(st, on_alloc, on_read);
        }
    }
}

/* Signal the child's process group (its own, made at the spawn). */
static void signal_group(pr_proc *p, int sig)
{
    /* (never kill(0) or kill(-1): a child not started has no pid) */
    if (p->proc_open && p->pid > 1)
        kill(-(pid_t)p->pid, sig);
}

static void on_kill_timer(uv_timer_t *t)
{
    pr_proc *p = t->data;

    if (!p->term_sent) { /* the execution timeout */
        p->term_sent = true;
        signal_group(p, SIGTERM);
        uv_timer_start(&p->kill_timer, on_kill_timer, TH_PROC_KILL_GRACE_MS, 0);
    } else {
        signal_group(p, SIGKILL);
    }
}

/* End the child: SIGTERM now and SIGKILL after the grace period, or
 * SIGKILL now. */
static void end_child(pr_proc *p, bool now)
{
    if (p->exit_seen && !p->term_sent && !now)
        return;
    if (now) {
        signal_group(p, SIGKILL);
        uv_timer_stop(&p->kill_timer);
        return;
    }
    if (p->term_sent)
        return;
    p->term_sent = true;
    signal_group(p, SIGTERM);
    uv_timer_start(&p->kill_timer, on_kill_timer, TH_PROC_KILL_GRACE_MS, 0);
}

/* Bytes waiting in a stream's pipe, not yet read (0 if none or unknown). */
static int pipe_pending(pr_stream *s)
{
    uv_os_fd_t fd;
    int n = 0;

    if (uv_fileno((uv_handle_t *)&s->pipe, &fd) != 0 || ioctl(fd, FIONREAD, &n) != 0)
        return 0;
    return n;
}

/* After the exit: a stream still open is held by something the child
 * started; it is closed, unless it is paused (its output still waits in
 * the pipe for the actor) or output is still in the pipe, not yet read (a
 * loop slow to run, on a loaded machine): then later. */
static void on_linger(uv_timer_t *t)
{
    pr_proc *p = t->data;
    bool wait = false;

    for (int i = 0; i < 2; i++) {
        if (p->out[i].open && (atomic_load(&p->out[i].paused) || pipe_pending(&p->out[i]) > 0))
            wait = true;
        else
            close_stream(&p->out[i]);
    }
    if (wait)
        uv_timer_start(&p->linger, on_linger, LINGER_MS, 0);
    maybe_finish(p);
}

static void loop_remove(pr_proc **list, pr_proc *p)
{
    pr_proc **pp;

    for (pp = list; *pp != NULL && *pp != p; pp = &(*pp)->lnext)
        ;
    if (*pp == p)
        *pp = p->lnext;
}

/* After the exit and the end of both streams: tell the actor, close the
 * remaining handles. */
static void maybe_finish(pr_proc *p)
{
    rt_io_slot_t *slot;
    pr_event *e;

    if (!p->exit_seen || p->exit_told || p->out[0].open || p->out[1].open)
        return;
    p->exit_told = true;
    if ((slot = rt_io_slot(p->proc.loop, HANDLER_PROCESS)) != NULL && slot->ud != NULL)
        loop_remove(&((pr_loop *)slot->ud)->exiting, p);
    if (p->term_sent) /* being ended: what it started goes too */
        signal_group(p, SIGKILL);
    if ((e = calloc(1, sizeof *e)) != NULL) {
        e->kind = EV_EXIT;
        e->code = p->term_signal ? -p->term_signal : (int32_t)p->status;
        e->cut_out = p->out[0].cut_total;
        e->cut_err = p->out[1].cut_total;
        post_event(p, e);
    }
    uv_timer_stop(&p->kill_timer);
    close_stdin(p);
    close_handle(p, (uv_handle_t *)&p->kill_timer);
    close_handle(p, (uv_handle_t *)&p->linger);
    if (p->proc_open) {
        p->proc_open = false;
        close_handle(p, (uv_handle_t *)&p->proc);
    }
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
    pr_proc *p = h->data;
    rt_io_slot_t *slot = rt_io_slot(h->loop, HANDLER_PROCESS);

    p->exit_seen = true;
    p->status = status;
    p->term_signal = sig;
    pthread_mutex_lock(&p->lock);
    p->running = false;
    p->exited = true;
    p->exit_code = sig ? -sig : (int32_t)status;
    pthread_mutex_unlock(&p->lock);
    if (slot != NULL && slot->ud != NULL) {
        pr_loop *L = slot->ud;
        loop_remove(&L->list, p);
        p->lnext = L->exiting;
        L->exiting = p;
    }
    if (p->out[0].open || p->out[1].open)
        uv_timer_start(&p->linger, on_linger, LINGER_MS, 0);
    maybe_finish(p);
}

static void on_stdin_written(uv_write_t *w, int status)
{
    pr_proc *p = w->data;
    uv_buf_t *b = (uv_buf_t *)(w + 1);

    (void)status;
    pthread_mutex_lock(&p->lock);
    p->stdin_queued -= b->len;
    pthread_mutex_unlock(&p->lock);
    free(w);
    proc_unref(p);
}

/* At the runtime's stop: every handle of child `p` but its process handle
 * is closed (that one too when `exited`: a running child's stays until it
 * is reaped, the loop running until then). */
static void quit_child(pr_proc *p, bool exited)
{
    close_stdin(p);
    close_stream(&p->out[0]);
    close_stream(&p->out[1]);
    uv_timer_stop(&p->kill_timer);
    close_handle(p, (uv_handle_t *)&p->kill_timer);
    close_handle(p, (uv_handle_t *)&p->linger);
    if (exited && p->proc_open) {
        p->proc_open = false;
        close_handle(p, (uv_handle_t *)&p->proc);
    }
}

static void quit(uv_loop_t *loop, void *ud)
{
    pr_loop *L = ud;
    pr_proc *p;

    (void)loop;
    L->quitting = true;
    /* the runtime stops: every child is killed at once */
    while ((p = L->list) != NULL) {
        L->list = p->lnext;
        p->ended = true;
        signal_group(p, SIGKILL);
        quit_child(p, false);
    }
    /* a child that exited while its output was still open (held by what
     * it started, or not yet read) has nothing left to tell (no signal:
     * its pid is reaped and may be another's) */
    while ((p = L->exiting) != NULL) {
        L->exiting = p->lnext;
        quit_child(p, true);
    }
    free(L);
}

static pr_loop *loop_state(uv_loop_t *loop)
{
    rt_io_slot_t *slot = rt_io_slot(loop, HANDLER_PROCESS);

    if (slot == NULL)
        return NULL;
    if (slot->ud == NULL && (slot->ud = calloc(1, sizeof(pr_loop))) != NULL)
        slot->quit = quit;
    return slot->ud;
}

/* Posted: start the child. */
static void spawn_on_loop(uv_loop_t *loop, void *ud)
{
    pr_proc *p = ud;
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    char why[300];
    pr_loop *L;
    int rc, i;

    if (loop == NULL || (L = loop_state(loop)) == NULL) {
        answer_spawn(p, "the runtime is stopping");
        goto failed;
    }
    uv_pipe_init(loop, &p->in, 0);
    p->in.data = p;
    for (i = 0; i < 2; i++) {
        uv_pipe_init(loop, &p->out[i].pipe, 0);
        p->out[i].pipe.data = &p->out[i];
    }
    uv_timer_init(loop, &p->kill_timer);
    uv_timer_init(loop, &p->linger);
    p->kill_timer.data = p->linger.data = p;
    p->proc.data = p;
    memset(&o, 0, sizeof o);
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&p->in;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&p->out[0].pipe;
    io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[2].data.stream = (uv_stream_t *)&p->out[1].pipe;
    o.file = p->file;
    o.args = p->argv;
    o.env = p->envp;
    o.cwd = p->cwd;
    o.stdio = io;
    o.stdio_count = 3;
    o.exit_cb = on_exit_cb;
    o.flags = UV_PROCESS_DETACHED; /* its own session and process group */
    rc = uv_spawn(loop, &p->proc, &o);
    /* from here the handles are the loop's: the loop's reference goes
     * when the last one is closed */
    p->handles = 6;
    p->in_open = p->out[0].open = p->out[1].open = true;
    if (rc != 0) {
        snprintf(why, sizeof why, "cannot run %s: %s", p->file, uv_strerror(rc));
        answer_spawn(p, why);
        pthread_mutex_lock(&p->lock);
        p->running = false;
        p->exited = true;
        p->exit_code = -1;
        pthread_mutex_unlock(&p->lock);
        p->exit_told = true;
        close_stdin(p);
        close_pipe(&p->out[0]);
        close_pipe(&p->out[1]);
        p->out[0].open = p->out[1].open = false;
        close_handle(p, (uv_handle_t *)&p->kill_timer);
        close_handle(p, (uv_handle_t *)&p->linger);
        close_handle(p, (uv_handle_t *)&p->proc);
        return;
    }
    p->proc_open = true;
    pthread_mutex_lock(&p->lock);
    p->pid = (uint64_t)p->proc.pid;
    p->spawned = true;
    p->start_ms = rt_wall_ms();
    pthread_mutex_unlock(&p->lock);
    p->lnext = L->list;
    L->list = p;
    for (i = 0; i < 2; i++)
        uv_read_start((uv_stream_t *)&p->out[i].pipe, on_alloc, on_read);
    if (p->timeout_ms)
        uv_timer_start(&p->kill_timer, on_kill_timer, p->timeout_ms, 0);
    answer_spawn(p, NULL);
    return;
failed:
    pthread_mutex_lock(&p->lock);
    p->running = false;
    p->exited = true;
    p->exit_code = -1;
    pthread_mutex_unlock(&p->lock);
    proc_unref(p); /* the loop's reference */
}

/* ------------------------------------------------------------------ */
/* The actor's table                                                  */

static pr_table *table_of(rt_actor *a, bool make)
{
    rt_hstate *hs = rt_hstate_get(a);
    pr_table *t;

    if (hs == NULL)
        return NULL;
    if (hs->procs == NULL && make && (t = calloc(1, sizeof *t)) != NULL) {
        pthread_mutex_init(&t->lock, NULL);
        hs->procs = t;
    }
    return hs->procs;
}

/* The actor's process `pid` (a new reference) or NULL. */
static pr_proc *find(rt_actor *a, uint64_t pid)
{
    pr_table *t = table_of(a, false);
    pr_proc *p = NULL;

    if (t == NULL)
        return NULL;
    pthread_mutex_lock(&t->lock);
    for (p = t->list; p != NULL; p = p->next) {
        pthread_mutex_lock(&p->lock);
        bool hit = p->spawned && p->pid == pid;
        pthread_mutex_unlock(&p->lock);
        if (hit)
            break;
    }
    if (p != NULL)
        atomic_fetch_add(&p->refs, 1);
    pthread_mutex_unlock(&t->lock);
    return p;
}

/* Running processes of the table (those not exited), and forget the
 * oldest exited ones beyond TH_PROC_MAX_EXITED.  Under t->lock. */
static uint32_t count_running(pr_table *t)
{
    uint32_t n = 0, ended = 0;
    pr_proc **pp, *p;

    for (pp = &t->list; (p = *pp) != NULL;) {
        pthread_mutex_lock(&p->lock);
        bool done = p->exited;
        pthread_mutex_unlock(&p->lock);
        if (!done) {
            n++;
        } else if (++ended > TH_PROC_MAX_EXITED) {
            *pp = p->next;
            proc_unref(p);
            continue;
        }
        pp = &p->next;
    }
    return n;
}

void rt_process_free_state(rt_actor *a)
{
    rt_hstate *hs = *rt_actor_handler_data(a);
    pr_table *t = hs != NULL ? hs->procs : NULL;
    pr_proc *p;

    if (t == NULL)
        return;
    while ((p = t->list) != NULL) {
        t->list = p->next;
        proc_unref(p);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
    hs->procs = NULL;
}

/* Posted: the actor ended; its children are ended (SIGTERM, SIGKILL). */
static void end_actor_on_loop(uv_loop_t *loop, void *ud)
{
    char *id = ud;
    rt_io_slot_t *slot = loop != NULL ? rt_io_slot(loop, HANDLER_PROCESS) : NULL;
    pr_loop *L = slot != NULL ? slot->ud : NULL;

    for (pr_proc *p = L != NULL ? L->list : NULL; p != NULL; p = p->lnext)
        if (strcmp(p->actor, id) == 0 && !p->ended) {
            p->ended = true;
            end_child(p, false);
        }
    free(id);
}

void rt_process_ended(rt_actor *a)
{
    char *id;

    if (!(rt_actor_spec(a)->handlers & (1u << HANDLER_PROCESS)) || table_of(a, false) == NULL ||
        (id = strdup(rt_actor_id(a))) == NULL)
        return;
    if (rt_io_post(rt_actor_runtime(a), end_actor_on_loop, id) != 0)
        free(id);
}

/* ------------------------------------------------------------------ */
/* Grants                                                             */

static bool in_list(char *const *l, const char *s)
{
    for (; l != NULL && *l != NULL; l++)
        if (strcmp(*l, s) == 0)
            return true;
    return false;
}

static bool path_allowed(char *const *l, const char *real)
{
    for (; l != NULL && *l != NULL; l++)
        if (rt_path_inside(*l, real))
            return true;
    return false;
}

static int settings_subset(const void *parent, const void *child, th_error *err)
{
    const hs_process *p = parent, *c = child;

    if (p == NULL || c == NULL)
        return th_error_set(err, TH_EPERM, "process: no grant to compare");
    if (c->max > p->max)
        return th_error_set(err, TH_EPERM, "max_processes = %u exceeds the parent's %u", c->max,
                            p->max);
    if (c->max_output > p->max_output)
        return th_error_set(err, TH_EPERM, "max_output_buffer = %llu exceeds the parent's %llu",
                            (unsigned long long)c->max_output, (unsigned long long)p->max_output);
    for (char **v = c->programs; v != NULL && *v != NULL; v++)
        if (!in_list(p->programs, *v))
            return th_error_set(err, TH_EPERM,
                                "allowed_programs lists \"%s\", which the parent may not run", *v);
    for (char **v = c->paths; v != NULL && *v != NULL; v++)
        if (!path_allowed(p->paths, *v))
            return th_error_set(err, TH_EPERM,
                                "allowed_paths lists \"%s\", outside the parent's allowed_paths",
                                *v);
    return 0;
}

/* ---- settings: max_processes, max_output_buffer, allowed_programs,
 * allowed_paths ---- */

/* process: an absolute program path. */
static char *program_path(rt_manifest_reader *r, char *p, char *why, size_t cap)
{
    (void)r;
    if (p[0] == '/')
        return p;
    snprintf(why, cap, "\"%s\" is not an absolute path", p);
    free(p);
    return NULL;
}

/* process: a directory (relative to the manifest), kept as its realpath. */
static char *dir_path(rt_manifest_reader *r, char *p, char *why, size_t cap)
{
    char real[PATH_MAX], *abs = rt_manifest_path(r, p);
    struct stat st;

    free(p);
    if (abs == NULL)
        return NULL;
    if (realpath(abs, real) == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "'%s' is not a directory", abs);
        free(abs);
        return NULL;
    }
    free(abs);
    return strdup(real);
}

static void settings_release(void *p)
{
    hs_process *s = p;

    rt_manifest_list_free(s->programs);
    rt_manifest_list_free(s->paths);
}

static int settings_read(rt_manifest_reader *r, const toml_value *h, const char *prefix, void *p)
{
    hs_process *s = p;
    uint64_t v;
    int rc;

    v = TH_PROC_DEFAULT_MAX_PROCESSES;
    if ((rc = rt_manifest_uint(r, h, prefix, "max_processes", 0, TH_PROC_MAX_MAX_PROCESSES, &v)) !=
        0)
        return rc;
    s->max = (uint32_t)v;
    v = TH_PROC_DEFAULT_MAX_OUTPUT;
    if ((rc = rt_manifest_uint(r, h, prefix, "max_output_buffer", 1, TH_PROC_MAX_MAX_OUTPUT, &v)) !=
        0)
        return rc;
    s->max_output = v;
    if ((rc = rt_manifest_list(r, h, prefix, "allowed_programs", program_path, &s->programs)) != 0)
        return rc;
    return rt_manifest_list(r, h, prefix, "allowed_paths", dir_path, &s->paths);
}

static const char *const fields[] = {"max_processes", "max_output_buffer", "allowed_programs",
                                     "allowed_paths", NULL};

/* ------------------------------------------------------------------ */
/* Host functions                                                     */

static int refuse(rt_host *h, bool *is_err, wit_str *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(rt_host *h, bool *is_err, wit_str *err, const char *fmt, ...)
{
    char why[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    *is_err = true;
    return wit_str_set(h, err, why);
}

/* A NUL-terminated copy of a lifted string; NULL if it holds a NUL. */
static char *cstr(const wit_str *s)
{
    return strlen(s->ptr) == s->len ? strdup(s->ptr) : NULL;
}

/* A cwd: relative to the manifest's directory (as allowed_paths are), and
 * inside allowed_paths as a real path.  A cwd outside gets one answer
 * whether or not it exists (rt_path_where); "No such file" only for one
 * that would lie inside.  NULL with *out (malloc'd real path), or the
 * reason. */
static const char *cwd_check(rt_host *h, const hs_process *m, const wit_str *cwd, char **out,
                             char *why, size_t cap)
{
    const char *base = rt_actor_spec(h->a)->base_dir;
    char abs[PATH_MAX], where[PATH_MAX];
    bool exists = false;
    int n;

    if (strlen(cwd->ptr) != cwd->len)
        return "cwd holds a NUL character";
    n = cwd->ptr[0] == '/'
            ? snprintf(abs, sizeof abs, "%s", cwd->ptr)
            : snprintf(abs, sizeof abs, "%s/%s", base != NULL ? base : ".", cwd->ptr);
    if (n < 0 || (size_t)n >= sizeof abs || m->paths == NULL ||
        rt_path_where(abs, where, &exists) != 0 || !path_allowed(m->paths, where)) {
        snprintf(why, cap, "cwd \"%.300s\" is not inside this actor's allowed_paths", cwd->ptr);
        return why;
    }
    if (!exists) {
        snprintf(why, cap, "cwd \"%.300s\": %s", cwd->ptr, strerror(ENOENT));
        return why;
    }
    if ((*out = strdup(where)) == NULL)
        return "out of memory";
    return NULL;
}

/* Environment variables the dynamic loader or the C library read to load
 * code or files chosen by whoever sets them: every LD_* name, and glibc's
 * list of variables it removes for setuid programs (UNSECURE_ENVVARS of
 * sysdeps/generic/unsecvars.h).  An actor cannot pass them to a program:
 * LD_PRELOAD, LD_AUDIT or LD_LIBRARY_PATH would make an allowed program
 * run any shared object the runtime's user can read. */
static bool env_unsafe(const char *name)
{
    static const char *const unsafe[] = {
        "GCONV_PATH",  "GETCONF_DIR",  "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN",
        "LOCPATH",     "MALLOC_TRACE", "NIS_PATH",       "NLSPATH",     "RESOLV_HOST_CONF",
        "RES_OPTIONS", "TMPDIR",       "TZDIR",
    };

    if (strncmp(name, "LD_", 3) == 0)
        return true;
    for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++)
        if (strcmp(name, unsafe[i]) == 0)
            return true;
    return false;
}

/* Check the config and fill p's spawn fields; NULL or the reason. */
static const char *prepare(rt_host *h, wit_process_process_config *c, pr_proc *p, char *why,
                           size_t cap)
{
    const hs_process *m = rt_spec_settings(rt_actor_spec(h->a), HANDLER_PROCESS);
    const char *bad;
    size_t i;

    if (m == NULL || m->programs == NULL)
        return "the process handler of this actor allows no program (its manifest gives no "
               "allowed_programs), so every spawn is refused";
    if (strlen(c->program.ptr) != c->program.len || !in_list(m->programs, c->program.ptr)) {
        snprintf(why, cap, "program \"%.300s\" is not in this actor's allowed_programs",
                 c->program.ptr);
        return why;
    }
    if (c->args.len > TH_PROC_MAX_ARGS || c->env.len > TH_PROC_MAX_ARGS)
        return "too many args or env entries";
    if (c->stdout_mode.tag > WIT_PROCESS_OUTPUT_MODE_CHUNKED ||
        c->stderr_mode.tag > WIT_PROCESS_OUTPUT_MODE_CHUNKED)
        return "bad output mode";
    if (c->chunk_size.some && c->chunk_size.val == 0)
        return "chunk-size must be at least 1";
    if (c->cwd.some && (bad = cwd_check(h, m, &c->cwd.val, &p->cwd, why, cap)) != NULL)
        return bad;
    if ((p->file = cstr(&c->program)) == NULL ||
        (p->argv = calloc(c->args.len + 2, sizeof *p->argv)) == NULL ||
        (p->envp = calloc(c->env.len + 1, sizeof *p->envp)) == NULL ||
        (p->argv[0] = strdup(p->file)) == NULL)
        return "out of memory";
    for (i = 0; i < c->args.len; i++)
        if ((p->argv[i + 1] = cstr(&c->args.ptr[i])) == NULL) {
            snprintf(why, cap, "args[%zu] has a NUL character", i);
            return why;
        }
    for (i = 0; i < c->env.len; i++) {
        const wit_str *k = &c->env.ptr[i].f0, *v = &c->env.ptr[i].f1;
        if (k->len == 0 || strlen(k->ptr) != k->len || strchr(k->ptr, '=') != NULL ||
            strlen(v->ptr) != v->len) {
            snprintf(why, cap, "env[%zu]: a name must be non-empty, without '=' or NUL", i);
            return why;
        }
        if (env_unsafe(k->ptr)) {
            snprintf(why, cap,
                     "env[%zu]: %.100s is refused: the dynamic loader or the C library reads it "
                     "to load code or files the program did not choose",
                     i, k->ptr);
            return why;
        }
        if (asprintf(&p->envp[i], "%s=%s", k->ptr, v->ptr) < 0) {
            p->envp[i] = NULL;
            return "out of memory";
        }
    }
    p->max_output = m->max_output;
    p->read_size = c->buffer_size ? c->buffer_size : TH_PROC_DEFAULT_CHUNK;
    p->chunk = c->chunk_size.some ? c->chunk_size.val : TH_PROC_DEFAULT_CHUNK;
    if (p->read_size > p->max_output)
        p->read_size = (uint32_t)p->max_output;
    if (p->chunk > p->max_output)
        p->chunk = (uint32_t)p->max_output;
    p->timeout_ms = c->execution_timeout.some ? (c->execution_timeout.val > UINT64_MAX / 1000
                                                     ? UINT64_MAX
                                                     : c->execution_timeout.val * 1000)
                                              : 0;
    p->out[0].mode = (int)c->stdout_mode.tag;
    p->out[1].mode = (int)c->stderr_mode.tag;
    return NULL;
}

static int pr_spawn(rt_host *h, wit_process_process_config *config, wit_res_u64_str *ret)
{
    const hs_process *m = rt_spec_settings(rt_actor_spec(h->a), HANDLER_PROCESS);
    char why[600];
    const char *bad;
    pr_table *t = table_of(h->a, true);
    pr_proc *p;

    if (t == NULL || (p = calloc(1, sizeof *p)) == NULL)
        return refuse(h, &ret->is_err, &ret->err, "out of memory");
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->lock, NULL);
    p->rt = rt_actor_runtime(h->a);
    memcpy(p->actor, rt_actor_id(h->a), sizeof p->actor);
    for (int i = 0; i < 2; i++) {
        p->out[i].p = p;
        p->out[i].which = i;
        atomic_init(&p->out[i].inflight, 0);
        atomic_init(&p->out[i].paused, false);
        atomic_init(&p->out[i].resume_posted, false);
    }
    if ((bad = prepare(h, config, p, why, sizeof why)) != NULL) {
        proc_unref(p);
        return refuse(h, &ret->is_err, &ret->err, "%s", bad);
    }
    pthread_mutex_lock(&t->lock);
    if (count_running(t) >= m->max) { /* (prepare refused a NULL grant) */
        pthread_mutex_unlock(&t->lock);
        proc_unref(p);
        return refuse(h, &ret->is_err, &ret->err,
                      "this actor runs %u processes, its limit (max_processes)", m->max);
    }
    p->running = true;
    atomic_fetch_add(&p->refs, 1); /* the table's */
    p->next = t->list;
    t->list = p;
    pthread_mutex_unlock(&t->lock);
    p->token = rt_op_wait(h->a, RT_WAIT_RESULT, h->retptr, IFACE, "os-spawn", h->input);
    h->input = NULL;
    if (rt_io_post(rt_actor_runtime(h->a), spawn_on_loop, p) != 0) {
        answer_spawn(p, "the runtime is stopping");
        pthread_mutex_lock(&p->lock);
        p->running = false;
        p->exited = true;
        p->exit_code = -1;
        pthread_mutex_unlock(&p->lock);
        proc_unref(p);
    }
    return TH_WASM_SUSPENDED;
}

/* stdin writes: queued on the loop. */
typedef struct pr_write {
    pr_proc *p;
    size_t len;
    uint8_t data[];
} pr_write;

static void write_on_loop(uv_loop_t *loop, void *ud)
{
    pr_write *w = ud;
    pr_proc *p = w->p;
    uv_write_t *req;
    uv_buf_t *b;

    if (loop == NULL || !p->in_open || p->exit_told) {
        pthread_mutex_lock(&p->lock);
        p->stdin_queued -= w->len;
        pthread_mutex_unlock(&p->lock);
    } else if (w->len == 0) {
        close_stdin(p);
    } else if ((req = malloc(sizeof *req + sizeof *b + w->len)) != NULL) {
        b = (uv_buf_t *)(req + 1);
        memcpy(b + 1, w->data, w->len);
        *b = uv_buf_init((char *)(b + 1), (unsigned)w->len);
        req->data = p;
        atomic_fetch_add(&p->refs, 1);
        if (uv_write(req, (uv_stream_t *)&p->in, b, 1, on_stdin_written) != 0) {
            on_stdin_written(req, -1);
        }
    } else {
        pthread_mutex_lock(&p->lock);
        p->stdin_queued -= w->len;
        pthread_mutex_unlock(&p->lock);
    }
    proc_unref(p);
    free(w);
}

static int pr_write_stdin(rt_host *h, uint64_t pid, wit_bytes *data, wit_res_u32_str *ret)
{
    pr_proc *p = find(h->a, pid);
    pr_write *w;
    const char *why = NULL;

    if (p == NULL)
        return refuse(h, &ret->is_err, &ret->err, "no process %llu of this actor",
                      (unsigned long long)pid);
    pthread_mutex_lock(&p->lock);
    if (!p->running)
        why = "the process has exited";
    else if (p->stdin_closed)
        why = "its stdin is closed";
    else if (data->len > UINT32_MAX || p->stdin_queued + data->len > p->max_output)
        why = "its stdin buffer is full (max_output_buffer bytes not yet written)";
    else
        p->stdin_queued += data->len;
    if (why == NULL && data->len == 0)
        p->stdin_closed = true;
    pthread_mutex_unlock(&p->lock);
    if (why != NULL) {
        proc_unref(p);
        return refuse(h, &ret->is_err, &ret->err, "process %llu: %s", (unsigned long long)pid, why);
    }
    if ((w = malloc(sizeof *w + data->len)) == NULL) {
        pthread_mutex_lock(&p->lock);
        p->stdin_queued -= data->len;
        pthread_mutex_unlock(&p->lock);
        proc_unref(p);
        return refuse(h, &ret->is_err, &ret->err, "out of memory");
    }
    w->p = p; /* the reference goes with the write */
    w->len = data->len;
    memcpy(w->data, data->ptr, data->len);
    if (rt_io_post(rt_actor_runtime(h->a), write_on_loop, w) != 0) {
        write_on_loop(NULL, w);
        return refuse(h, &ret->is_err, &ret->err, "the runtime is stopping");
    }
    ret->ok = (uint32_t)data->len;
    return 0;
}

static int pr_status(rt_host *h, uint64_t pid, wit_res_process_process_status_str *ret)
{
    pr_proc *p = find(h->a, pid);

    if (p == NULL)
        return refuse(h, &ret->is_err, &ret->err, "no process %llu of this actor",
                      (unsigned long long)pid);
    pthread_mutex_lock(&p->lock);
    ret->ok.pid = p->pid;
    ret->ok.running = p->running;
    ret->ok.exit_code.some = p->exited;
    ret->ok.exit_code.val = p->exit_code;
    ret->ok.start_time = p->start_ms;
    pthread_mutex_unlock(&p->lock);
    proc_unref(p);
    return 0;
}

/* Posted: a signal for a child that has not been reaped (on the loop, so
 * the pid cannot have been reused meanwhile). */
typedef struct pr_sig {
    pr_proc *p;
    int sig;
} pr_sig;

static void signal_on_loop(uv_loop_t *loop, void *ud)
{
    pr_sig *s = ud;

    if (loop != NULL && !s->p->exit_seen && s->p->proc_open) {
        if (s->sig == SIGKILL)
            end_child(s->p, true);
        else
            uv_process_kill(&s->p->proc, s->sig);
    }
    proc_unref(s->p);
    free(s);
}

static int send_signal(rt_host *h, uint64_t pid, uint32_t sig, bool *is_err, wit_str *err)
{
    pr_proc *p;
    pr_sig *s;
    bool running;

    if (sig == 0 || sig >= 65)
        return refuse(h, is_err, err, "signal %u is not a signal number (1 to 64)", sig);
    if ((p = find(h->a, pid)) == NULL)
        return refuse(h, is_err, err, "no process %llu of this actor", (unsigned long long)pid);
    pthread_mutex_lock(&p->lock);
    running = p->running;
    pthread_mutex_unlock(&p->lock);
    if (!running) {
        proc_unref(p);
        return refuse(h, is_err, err, "process %llu has exited", (unsigned long long)pid);
    }
    if ((s = malloc(sizeof *s)) == NULL) {
        proc_unref(p);
        return refuse(h, is_err, err, "out of memory");
    }
    s->p = p;
    s->sig = (int)sig;
    if (rt_io_post(rt_actor_runtime(h->a), signal_on_loop, s) != 0) {
        signal_on_loop(NULL, s);
        return refuse(h, is_err, err, "the runtime is stopping");
    }
    return 0;
}

static int pr_signal(rt_host *h, uint64_t pid, uint32_t sig, wit_res_unit_str *ret)
{
    return send_signal(h, pid, sig, &ret->is_err, &ret->err);
}

static int pr_kill(rt_host *h, uint64_t pid, wit_res_unit_str *ret)
{
    return send_signal(h, pid, SIGKILL, &ret->is_err, &ret->err);
}

static const wit_impl_process impl = {
    .os_spawn = pr_spawn,
    .os_write_stdin = pr_write_stdin,
    .os_status = pr_status,
    .os_signal = pr_signal,
    .os_kill = pr_kill,
};

const rt_iface rt_iface_process = {
    .name = "process",
    .module = "theater:simple/process",
    .handler = HANDLER_PROCESS,
    .fns = wit_fns_process,
    .nfns = WIT_NFNS_PROCESS,
    .impl = &impl,
    .fields = fields,
    .settings_size = sizeof(hs_process),
    .settings_read = settings_read,
    .settings_release = settings_release,
    .settings_subset = settings_subset,
};
