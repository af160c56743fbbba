/*
 * io.c - the runtime's I/O thread: one libuv loop that runs the timers of
 * timing.sleep/deadline, and hands each expiry to its actor as a wake on
 * the control queue.  (Call timeouts are the workers' timer wheel,
 * timer.c: they are armed and cancelled on nearly every request.)
 *
 * Other threads never touch the loop: they append requests (arm, cancel) to
 * a mutex-protected list and poke the loop with uv_async_send (under the
 * same lock, so that no poke races the quit's closing of the async handle),
 * which coalesces pokes; the loop thread drains the list.  A timer names its actor
 * by id (no reference is held while it waits), so a timer of an actor that
 * has gone simply finds nobody.  A timer object is shared by the arming
 * thread (until it cancels) and the loop (until it fires or is cancelled);
 * the last of the two frees it.
 *
 * Handlers run their own work on the loop too (rt_io_post: sockets of the
 * http handlers, child processes): a posted function runs on the loop
 * thread, in posting order.  What a handler keeps on the loop lives in its
 * slot (rt_io_slot, loop thread only).  The quit has two steps: the drain,
 * where each slot's drain function begins to end what it holds gracefully
 * (a WebSocket connection's close handshake) and the loop runs on while a
 * slot is busy with that, at most TH_RT_IO_QUIT_WAIT_MS; then each slot's
 * quit function closes the handler's handles (and ends what it started)
 * before the remaining handles are closed.  A process handle is never
 * closed by the loop itself: its owner closes it once the child is reaped,
 * so no child is left a zombie.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "runtime/rt_int.h"

typedef struct io_timer {
    uv_timer_t uv;
    struct io_timer *next_req;      /* request list link */
    struct io_timer *lprev, *lnext; /* started, not closing (loop thread) */
    int req;                        /* IO_ARM / IO_CANCEL */
    atomic_int refs;                /* arming thread + loop */
    atomic_bool cancelled;
    bool started;
    uint64_t delay_ms;
    uint64_t token;
    int status;
    char id[RT_ID_LEN + 1];
    rt_runtime *rt;
} io_timer;

enum { IO_ARM = 1, IO_CANCEL };

/* A function posted to the loop (rt_io_post). */
typedef struct io_work {
    struct io_work *next;
    rt_io_fn fn;
    void *ud;
} io_work;

struct rt_io {
    uv_loop_t loop;
    uv_async_t async;
    uv_thread_t thread;
    pthread_mutex_t lock;
    io_timer *reqs, *reqs_tail; /* pending requests (FIFO) */
    io_work *work, *work_tail;  /* posted functions (FIFO) */
    bool quit;
    bool draining; /* loop thread: the drain has begun */
    bool quitting; /* loop thread: the quit has been carried out */
    bool started;
    uv_timer_t drain_timer;     /* the drain's deadline */
    uv_prepare_t drain_prepare; /* each turn of the loop: is the drain over? */
    rt_runtime *rt;
    io_timer *timers;                /* started timers (loop thread) */
    rt_io_slot_t slots[RT_IO_SLOTS]; /* loop thread only */
};

static void timer_unref(io_timer *t)
{
    if (atomic_fetch_sub(&t->refs, 1) == 1)
        free(t);
}

static void on_timer_closed(uv_handle_t *h)
{
    timer_unref((io_timer *)h->data);
}

/* Close a started timer (loop thread): off the list, then closed. */
static void timer_close(io_timer *t)
{
    rt_io *io = t->uv.loop->data;

    if (t->lprev != NULL)
        t->lprev->lnext = t->lnext;
    else if (io->timers == t)
        io->timers = t->lnext;
    if (t->lnext != NULL)
        t->lnext->lprev = t->lprev;
    t->lprev = t->lnext = NULL;
    uv_timer_stop(&t->uv);
    uv_close((uv_handle_t *)&t->uv, on_timer_closed);
}

static void on_timer(uv_timer_t *h)
{
    io_timer *t = h->data;
    rt_actor *a;

    if (!atomic_load(&t->cancelled)) {
        a = rt_registry_get(&t->rt->reg, t->id, RT_ID_LEN);
        if (a != NULL) {
            rt_actor_wake(a, t->token, t->status, false, NULL, 0, NULL);
            rt_actor_release(a);
        }
    }
    timer_close(t);
}

/* After the quit: what is still open is closed so that the loop ends.
 * Every handler closes its own handles in its slot's quit; this closes
 * none of theirs unless one was forgotten (then without a callback).  A
 * child's handle stays until it is reaped (its owner closes it). */
static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h) && h->type != UV_PROCESS)
        uv_close(h, NULL);
}

static void on_walk_close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Run posted functions (loop thread); after the quit, with loop NULL. */
static void run_work(rt_io *io, io_work *w, bool quit)
{
    io_work *next;

    for (; w != NULL; w = next) {
        next = w->next;
        w->fn(quit ? NULL : &io->loop, w->ud);
        free(w);
    }
}

