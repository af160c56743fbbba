/*
 * message.c - the objects that travel through mailboxes: messages (one
 * allocation each, payload stored after the header), reply targets (where
 * the answer to a request or the end of a wait goes: a suspended actor, or
 * an outside thread blocked on an rt_sync), and rt_sync itself.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/block.h"
#include "runtime/rt_int.h"

rt_msg *rt_msg_new(int kind, const void *data, size_t len)
{
    rt_msg *m;

    if (len > SIZE_MAX - sizeof *m)
        return NULL;
    m = base_block_alloc(sizeof *m + len); /* freed by the receiver's thread */
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof *m);
    m->kind = (uint16_t)kind;
    m->data = (uint8_t *)(m + 1);
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    return m;
}

void rt_reply_drop(rt_reply *r)
{
    if (r->in != NULL) {
        rt_inbound *in = r->in;
        r->in = NULL;
        in->ops->done(in, TH_ECLOSED, "the actor went away before running it");
    }
    if (r->actor != NULL)
        rt_actor_release(r->actor);
    if (r->sync != NULL)
        rt_sync_release(r->sync);
    r->actor = NULL;
    r->sync = NULL;
}

void rt_msg_free(rt_msg *m)
{
    if (m == NULL)
        return;
    rt_reply_drop(&m->reply);
    free(m->text);
    if (m->res != NULL)
        m->res->free(m->res);
    base_block_free(m, sizeof *m + m->len);
}

void rt_reply_complete(rt_runtime *rt, rt_reply *r, int status, bool has_data, const uint8_t *data,
                       size_t len, const char *text)
{
    rt_sync *s = r->sync;

    (void)rt;
    if (r->in != NULL) {
        rt_inbound *in = r->in;
        r->in = NULL;
        in->ops->done(in, status, status == TH_OK ? NULL : text != NULL ? text : "failed");
    }
    if (r->actor != NULL) {
        rt_actor_wake(r->actor, r->token, status, has_data, data, len, text);
        rt_actor_release(r->actor);
        r->actor = NULL;
    }
    if (s != NULL) {
        pthread_mutex_lock(&s->lock);
        if (!s->done) {
            s->done = true;
            s->status = status;
            s->has_data = has_data;
            if (has_data) {
                s->data = rt_memdup(data, len);
                s->len = len;
                if (s->data == NULL) {
                    s->status = TH_ENOMEM;
                    s->has_data = false;
                    s->len = 0;
                }
            }
            if (text != NULL) {
                strncpy(s->msg, text, sizeof s->msg - 1);
                s->msg[sizeof s->msg - 1] = 0;
            }
            pthread_cond_broadcast(&s->cond);
            if (s->fn != NULL) {
                th_runtime_reply_fn fn = s->fn;
                s->fn = NULL;
                pthread_mutex_unlock(&s->lock);
                fn(s->fn_ud, s->status, s->data, s->len, s->msg, s->backtrace);
                rt_sync_release(s);
                r->sync = NULL;
                return;
            }
        }
        pthread_mutex_unlock(&s->lock);
        rt_sync_release(s);
        r->sync = NULL;
    }
}

rt_sync *rt_sync_new(void)
{
    rt_sync *s = calloc(1, sizeof *s);
    pthread_condattr_t ca;

    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    return s;
}

void rt_sync_release(rt_sync *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->fn != NULL) /* dropped unanswered (message freed) */
        s->fn(s->fn_ud, TH_ECLOSED, NULL, 0, "the actor went away before answering", NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->data);
    free(s->backtrace);
    free(s);
}

void rt_reply_fail(rt_runtime *rt, rt_reply *r, int status, const char *text, const char *backtrace)
{
    rt_sync *s = r->sync;

    if (s != NULL && backtrace != NULL && backtrace[0] != '\0') {
        pthread_mutex_lock(&s->lock);
        if (!s->done && s->backtrace == NULL)
            s->backtrace = strdup(backtrace); /* (none if out of memory) */
        pthread_mutex_unlock(&s->lock);
    }
    if (r->actor != NULL && backtrace != NULL && backtrace[0] != '\0') {
        /* an actor's request: its err is a string, so the frames go into
         * it, a line each, as a spawn's err has them */
        char *with = rt_text_with_frames(text, backtrace);
        rt_reply_complete(rt, r, status, false, NULL, 0, with != NULL ? with : text);
        free(with);
        return;
    }
    rt_reply_complete(rt, r, status, false, NULL, 0, text);
}

bool rt_sync_wait(rt_sync *s, uint32_t timeout_ms, rt_runtime *rt)
{
    struct timespec ts;
    uint64_t end = rt_deadline_ns(timeout_ms), now, t;
    bool done;

    pthread_mutex_lock(&s->lock);
    while (!s->done) {
        if (rt != NULL && atomic_load(&rt->interrupted))
            break;
        now = rt_now_ns();
        if (end && now >= end)
            break;
        /* wake up now and then to notice interrupts */
        t = now + 100000000u;
        if (end && end < t)
            t = end;
        ts.tv_sec = (time_t)(t / 1000000000u);
        ts.tv_nsec = (long)(t % 1000000000u);
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    done = s->done;
    pthread_mutex_unlock(&s->lock);
    return done;
}
