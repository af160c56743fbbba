/*
 * capability.c - which host functions an actor may import.
 *
 * Each handler (src/handlers/<interface>.c) describes its interface as an
 * rt_iface table; the runtime is given the set of them at its creation
 * (th_runtime_config.handlers) and links no handler.  All host functions
 * are bound once into the runtime's shared th_wasm_imports; what makes them capabilities is the
 * check at spawn: every import of the module must belong to an interface whose handler the manifest
 * lists, with the signature the Canonical ABI gives it.  Anything else refuses the spawn with an
 * error naming the import and the missing handler.  Likewise every export
 * the WIT names (actor, message-server-client, supervisor-handlers,
 * http-handlers, process-handlers) and its `cabi_post_` function must have
 * the core type the Canonical ABI gives it, so that a wrong one is refused
 * at spawn rather than failing the actor at its first call.
 *
 * The runtime knows the handlers only through that table: each names
 * itself (rt_iface.name, the [[handler]] type), numbers itself (a bit of
 * rt_spec.handlers) and reads, frees and attenuates its own settings.  A
 * handler that takes settings must say how a child's are checked against
 * its parent's (rt_iface.settings_subset, used by attenuate.c); a set that
 * breaks these rules fails the runtime's start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/manifest.h"
#include "runtime/rt_int.h"
#include "wit_glue.h"

const char *rt_handler_name(const rt_runtime *rt, int type)
{
    const rt_iface *f = rt_capability_iface(rt, type);

    return f != NULL ? f->name : "?";
}

const rt_iface *rt_capability_iface(const rt_runtime *rt, int type)
{
    return rt_manifest_handler_find(rt->handlers, type);
}

/* The rules a handler set keeps (capability.c's header). */
static int check_set(const th_handler_set *h, th_error *err)
{
    uint32_t seen = 0;

    for (size_t i = 0; i < h->count; i++) {
        const rt_iface *f = h->ifaces[i];
        if (f->name == NULL || f->handler < 0 || f->handler >= RT_HANDLERS_MAX ||
            (seen & (1u << f->handler)))
            return th_error_set(err, TH_EINVAL,
                                "handler set: entry %zu (%s) needs a name and a number below "
                                "%d that no other entry has",
                                i, f->module != NULL ? f->module : "?", RT_HANDLERS_MAX);
        seen |= 1u << f->handler;
        /* a handler with settings reads, frees and attenuates them */
        if ((f->fields != NULL && f->fields[0] != NULL && f->settings_read == NULL) ||
            (f->settings_read != NULL && f->settings_size == 0))
            return th_error_set(err, TH_ENOSYS, "handler \"%s\" has settings but no reader",
                                f->name);
        if (f->settings_read != NULL && f->settings_subset == NULL)
            return th_error_set(err, TH_ENOSYS,
                                "handler \"%s\" has settings but no attenuation rule", f->name);
    }
    return 0;
}

/* What a registered host function is called with: its table entry and its
 * handler's impl table. */
typedef struct rt_bound_fn {
    const rt_hostfn *f;
    const void *impl;
} rt_bound_fn;

/* Every host function runs behind this gate: a host call is an effect,
 * and an effect that cannot be recorded must not happen.  While the chain
 * writer cannot store events the caller waits (bounded, record.c); then
 * the call traps without doing anything and the actor stops, saying why. */
static int gated_call(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    const rt_bound_fn *b = ctx;
    rt_actor *a = rt_actor_of_call(call);
    th_error err;

    th_error_clear(&err);
    if (rt_abi_in_realloc())
        return th_wasm_call_trap(call,
                                 "host call %s not made: cabi_realloc may not call the host (the "
                                 "Canonical ABI forbids leaving the guest while the host lowers "
                                 "into it)",
                                 b->f->name);
    if (a != NULL && a->in_post)
        return th_wasm_call_trap(call,
                                 "host call %s not made: a post-return may not call the host (the "
                                 "Canonical ABI forbids leaving the guest after its results are "
                                 "taken)",
                                 b->f->name);
    if (a != NULL && a->migrating) /* migrate is a function of the state alone */
        return th_wasm_call_trap(call, "host call %s not made: migrate may not call the host",
                                 b->f->name);
    if (a != NULL && rt_record_ready(a, &err) != 0)
        return th_wasm_call_trap(call, "host call %s not made: %s", b->f->name, err.msg);
    return b->f->fn(call, (void *)b->impl, args, results);
}

int rt_capability_register_all(rt_runtime *rt, th_error *err)
{
    const th_handler_set *h = rt->handlers;
    size_t i, j, n = 0, k = 0;
    int rc;

    if ((rc = check_set(h, err)) != 0)
        return rc;
    for (i = 0; i < h->count; i++)
        n += h->ifaces[i]->nfns;
    if (n > 0 && (rt->bound = calloc(n, sizeof *rt->bound)) == NULL)
        return th_error_set(err, TH_ENOMEM, "out of memory");
    for (i = 0; i < h->count; i++) {
        for (j = 0; j < h->ifaces[i]->nfns; j++, k++) {
            const rt_hostfn *f = &h->ifaces[i]->fns[j];
            rt->bound[k].f = f;
            rt->bound[k].impl = h->ifaces[i]->impl;
            rc = th_wasm_imports_add_func(rt->imports, h->ifaces[i]->module, f->name, f->sig,
                                          gated_call, &rt->bound[k]);
            if (rc != 0)
                return th_error_set(err, rc, "cannot register %s.%s", h->ifaces[i]->module,
                                    f->name);
        }
    }
    return 0;
}