/* The quit on the loop thread: each handler's slot ends what it holds. */
static void quit_slots(rt_io *io)
{
    for (int i = 0; i < RT_IO_SLOTS; i++) {
        if (io->slots[i].quit != NULL)
            io->slots[i].quit(&io->loop, io->slots[i].ud);
        io->slots[i].quit = NULL;
        io->slots[i].ud = NULL;
    }
}

/* Whether a slot is still ending something gracefully (loop thread). */
static bool slots_busy(rt_io *io)
{
    for (int i = 0; i < RT_IO_SLOTS; i++)
        if (io->slots[i].busy != NULL && io->slots[i].busy(io->slots[i].ud))
            return true;
    return false;
}

/* The quit proper: the slots close what they hold, then everything else
 * is closed and the loop ends. */
static void quit_now(rt_io *io)
{
    if (io->quitting)
        return;
    io->quitting = true;
    if (io->draining) {
        uv_close((uv_handle_t *)&io->drain_timer, NULL);
        uv_close((uv_handle_t *)&io->drain_prepare, NULL);
    }
    quit_slots(io);
    while (io->timers != NULL)
        timer_close(io->timers);
    uv_close((uv_handle_t *)&io->async, NULL);
    uv_walk(&io->loop, on_walk_close, NULL);
}

static void on_drain_deadline(uv_timer_t *t)
{
    quit_now(t->data);
}

/* Before the loop waits for I/O: the drain is over once no slot is busy
 * (the close callbacks of the turn before have run). */
static void on_drain_prepare(uv_prepare_t *p)
{
    rt_io *io = p->data;

    if (!slots_busy(io))
        quit_now(io);
}

/* The quit's first step: each slot begins to end what it holds; the loop
 * runs on while that takes (bounded), then quits. */
static void drain(rt_io *io)
{
    io->draining = true;
    for (int i = 0; i < RT_IO_SLOTS; i++)
        if (io->slots[i].drain != NULL)
            io->slots[i].drain(&io->loop, io->slots[i].ud);
    uv_timer_init(&io->loop, &io->drain_timer);
    io->drain_timer.data = io;
    uv_timer_start(&io->drain_timer, on_drain_deadline, TH_RT_IO_QUIT_WAIT_MS, 0);
    uv_prepare_init(&io->loop, &io->drain_prepare);
    io->drain_prepare.data = io;
    uv_prepare_start(&io->drain_prepare, on_drain_prepare);
}

static void on_async(uv_async_t *h)
{
    rt_io *io = h->data;
    io_timer *t, *next;
    io_work *w;
    bool quit;

    pthread_mutex_lock(&io->lock);
    t = io->reqs;
    io->reqs = io->reqs_tail = NULL;
    w = io->work;
    io->work = io->work_tail = NULL;
    quit = io->quit;
    pthread_mutex_unlock(&io->lock);
    /* posted work first: it was posted before the quit, so it still runs
     * with the loop (and may arm what the quit below then ends) */
    run_work(io, w, io->quitting);
    for (; t != NULL; t = next) {
        next = t->next_req;
        if (t->req == IO_ARM) {
            if (atomic_load(&t->cancelled) || quit) {
                timer_unref(t); /* the loop's reference; never started */
                continue;
            }
            uv_timer_init(&io->loop, &t->uv);
            t->uv.data = t;
            t->started = true;
            t->lnext = io->timers;
            if (io->timers != NULL)
                io->timers->lprev = t;
            io->timers = t;
            uv_timer_start(&t->uv, on_timer, t->delay_ms, 0);
        } else {
            io_timer *target = t->uv.data;
            if (target->started && !uv_is_closing((uv_handle_t *)&target->uv))
                timer_close(target);
            timer_unref(target); /* the arming thread's reference */
            free(t);
        }
    }
    if (quit && !io->draining && !io->quitting)
        drain(io);
}

static void io_main(void *arg)
{
    rt_io *io = arg;
    sigset_t set;

    /* a write to a pipe or socket whose reader is gone (a child's stdin)
     * fails with EPIPE here instead of killing the process */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    uv_run(&io->loop, UV_RUN_DEFAULT);
}

static void io_request(rt_io *io, io_timer *t, int req)
{
    pthread_mutex_lock(&io->lock);
    t->req = req;
    t->next_req = NULL;
    if (io->reqs_tail != NULL)
        io->reqs_tail->next_req = t;
    else
        io->reqs = t;
    io->reqs_tail = t;
    /* after the quit the async handle may be closed: rt_io_stop drains
     * what is left (the poke is made under the lock: see rt_io_stop) */
    if (!io->quit)
        uv_async_send(&io->async);
    pthread_mutex_unlock(&io->lock);
}

