/*
 * children.c - an actor's children, as the supervisor interface asks for
 * them (handlers/supervisor.c is the interface's glue): spawn and wait for
 * init, find, stop, restart, give new code.  The supervision machinery
 * itself (notices, strategies, the stop cascade) is supervise.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

int rt_child_spawn(rt_host *h, const char *iface, const char *fn, const char *manifest, bool resume,
                   bool has_init, const uint8_t *init, size_t len, char *why, size_t cap,
                   char **backtrace)
{
    rt_actor *self = h->a, *child = NULL;
    rt_spec *spec = NULL;
    th_spawn_opts sub = {0};
    th_error err;
    size_t n;
    bool text;

    *backtrace = NULL;
    sub.backtrace = backtrace; /* (only that: no listener) */
    th_error_clear(&err);
    /* TOML text or a path (docs/manifest.md "A manifest given to spawn"):
     * a manifest needs two keys, so text has a line break; one line with
     * '=' is text too (its parse error says more than "no such file"),
     * unless it ends in ".toml": a file name such as a=b.toml */
    n = strlen(manifest);
    text = strchr(manifest, '\n') != NULL ||
           (strchr(manifest, '=') != NULL && !(n >= 5 && strcmp(manifest + n - 5, ".toml") == 0));
    if (atomic_load(&self->rt->closing)) {
        th_error_set(&err, TH_ECLOSED, "the runtime is shutting down");
    } else if (text) {
        rt_spec_load(self->rt, NULL, manifest, self->spec->base_dir, self->spec, &spec, &err);
    } else {
        char path[4096];
        bool abs = manifest[0] == '/';
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", abs ? "" : self->spec->base_dir,
                             abs ? "" : "/", manifest) >= sizeof path)
            th_error_set(&err, TH_EINVAL, "manifest path too long");
        else
            rt_spec_load(self->rt, path, NULL, NULL, self->spec, &spec, &err);
    }
    if (spec != NULL && resume)
        rt_actor_resume(self->rt, spec, self, has_init, init, len, backtrace, &child, &err);
    else if (spec != NULL)
        rt_actor_create(self->rt, spec, self, has_init, has_init ? init : NULL, has_init ? len : 0,
                        &sub, &child, &err);
    rt_spec_release(spec);
    if (child == NULL) {
        /* the actor hears of its files as it names them, not where the
         * host keeps them; the runtime's log has the whole message */
        rt_error_hide_paths(self->rt, self, fn, NULL, 0, &err);
        snprintf(why, cap, "%s", err.msg);
        if (*backtrace != NULL) {
            /* its start function trapped: no child, so no chain and no
             * lifecycle line tells of it; the runtime's log does */
            char *told = rt_text_with_frames(err.msg, *backtrace);
            rt_log(self->rt, self->id, self->spec->name, "%s of a child refused: %s", fn,
                   told != NULL ? told : err.msg);
            free(told);
        }
        return RT_REFUSED;
    }
    rt_actor_ref(self);
    child->init_reply.actor = self;
    child->init_reply.token = rt_op_wait(self, RT_WAIT_STRING, h->retptr, iface, fn, h->input);
    h->input = NULL;
    if (resume) /* no init to wait for: answered as after one */
        rt_actor_started(child);
    /* its first turn runs init (resumed: whatever came meanwhile); the
     * queue takes our reference */
    rt_sched_push(child, RT_PUSH_WAKE);
    return RT_SUSPENDED;
}

rt_actor *rt_child_find(rt_actor *parent, const char *id, size_t n, char *why, size_t cap)
{
    rt_actor *c = rt_registry_get(&parent->rt->reg, id, n);

    if (c != NULL && c->parent != parent) {
        rt_actor_release(c);
        c = NULL;
    }
    if (c == NULL)
        snprintf(why, cap, "%.*s is not a child of this actor", (int)n, id);
    return c;
}

int rt_child_stop(rt_host *h, const char *iface, const char *fn, rt_actor *child, char *why,
                  size_t cap)
{
    rt_msg *m = rt_msg_new(RT_MSG_STOP, NULL, 0);

    if (m == NULL) {
        snprintf(why, cap, "out of memory");
        return RT_REFUSED;
    }
    m->code = RT_STOP_BY_PARENT;
    rt_actor_ref(h->a);
    m->reply.actor = h->a;
    m->reply.token = rt_op_wait(h->a, RT_WAIT_UNIT, h->retptr, iface, fn, h->input);
    h->input = NULL;
    rt_actor_post_ctl(child, m);
    return RT_SUSPENDED;
}

int rt_child_restart(rt_host *h, rt_actor *child, char *why, size_t cap)
{
    th_error err;
    rt_buf b = {0};

    th_error_clear(&err);
    if (rt_sup_restart(h->a, child, &err) != 0) {
        snprintf(why, cap, "%s", err.msg);
        return RT_REFUSED;
    }
    rt_buf_puts(&b,
                "{\"action\":\"restart\",\"strategy\":\"actor\",\"trigger\":null,\"children\":[");
    rt_buf_json_str(&b, child->id, RT_ID_LEN);
    rt_buf_puts(&b, "]}");
    rt_record_buf(h->a, "supervisor-action", &b);
    return RT_DONE;
}

int rt_child_update(rt_host *h, const char *iface, const char *fn, rt_actor *child,
                    const uint8_t *code, size_t len, char *why, size_t cap)
{
    rt_upgrade u;
    rt_reply reply;
    th_error err;

    th_error_clear(&err);
    if (rt_upgrade_prepare(child, code, len, NULL, &u, &err) != 0) {
        rt_error_hide_paths(h->a->rt, h->a, fn, NULL, 0, &err);
        snprintf(why, cap, "%s", err.msg);
        return RT_REFUSED;
    }
    memset(&reply, 0, sizeof reply);
    rt_actor_ref(h->a);
    reply.actor = h->a;
    reply.token = rt_op_wait(h->a, RT_WAIT_UNIT, h->retptr, iface, fn, h->input);
    h->input = NULL;
    rt_upgrade_send(child, &u, &reply);
    return RT_SUSPENDED;
}