/* Signature string of a function type ("ii>i"). */
static void sig_of(const th_wasm_functype *t, char *out, size_t cap)
{
    size_t o = 0;
    uint32_t i;

    for (i = 0; i < t->nparams + t->nresults && o + 2 < cap; i++) {
        if (i == t->nparams)
            out[o++] = '>';
        switch (t->types[i]) {
        case TH_WASM_I32: out[o++] = 'i'; break;
        case TH_WASM_I64: out[o++] = 'I'; break;
        case TH_WASM_F32: out[o++] = 'f'; break;
        case TH_WASM_F64: out[o++] = 'F'; break;
        default: out[o++] = '?'; break;
        }
    }
    if (t->nresults == 0 && o + 1 < cap)
        out[o++] = '>';
    out[o] = 0;
}

/* The WIT export (theater:simple/I#F) named `name`, or NULL. */
static const wit_fn_desc *wit_export(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < wit_nfunctions; i++)
        if (wit_functions[i].is_export && strlen(wit_functions[i].name) == len &&
            memcmp(wit_functions[i].name, name, len) == 0)
            return &wit_functions[i];
    return NULL;
}

/* Every function export the WIT names has its Canonical ABI core type, and
 * so has its post-return, `cabi_post_<export>` (the export's one flat
 * result, a pointer, and nothing back). */
static int check_exports(const th_wasm_module *m, th_error *err)
{
    static const char post[] = "cabi_post_";
    const size_t np = sizeof post - 1;
    uint32_t n = th_wasm_module_export_count(m), i;
    const wit_fn_desc *f;
    th_wasm_extern_desc d;
    char sig[64];
    bool is_post;

    for (i = 0; i < n; i++) {
        if (th_wasm_module_export(m, i, &d) != 0 || d.kind != TH_WASM_EXTERN_FUNC)
            continue;
        is_post = d.name_len > np && memcmp(d.name, post, np) == 0;
        f = is_post ? wit_export(d.name + np, d.name_len - np) : wit_export(d.name, d.name_len);
        if (f == NULL)
            continue;
        sig_of(&d.functype, sig, sizeof sig);
        if (strcmp(sig, is_post ? "i>" : f->sig) != 0)
            return th_error_set(err, TH_ELINK, "export %.*s has type %s, expected %s",
                                (int)d.name_len, d.name, sig, is_post ? "i>" : f->sig);
    }
    return 0;
}

int rt_capability_check(const rt_runtime *rt, const th_wasm_module *m, uint32_t handlers,
                        th_error *err)
{
    uint32_t n = th_wasm_module_import_count(m), i;
    th_wasm_extern_desc d;
    char sig[64];
    size_t k, j;

    for (i = 0; i < n; i++) {
        const rt_iface *iface = NULL;
        const rt_hostfn *f = NULL;
        if (th_wasm_module_import(m, i, &d) != 0)
            return th_error_set(err, TH_EINVAL, "cannot read import %u", i);
        for (k = 0; k < rt->handlers->count; k++) {
            const rt_iface *h = rt->handlers->ifaces[k];
            if (strlen(h->module) == d.module_len && memcmp(h->module, d.module, d.module_len) == 0)
                iface = h;
        }
        if (iface == NULL)
            return th_error_set(err, TH_EPERM,
                                "import \"%.*s\" \"%.*s\" is not offered by any handler",
                                (int)d.module_len, d.module, (int)d.name_len, d.name);
        for (j = 0; j < iface->nfns; j++)
            if (strlen(iface->fns[j].name) == d.name_len &&
                memcmp(iface->fns[j].name, d.name, d.name_len) == 0)
                f = &iface->fns[j];
        if (f == NULL || d.kind != TH_WASM_EXTERN_FUNC)
            return th_error_set(err, TH_ELINK, "import \"%s\" \"%.*s\": %s has no such function",
                                iface->module, (int)d.name_len, d.name, iface->module);
        if (!(handlers & (1u << iface->handler)))
            return th_error_set(err, TH_EPERM,
                                "import \"%s\" \"%s\" needs the \"%s\" handler, which the manifest "
                                "does not list",
                                iface->module, f->name, iface->name);
        sig_of(&d.functype, sig, sizeof sig);
        if (strcmp(sig, f->sig) != 0)
            return th_error_set(err, TH_ELINK, "import \"%s\" \"%s\" has type %s, expected %s",
                                iface->module, f->name, sig, f->sig);
    }
    return check_exports(m, err);
}