int rt_io_start(rt_runtime *rt, th_error *err)
{
    rt_io *io = calloc(1, sizeof *io);
    int rc;

    if (io == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory starting the I/O thread");
    if ((rc = uv_loop_init(&io->loop)) != 0) {
        free(io);
        return th_error_set(err, rc == UV_ENOMEM ? TH_ENOMEM : TH_EIO,
                            "cannot initialise the event loop: %s", uv_strerror(rc));
    }
    pthread_mutex_init(&io->lock, NULL);
    io->rt = rt;
    io->loop.data = io;
    uv_async_init(&io->loop, &io->async, on_async);
    io->async.data = io;
    if ((rc = uv_thread_create(&io->thread, io_main, io)) != 0) {
        uv_close((uv_handle_t *)&io->async, NULL);
        uv_run(&io->loop, UV_RUN_DEFAULT);
        uv_loop_close(&io->loop);
        pthread_mutex_destroy(&io->lock);
        free(io);
        /* as for the workers: a thread that cannot be created is a want
         * of resources (EAGAIN when its stack or TLS cannot be had) */
        return th_error_set(err, TH_ENOMEM, "cannot start the I/O thread: %s", uv_strerror(rc));
    }
    io->started = true;
    rt->io = io;
    return 0;
}

void rt_io_stop(rt_runtime *rt)
{
    rt_io *io = rt->io;

    if (io == NULL)
        return;
    /* Every poke is made under the lock with the quit not yet set, and the
     * loop closes the async handle only after it has read the quit under
     * the lock: so no poke (this one included) can reach a handle that is
     * closing or closed. */
    pthread_mutex_lock(&io->lock);
    io->quit = true;
    uv_async_send(&io->async);
    pthread_mutex_unlock(&io->lock);
    uv_thread_join(&io->thread);
    /* requests that came after the last drain */
    while (io->reqs != NULL) {
        io_timer *t = io->reqs;
        io->reqs = t->next_req;
        if (t->req == IO_ARM) {
            timer_unref(t);
        } else {
            timer_unref((io_timer *)t->uv.data);
            free(t);
        }
    }
    /* functions posted after the last drain release what they carry */
    run_work(io, io->work, true);
    io->work = io->work_tail = NULL;
    if (uv_loop_close(&io->loop) == UV_EBUSY) {
        /* A handle its owner left open (a defect, said here): libuv's
         * process-wide signal handling (SIGCHLD) still knows a loop that
         * is not closed, so its memory must not go before it is. */
        rt_log(rt, NULL, NULL, "runtime stop: a handle of the I/O loop was left open; closing it");
        uv_walk(&io->loop, on_walk_close_any, NULL);
        uv_run(&io->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&io->loop) != 0) {
            rt_log(rt, NULL, NULL,
                   "runtime stop: the I/O loop cannot be closed; its memory is kept");
            rt->io = NULL;
            return;
        }
    }
    pthread_mutex_destroy(&io->lock);
    free(io);
    rt->io = NULL;
}

void *rt_io_timer(rt_runtime *rt, uint64_t delay_ms, const char *id, uint64_t token, int status,
                  bool cancellable)
{
    io_timer *t;

    if (rt->io == NULL || (t = calloc(1, sizeof *t)) == NULL)
        return NULL;
    atomic_init(&t->refs, cancellable ? 2 : 1);
    atomic_init(&t->cancelled, false);
    t->delay_ms = delay_ms;
    t->token = token;
    t->status = status;
    t->rt = rt;
    memcpy(t->id, id, RT_ID_LEN);
    t->id[RT_ID_LEN] = 0;
    io_request(rt->io, t, IO_ARM);
    return t;
}

void rt_io_cancel(rt_runtime *rt, void *timer)
{
    io_timer *t = timer;
    io_timer *c;

    if (t == NULL)
        return;
    atomic_store(&t->cancelled, true);
    /* The loop closes the handle when it sees the cancel request (a
     * separate node: t itself may still be in the list).  The request
     * carries our reference; if it cannot be made, the timer fires into
     * nothing (the token is stale) and is freed then. */
    c = calloc(1, sizeof *c);
    if (c != NULL && rt->io != NULL) {
        c->uv.data = t;
        io_request(rt->io, c, IO_CANCEL);
    } else {
        free(c);
        timer_unref(t);
    }
}

int rt_io_post(rt_runtime *rt, rt_io_fn fn, void *ud)
{
    rt_io *io = rt->io;
    io_work *w;

    if (io == NULL)
        return TH_ESTATE;
    if ((w = malloc(sizeof *w)) == NULL)
        return TH_ENOMEM;
    w->next = NULL;
    w->fn = fn;
    w->ud = ud;
    pthread_mutex_lock(&io->lock);
    if (io->quit) {
        pthread_mutex_unlock(&io->lock);
        free(w);
        return TH_ESTATE;
    }
    if (io->work_tail != NULL)
        io->work_tail->next = w;
    else
        io->work = w;
    io->work_tail = w;
    uv_async_send(&io->async); /* under the lock: see rt_io_stop */
    pthread_mutex_unlock(&io->lock);
    return 0;
}

rt_io_slot_t *rt_io_slot(uv_loop_t *loop, int slot)
{
    rt_io *io = loop->data;

    if (slot < 0 || slot >= RT_IO_SLOTS || io->quitting)
        return NULL;
    return &io->slots[slot];
}

rt_runtime *rt_io_runtime(uv_loop_t *loop)
{
    return ((rt_io *)loop->data)->rt;
}
