/*
 * upgrade.c - hot code upgrade: an actor's component replaced between two
 * operations, keeping its id, state, mailbox, channels, children and chain
 * (th_runtime_update, docs/upgrade.md).
 *
 * The caller's thread validates and compiles the new bytes, checks its
 * exports' signatures and that every import it has is granted by the
 * actor's manifest (as at spawn), and stores the bytes in the content
 * store; nothing about the actor changes if any of this fails.  Then an
 * RT_MSG_UPGRADE goes to the actor's control queue; its turn carries it
 * out between two operations (an operation in progress, even one waiting
 * for a reply, ends first):
 *
 *   1. the new code is instantiated beside the old instance;
 *   2. it must export every actor export the old code has (a message the
 *      old code handled must not start being dropped);
 *   3. if it exports theater:simple/actor#migrate, that is called with the
 *      state and the version being replaced; it may not call the host (the
 *      gate in capability.c traps such a call), so the migration is a
 *      function of the state alone and a replay can repeat it;
 *   4. on success the old instance goes, the state is the migrated one and
 *      "component-updated" is recorded ({from, component, version,
 *      from_version, migrated, state}); on any failure (1: a trap in the
 *      new code's start function, 2, 3: an err, a trap, fuel) the new
 *      instance goes, the old keeps running, nothing is recorded, and the
 *      caller gets the reason (and, for a trap or fuel, the wasm backtrace:
 *      th_runtime_update_bt; a supervisor's update-child, its err's lines).
 *
 * A restart after an upgrade starts the upgraded code (actor-restarted
 * names it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"
#include "wit_glue.h"

#define UPGRADE_WAIT_MS 60000u
/* migrate runs in one go on the actor's worker: without limits.fuel_per_call
 * it gets this many instructions (a loop in it cannot hold the worker) */
#define UPGRADE_MIGRATE_FUEL 1000000000ull

/* What the actor's instance is made of: kept to roll back. */
typedef struct inst_save {
    th_wasm_instance *inst;
    th_wasm_func *fn[RT_EX_COUNT];
    th_wasm_func *fn_post[RT_EX_COUNT];
    th_wasm_func *fn_realloc;
    th_wasm_module *module;
    unsigned nfn_dyn;
} inst_save;

static void save(rt_actor *a, inst_save *s)
{
    s->inst = a->inst;
    memcpy(s->fn, a->fn, sizeof s->fn);
    memcpy(s->fn_post, a->fn_post, sizeof s->fn_post);
    s->fn_realloc = a->fn_realloc;
    s->module = a->module;
    s->nfn_dyn = a->nfn_dyn;
}

static void restore(rt_actor *a, const inst_save *s)
{
    a->inst = s->inst;
    memcpy(a->fn, s->fn, sizeof a->fn);
    memcpy(a->fn_post, s->fn_post, sizeof a->fn_post);
    a->fn_realloc = s->fn_realloc;
    a->module = s->module;
    a->nfn_dyn = s->nfn_dyn; /* the cached lookups are of the old instance */
}

