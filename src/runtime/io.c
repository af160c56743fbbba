/*
 * io.c - the runtime's I/O thread: one libuv loop that runs the timers of
 * timing.sleep/deadline, and hands each expiry to its actor as a wake on
 * the control queue.  (Call timeouts are the workers' timer wheel,
 * timer.c: they are armed and cancelled on nearly every request.)
 *
 * Other threads never touch the loop: they append requests (arm, cancel) to
 * a mutex-protected list and poke the loop with uv_async_send, which
 * coalesces pokes; the loop thread drains the list.  A timer names its actor
 * by id (no reference is held while it waits), so a timer of an actor that
 * has gone simply finds nobody.  A timer object is shared by the arming
 * thread (until it cancels) and the loop (until it fires or is cancelled);
 * the last of the two frees it.
 */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "runtime/rt_int.h"

typedef struct io_timer {
    uv_timer_t uv;
    struct io_timer *next_req; /* request list link */
    int req;                   /* IO_ARM / IO_CANCEL */
    atomic_int refs;           /* arming thread + loop */
    atomic_bool cancelled;
    bool started;
    uint64_t delay_ms;
    uint64_t token;
    int status;
    char id[RT_ID_LEN + 1];
    rt_runtime *rt;
} io_timer;

enum { IO_ARM = 1, IO_CANCEL };

struct rt_io {
    uv_loop_t loop;
    uv_async_t async;
    uv_thread_t thread;
    pthread_mutex_t lock;
    io_timer *reqs, *reqs_tail; /* pending requests (FIFO) */
    bool quit;
    bool started;
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
    uv_close((uv_handle_t *)&t->uv, on_timer_closed);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TIMER ? on_timer_closed : NULL);
}

static void on_async(uv_async_t *h)
{
    rt_io *io = h->data;
    io_timer *t, *next;
    bool quit;

    pthread_mutex_lock(&io->lock);
    t = io->reqs;
    io->reqs = io->reqs_tail = NULL;
    quit = io->quit;
    pthread_mutex_unlock(&io->lock);
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
            uv_timer_start(&t->uv, on_timer, t->delay_ms, 0);
        } else {
            io_timer *target = t->uv.data;
            if (target->started && !uv_is_closing((uv_handle_t *)&target->uv)) {
                uv_timer_stop(&target->uv);
                uv_close((uv_handle_t *)&target->uv, on_timer_closed);
            }
            timer_unref(target); /* the arming thread's reference */
            free(t);
        }
    }
    if (quit)
        uv_walk(&io->loop, on_walk_close, NULL);
}

static void io_main(void *arg)
{
    rt_io *io = arg;

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
    pthread_mutex_unlock(&io->lock);
    uv_async_send(&io->async);
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
    pthread_mutex_lock(&io->lock);
    io->quit = true;
    pthread_mutex_unlock(&io->lock);
    uv_async_send(&io->async);
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
    uv_loop_close(&io->loop);
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
