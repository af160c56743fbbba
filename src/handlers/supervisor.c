/*
 * supervisor.c - the `supervisor` interface: an actor's children.
 *
 *   spawn            start a child from a manifest (a path, relative to the
 *                    parent's manifest directory, or TOML text) with an
 *                    optional initial state (none: the manifest's
 *                    init_state); the parent is suspended until the
 *                    child's init has finished: ok(child-id) or err.
 *   resume           the same, but the child starts with exactly the state
 *                    given (a state saved earlier) and its init is not
 *                    called (nor at a restart): ok(child-id) at once.
 *                    The child holds no more than the parent (attenuate.c):
 *                    its handlers, their settings and its limits are
 *                    checked against the parent's, and the files its
 *                    manifest names are read through the parent's
 *                    filesystem grant.
 *   list-children, stop-child (suspends until the child is gone),
 *   restart-child (a fresh instance, same id and chain), get-child-state,
 *   get-child-events.
 *
 * Lifting, lowering and recording are the generated glue's (wit_glue.h);
 * the mechanics are the runtime's (runtime/children.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "wit_glue.h"

#define IFACE "supervisor"

static int do_spawn(rt_host *h, const char *fn, bool resume, wit_str *manifest, wit_opt_bytes *init,
                    wit_res_str_str *ret)
{
    char why[TH_ERROR_MSG_MAX], *bt = NULL, *told = NULL;
    int rc;

    /* a NUL would end the path or text early */
    if (strlen(manifest->ptr) != manifest->len)
        return rt_call_outcome(h, RT_REFUSED, &ret->is_err, &ret->err,
                               "the manifest holds a NUL character");
    rc = rt_child_spawn(h, IFACE, fn, manifest->ptr, resume, init->some,
                        init->some ? init->val.ptr : NULL, init->some ? init->val.len : 0, why,
                        sizeof why, &bt);
    /* a trap in the child's start function: the err has its frames after
     * the message, a line each */
    if (bt != NULL)
        told = rt_text_with_frames(why, bt);
    rc = rt_call_outcome(h, rc, &ret->is_err, &ret->err, told != NULL ? told : why);
    free(told);
    free(bt);
    return rc;
}

static int s_spawn(rt_host *h, wit_str *manifest, wit_opt_bytes *init_bytes, wit_res_str_str *ret)
{
    return do_spawn(h, "spawn", false, manifest, init_bytes, ret);
}

static int s_resume(rt_host *h, wit_str *manifest, wit_opt_bytes *init_state, wit_res_str_str *ret)
{
    return do_spawn(h, "resume", true, manifest, init_state, ret);
}

static int s_list_children(rt_host *h, wit_list_str *ret)
{
    rt_actor **kids;
    size_t n, i;
    int rc = 0;

    if (rt_actor_children(h->a, &kids, &n) != 0)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    if ((ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr)) == NULL)
        rc = th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        if (rc == 0 && (rc = wit_str_set(h, &ret->ptr[i], rt_actor_id(kids[i]))) == 0)
            ret->len = i + 1;
        rt_actor_release(kids[i]);
    }
    free(kids);
    return rc;
}

static int s_stop_child(rt_host *h, wit_str *child_id, wit_res_unit_str *ret)
{
    char why[TH_ERROR_MSG_MAX];
    rt_actor *c = rt_child_find(h->a, child_id->ptr, child_id->len, why, sizeof why);
    int rc = RT_REFUSED;

    if (c != NULL) {
        rc = rt_child_stop(h, IFACE, "stop-child", c, why, sizeof why);
        rt_actor_release(c);
    }
    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

static int s_restart_child(rt_host *h, wit_str *child_id, wit_res_unit_str *ret)
{
    char why[TH_ERROR_MSG_MAX];
    rt_actor *c = rt_child_find(h->a, child_id->ptr, child_id->len, why, sizeof why);
    int rc = RT_REFUSED;

    if (c != NULL) {
        rc = rt_child_restart(h, c, why, sizeof why);
        rt_actor_release(c);
    }
    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

static int s_get_child_state(rt_host *h, wit_str *child_id, wit_res_opt_bytes_str *ret)
{
    char why[TH_ERROR_MSG_MAX];
    rt_actor *c = rt_child_find(h->a, child_id->ptr, child_id->len, why, sizeof why);
    uint8_t *data = NULL;
    size_t len = 0;
    bool has = false;
    int rc;

    if (c == NULL)
        return rt_call_outcome(h, RT_REFUSED, &ret->is_err, &ret->err, why);
    rc = rt_actor_get_state(c, &has, &data, &len);
    rt_actor_release(c);
    if (rc != 0)
        return rt_call_outcome(h, RT_REFUSED, &ret->is_err, &ret->err, "out of memory");
    ret->ok.some = has;
    if (has) {
        ret->ok.val.ptr = data; /* owned by the result now */
        ret->ok.val.len = len;
    } else {
        free(data);
    }
    return 0;
}

static int s_get_child_events(rt_host *h, wit_str *child_id,
                              wit_res_list_types_chain_event_str *ret)
{
    char why[TH_ERROR_MSG_MAX], out[64];
    rt_actor *c = rt_child_find(h->a, child_id->ptr, child_id->len, why, sizeof why);
    int rc;

    if (c == NULL)
        return rt_call_outcome(h, RT_REFUSED, &ret->is_err, &ret->err, why);
    rc = rt_chain_events(c, &ret->ok, &h->err);
    rt_actor_release(c);
    if (rc != 0)
        return rc;
    snprintf(out, sizeof out, "{\"ok\":{\"events\":%zu}}", ret->ok.len);
    if ((h->output = strdup(out)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    return 0;
}

static int s_update_child(rt_host *h, wit_str *child_id, wit_bytes *component,
                          wit_res_unit_str *ret)
{
    char why[TH_ERROR_MSG_MAX];
    rt_actor *c = rt_child_find(h->a, child_id->ptr, child_id->len, why, sizeof why);
    int rc = RT_REFUSED;

    if (c != NULL) {
        rc = rt_child_update(h, IFACE, "update-child", c, component->ptr, component->len, why,
                             sizeof why);
        rt_actor_release(c);
    }
    return rt_call_outcome(h, rc, &ret->is_err, &ret->err, why);
}

static const wit_impl_supervisor impl = {
    .spawn = s_spawn,
    .resume = s_resume,
    .list_children = s_list_children,
    .stop_child = s_stop_child,
    .restart_child = s_restart_child,
    .get_child_state = s_get_child_state,
    .get_child_events = s_get_child_events,
    .update_child = s_update_child,
};

/* recorded as {"events": n}, the child's chain */
static const char *const child_chain[] = {"get-child-events", NULL};

const rt_iface rt_iface_supervisor = {
    .name = "supervisor",
    .module = "theater:simple/supervisor",
    .handler = HANDLER_SUPERVISOR,
    .replay_child_chain = child_chain,
    .fns = wit_fns_supervisor,
    .nfns = WIT_NFNS_SUPERVISOR,
    .impl = &impl,
};