int rt_upgrade_migrate(rt_actor *a, const char *from_version, bool *ran, char **backtrace,
                       th_error *err)
{
    th_wasm_func *f = th_wasm_instance_func(a->inst, WIT_EXPORT_ACTOR_MIGRATE), *post;
    th_wasm_exec *ex = NULL;
    th_wasm_val args[16], res[1];
    wit_res_tup1_opt_bytes_str v;
    uint64_t fuel = a->lim.fuel_per_call ? a->lim.fuel_per_call : UPGRADE_MIGRATE_FUEL;
    uint32_t nargs = 0;
    rt_guest g;
    int rc;

    *ran = false;
    if (backtrace != NULL)
        *backtrace = NULL;
    memset(&v, 0, sizeof v);
    if (f == NULL)
        return 0;
    if ((ex = rt_exec_get(a->rt)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    th_wasm_exec_set_user(ex, a);
    th_wasm_exec_set_max_stack(ex, (size_t)a->lim.stack_bytes);
    g = (rt_guest){a->inst, NULL, ex, a->fn_realloc, err};
    {
        wit_opt_bytes state = {a->has_state,
                               {a->has_state ? a->state : NULL, a->has_state ? a->state_len : 0}};
        wit_str from = {(char *)from_version, strlen(from_version)};
        rc = wit_call_lower_actor_migrate(&g, &state, &from, args, &nargs);
    }
    if (rc != 0) {
        th_error_prefix(err, "passing the state to migrate");
        goto out;
    }
    a->migrating = true;
    th_wasm_exec_set_fuel(ex, fuel);
    res[0].i64 = 0;
    rc = th_wasm_exec_call(ex, f, args, nargs, res, 1);
    a->migrating = false;
    if (rc != TH_OK) {
        rc = th_error_set(err, TH_ETRAP, "migrate %s",
                          rc == TH_WASM_TRAPPED       ? th_wasm_exec_trap_message(ex)
                          : rc == TH_WASM_OUT_OF_FUEL ? "ran out of fuel"
                                                      : "did not return");
        if (th_wasm_exec_is_suspended(ex))
            th_wasm_exec_abort(ex);
        /* where it trapped (or was when its fuel ran out), as the engine
         * bounds it */
        if (backtrace != NULL && th_wasm_exec_backtrace(ex)[0] != '\0')
            *backtrace = strdup(th_wasm_exec_backtrace(ex)); /* (none if out of memory) */
        goto out;
    }
    if ((rc = wit_call_lift_actor_migrate(&g, res, &v)) != 0) {
        th_error_prefix(err, "bad result from migrate");
        goto out;
    }
    if (v.is_err) {
        rc = th_error_set(err, TH_EINVAL, "migrate returned an error: %s",
                          v.err.ptr != NULL ? v.err.ptr : "");
        goto out;
    }
    post = th_wasm_instance_func(a->inst, "cabi_post_" WIT_EXPORT_ACTOR_MIGRATE);
    if (post != NULL) {
        args[0].i32 = res[0].i32;
        th_wasm_exec_set_fuel(ex, TH_RT_FUEL_SLICE);
        if (th_wasm_exec_call(ex, post, args, 1, res, 0) != TH_OK) {
            rc = th_error_set(err, TH_ETRAP, "cabi_post of migrate failed");
            goto out;
        }
    }
    rt_actor_set_state(a, v.ok.f0.some, v.ok.f0.val.ptr, v.ok.f0.val.len);
    v.ok.f0.val.ptr = NULL;
    *ran = true;
out:
    wit_free_res_tup1_opt_bytes_str(&v);
    rt_exec_put(a->rt, ex);
    return rc;
}

/* Steps 1-3 on the actor: 0 with the new instance in place (old one in
 * *old), or an error with the old one back (*backtrace: where the new
 * code's start function or migrate trapped, malloc'd, or NULL). */
static int swap_in(rt_actor *a, const rt_upgrade *u, inst_save *old, bool *migrated,
                   char **backtrace, th_error *err)
{
    int rc, i;

    save(a, old);
    a->inst = NULL; /* kept in *old; rt_actor_instantiate would free it */
    a->module = u->module;
    if ((rc = rt_actor_instantiate(a, backtrace, err)) != 0)
        goto fail;
    for (i = 0; i < RT_EX_COUNT; i++) {
        if (old->fn[i] != NULL && a->fn[i] == NULL) {
            rc = th_error_set(err, TH_ELINK,
                              "the new component does not export %s, which the running one "
                              "handles",
                              rt_export_names[i]);
            goto fail;
        }
    }
    if ((rc = rt_upgrade_migrate(a, a->version, migrated, backtrace, err)) != 0)
        goto fail;
    return 0;
fail:
    th_wasm_instance_free(a->inst);
    restore(a, old);
    return rc;
}

static void record_update(rt_actor *a, const char *from, const char *from_version, bool migrated)
{
    rt_buf b = {0};

    rt_buf_puts(&b, "{\"from\":\"");
    rt_buf_puts(&b, from);
    rt_buf_puts(&b, "\",\"component\":\"");
    rt_buf_puts(&b, a->component);
    rt_buf_puts(&b, "\",\"from_version\":");
    rt_buf_json_str(&b, from_version, strlen(from_version));
    rt_buf_puts(&b, ",\"version\":");
    rt_buf_json_str(&b, a->version, strlen(a->version));
    if (a->resumed) /* kept with the code it runs (restore.c reads it there) */
        rt_buf_puts(&b, ",\"resumed\":true");
    rt_buf_printf(&b, ",\"migrated\":%s,\"state\":", migrated ? "true" : "false");
    if (a->has_state)
        rt_buf_json_hex(&b, a->state, a->state_len);
    else
        rt_buf_puts(&b, "null");
    rt_buf_puts(&b, "}");
    rt_record_buf(a, "component-updated", &b);
}

void rt_upgrade_apply(rt_actor *a, rt_msg *m)
{
    rt_upgrade u;
    inst_save old;
    th_error err;
    char from[RT_HASH_HEX + 1], from_version[sizeof a->version], *bt = NULL, *told;
    bool migrated = false;
    int rc;

    th_error_clear(&err);
    memcpy(&u, m->data, sizeof u);
    if (a->status != TH_ACTOR_RUNNING || a->stop_msg != NULL || a->inst == NULL) {
        rc = th_error_set(&err, TH_ESTATE, "actor %s is not running (%s)", a->id,
                          a->status == TH_ACTOR_FAILED     ? "it failed"
                          : a->status == TH_ACTOR_STARTING ? "it is starting"
                                                           : "it is stopping");
    } else {
        rc = swap_in(a, &u, &old, &migrated, &bt, &err);
    }
    if (rc == 0) {
        th_wasm_instance_free(old.inst);
        memcpy(from, a->component, sizeof from);
        memcpy(from_version, a->version, sizeof from_version);
        memcpy(a->component, u.hash, sizeof a->component);
        if (u.version[0] != '\0')
            snprintf(a->version, sizeof a->version, "%s", u.version);
        record_update(a, from, from_version, migrated);
        rt_reply_complete(a->rt, &m->reply, TH_OK, true, (const uint8_t *)from, RT_HASH_HEX, NULL);
    } else {
        /* the log line gets the frames after the message, a line each
         * (as rt_reply_fail puts them into a supervisor's update-child
         * err; an outside caller gets them apart) */
        told = bt != NULL ? rt_text_with_frames(err.msg, bt) : NULL;
        rt_log(a->rt, a->id, a->spec->name, "upgrade refused: %s", told != NULL ? told : err.msg);
        rt_reply_fail(a->rt, &m->reply, rc, err.msg, bt);
        free(told);
        free(bt);
    }
    rt_msg_free(m);
}

int rt_upgrade_prepare(rt_actor *a, const uint8_t *bytes, size_t len, const char *version,
                       rt_upgrade *u, th_error *err)
{
    rt_runtime *rt = a->rt;
    char key[8 + RT_HASH_HEX];
    int rc;

    memset(u, 0, sizeof *u);
    if (version != NULL && strlen(version) >= sizeof u->version)
        return th_error_set(err, TH_EINVAL, "version is longer than %zu bytes",
                            sizeof u->version - 1);
    snprintf(u->version, sizeof u->version, "%s", version != NULL ? version : "");
    rc = rt_module_from_bytes(rt, bytes, len, a->spec->save_chain, &u->module, u->hash, err);
    if (rc == 0 && ((rc = rt_spec_check_exports(u->module, err)) != 0 ||
                    (rc = rt_capability_check(rt, u->module, a->spec->handlers, err)) != 0)) {
        th_wasm_module_free(u->module);
        u->module = NULL;
    }
    if (rc != 0)
        return th_error_prefix(err, "the new component does not fit actor %s", a->id);
    snprintf(key, sizeof key, "sha256:%s", u->hash);
    return rt_module_cache_put(rt, key, u->module, u->hash, a->spec->save_chain, err);
}

int rt_upgrade_send(rt_actor *a, const rt_upgrade *u, rt_reply *reply)
{
    rt_msg *m = rt_msg_new(RT_MSG_UPGRADE, u, sizeof *u);

    if (m == NULL) {
        rt_reply_complete(a->rt, reply, TH_ENOMEM, false, NULL, 0, "out of memory");
        return TH_ENOMEM;
    }
    m->reply = *reply;
    memset(reply, 0, sizeof *reply);
    rt_actor_post_ctl(a, m);
    return 0;
}

int th_runtime_update(th_runtime *rt, const char *actor_id, const uint8_t *bytes, size_t len,
                      const char *version, char *from, char *to, th_error *err)
{
    return th_runtime_update_bt(rt, actor_id, bytes, len, version, from, to, NULL, err);
}

int th_runtime_update_bt(th_runtime *rt, const char *actor_id, const uint8_t *bytes, size_t len,
                         const char *version, char *from, char *to, char **backtrace, th_error *err)
{
    rt_actor *a = actor_id != NULL ? rt_registry_get(&rt->reg, actor_id, strlen(actor_id)) : NULL;
    rt_reply reply;
    rt_upgrade u;
    rt_sync *s = NULL;
    int rc;

    if (backtrace != NULL)
        *backtrace = NULL;
    if (a == NULL)
        return th_error_set(err, TH_ENOENT, "no actor %s", actor_id != NULL ? actor_id : "(null)");
    /* what the code is, checked before anything changes */
    if ((rc = rt_upgrade_prepare(a, bytes, len, version, &u, err)) != 0)
        goto out;
    if ((s = rt_sync_new()) == NULL) {
        rc = th_error_set(err, TH_ENOMEM, "out of memory");
        goto out;
    }
    atomic_fetch_add(&s->refs, 1);
    memset(&reply, 0, sizeof reply);
    reply.sync = s;
    rt_upgrade_send(a, &u, &reply);
    if (!rt_sync_wait(s, UPGRADE_WAIT_MS, rt)) {
        rc = th_error_set(err, TH_ETIMEDOUT,
                          "the upgrade of %s did not happen within %u s (an operation still "
                          "runs); it happens when that one ends",
                          a->id, UPGRADE_WAIT_MS / 1000);
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    rc = s->status;
    if (rc != 0) {
        th_error_set(err, rc, "%s", s->msg);
        if (backtrace != NULL) { /* (done: nothing writes it any more) */
            *backtrace = s->backtrace;
            s->backtrace = NULL;
        }
    } else if (from != NULL)
        snprintf(from, 65, "%.*s", (int)(s->len < 64 ? s->len : 64), (const char *)s->data);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0 && to != NULL)
        memcpy(to, u.hash, 65);
out:
    rt_sync_release(s);
    rt_actor_release(a);
    return rc;
}
