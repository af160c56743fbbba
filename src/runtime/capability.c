/*
 * capability.c - which host functions an actor may import.
 *
 * Each handler (src/handlers/<interface>.c) describes its interface as an
 * rt_iface table.  All host functions are bound once into the runtime's
 * shared th_wasm_imports; what makes them capabilities is the check at
 * spawn: every import of the module must belong to an interface whose
 * handler the manifest lists, with the signature the Canonical ABI gives
 * it.  Anything else refuses the spawn with an error naming the import and
 * the missing handler.
 *
 * A handler that takes settings also says how a child's settings are
 * checked against its parent's (rt_iface.subset, used by attenuate.c); a
 * new handler with settings and no such rule fails the runtime's start.
 */
#include <stdio.h>
#include <string.h>

#include "runtime/manifest.h"
#include "runtime/rt_int.h"

static const rt_iface *const ifaces[] = {
    &rt_iface_runtime, &rt_iface_message_server, &rt_iface_supervisor, &rt_iface_store,
    &rt_iface_timing,  &rt_iface_random,         &rt_iface_environment, &rt_iface_filesystem,
};
#define NIFACES (sizeof ifaces / sizeof ifaces[0])

static const char *const handler_names[RT_H_COUNT] = {
    "runtime", "message-server", "supervisor", "store",
    "timing",  "random",         "environment", "filesystem",
};

int rt_handler_type(const char *name)
{
    int i;

    for (i = 0; i < RT_H_COUNT; i++)
        if (strcmp(name, handler_names[i]) == 0)
            return i;
    return -1;
}

const char *rt_handler_name(int type)
{
    return type >= 0 && type < RT_H_COUNT ? handler_names[type] : "?";
}

const rt_iface *rt_capability_iface(int type)
{
    for (size_t i = 0; i < NIFACES; i++)
        if (ifaces[i]->handler == type)
            return ifaces[i];
    return NULL;
}

/* Every host function runs behind this gate: a host call is an effect,
 * and an effect that cannot be recorded must not happen.  While the chain
 * writer cannot store events the caller waits (bounded, record.c); then
 * the call traps without doing anything and the actor stops, saying why. */
static int gated_call(th_wasm_call *call, void *ctx, const th_wasm_val *args,
                      th_wasm_val *results)
{
    const rt_hostfn *f = ctx;
    rt_actor *a = rt_actor_of_call(call);
    const void *impl = NULL;
    th_error err;
    size_t i;

    th_error_clear(&err);
    if (a != NULL && rt_record_ready(a, &err) != 0)
        return th_wasm_call_trap(call, "host call %s not made: %s", f->name, err.msg);
    /* the handler's own context: its interface's impl table */
    for (i = 0; i < NIFACES; i++)
        if (f >= ifaces[i]->fns && f < ifaces[i]->fns + ifaces[i]->nfns)
            impl = ifaces[i]->impl;
    return f->fn(call, (void *)impl, args, results);
}

int rt_capability_register_all(th_wasm_imports *imp, th_error *err)
{
    size_t i, j;
    int rc;

    for (i = 0; i < NIFACES; i++) {
        /* a handler with settings must say how a child's are attenuated */
        if (rt_manifest_handler_has_settings(ifaces[i]->handler) && ifaces[i]->subset == NULL)
            return th_error_set(err, TH_ENOSYS, "handler \"%s\" has settings but no attenuation rule",
                                handler_names[ifaces[i]->handler]);
        for (j = 0; j < ifaces[i]->nfns; j++) {
            const rt_hostfn *f = &ifaces[i]->fns[j];
            rc = th_wasm_imports_add_func(imp, ifaces[i]->module, f->name, f->sig, gated_call,
                                          (void *)f);
            if (rc != 0)
                return th_error_set(err, rc, "cannot register %s.%s", ifaces[i]->module, f->name);
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

int rt_capability_check(const th_wasm_module *m, uint32_t handlers, th_error *err)
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
        for (k = 0; k < NIFACES; k++)
            if (strlen(ifaces[k]->module) == d.module_len && memcmp(ifaces[k]->module, d.module, d.module_len) == 0)
                iface = ifaces[k];
        if (iface == NULL)
            return th_error_set(err, TH_EPERM,
                                "import \"%.*s\" \"%.*s\" is not offered by any handler",
                                (int)d.module_len, d.module, (int)d.name_len, d.name);
        for (j = 0; j < iface->nfns; j++)
            if (strlen(iface->fns[j].name) == d.name_len && memcmp(iface->fns[j].name, d.name, d.name_len) == 0)
                f = &iface->fns[j];
        if (f == NULL || d.kind != TH_WASM_EXTERN_FUNC)
            return th_error_set(err, TH_ELINK, "import \"%s\" \"%.*s\": %s has no such function",
                                iface->module, (int)d.name_len, d.name, iface->module);
        if (!(handlers & (1u << iface->handler)))
            return th_error_set(err, TH_EPERM,
                                "import \"%s\" \"%s\" needs the \"%s\" handler, which the manifest "
                                "does not list",
                                iface->module, f->name, handler_names[iface->handler]);
        sig_of(&d.functype, sig, sizeof sig);
        if (strcmp(sig, f->sig) != 0)
            return th_error_set(err, TH_ELINK, "import \"%s\" \"%s\" has type %s, expected %s",
                                iface->module, f->name, sig, f->sig);
    }
    return 0;
}
