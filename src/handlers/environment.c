/*
 * environment.c - the `environment` interface: the process environment
 * seen through the manifest's allow-list (`allowed_vars`); a variable not
 * on the list does not exist for the actor.  A child's list is within its
 * parent's (subset).
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

#define IFACE "environment"

static bool allowed(rt_actor *a, const char *name)
{
    char **v = a->spec->env_allow;

    for (; v != NULL && *v != NULL; v++)
        if (strcmp(*v, name) == 0)
            return true;
    return false;
}

/* The value if allowed and set, else NULL. */
static const char *lookup(rt_actor *a, const char *name)
{
    return allowed(a, name) ? getenv(name) : NULL;
}

static int h_get(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *name = NULL, *in, *out;
    const char *val;
    uint32_t retptr = (uint32_t)args[2].i32;
    int rc;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    if (rt_host_str(&h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &name) != 0)
        return rt_host_trap(&h);
    val = lookup(h.a, name);
    in = rt_json_obj1("name", name, strlen(name), false);
    free(name);
    /* option<string>: disc @0, ptr @4, len @8 */
    rc = rt_abi_store_u8(&h.g, retptr, val != NULL);
    if (rc == 0 && val != NULL)
        rc = rt_abi_store_list(&h.g, retptr + 4, val, strlen(val));
    if (rc != 0) {
        free(in);
        return rt_host_trap(&h);
    }
    out = rt_json_obj1("value", val, val ? strlen(val) : 0, false);
    rt_host_done(&h, IFACE, "get-var", in, out);
    free(out);
    return TH_OK;
}

static int h_list(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    uint32_t retptr = (uint32_t)args[0].i32, arr = 0, n = 0, i = 0;
    char **v;
    const char *val;
    rt_buf out = {0};
    int rc = 0;

    (void)ctx, (void)results;
    rt_host_begin(&h, call);
    for (v = h.a->spec->env_allow; v != NULL && *v != NULL; v++)
        if (getenv(*v) != NULL)
            n++;
    /* list<tuple<string, string>>: 16-byte elements */
    rc = rt_abi_alloc(&h.g, 4, n * 16, &arr);
    rt_buf_puts(&out, "[");
    for (v = h.a->spec->env_allow; rc == 0 && v != NULL && *v != NULL; v++) {
        if ((val = getenv(*v)) == NULL || i >= n)
            continue;
        rc = rt_abi_store_list(&h.g, arr + i * 16, *v, strlen(*v));
        if (rc == 0)
            rc = rt_abi_store_list(&h.g, arr + i * 16 + 8, val, strlen(val));
        if (i++)
            rt_buf_puts(&out, ",");
        rt_buf_puts(&out, "[");
        rt_buf_json_str(&out, *v, strlen(*v));
        rt_buf_puts(&out, ",");
        rt_buf_json_str(&out, val, strlen(val));
        rt_buf_puts(&out, "]");
    }
    rt_buf_puts(&out, "]");
    if (rc == 0)
        rc = rt_abi_store_u32(&h.g, retptr, arr);
    if (rc == 0)
        rc = rt_abi_store_u32(&h.g, retptr + 4, i);
    if (rc != 0) {
        rt_buf_release(&out);
        return rt_host_trap(&h);
    }
    rt_host_done(&h, IFACE, "list-vars", NULL, out.oom ? NULL : (char *)out.data);
    rt_buf_release(&out);
    return TH_OK;
}

static int h_exists(th_wasm_call *call, void *ctx, const th_wasm_val *args, th_wasm_val *results)
{
    rt_host h;
    char *name = NULL, *in;
    bool yes;

    (void)ctx;
    rt_host_begin(&h, call);
    if (rt_host_str(&h, (uint32_t)args[0].i32, (uint32_t)args[1].i32, &name) != 0)
        return rt_host_trap(&h);
    yes = lookup(h.a, name) != NULL;
    in = rt_json_obj1("name", name, strlen(name), false);
    free(name);
    results[0].i32 = yes;
    return rt_host_done(&h, IFACE, "exists", in, yes ? "true" : "false");
}

/* Attenuation: every variable the child may read, the parent may read. */
static int subset(const rt_spec *parent, const rt_spec *child, th_error *err)
{
    for (char **v = child->env_allow; v != NULL && *v != NULL; v++) {
        char **p = parent->env_allow;
        while (p != NULL && *p != NULL && strcmp(*p, *v) != 0)
            p++;
        if (p == NULL || *p == NULL)
            return th_error_set(err, TH_EPERM, "allowed_vars lists \"%s\", which the parent may not read",
                                *v);
    }
    return 0;
}

static const rt_hostfn fns[] = {
    {"get-var", "iii>", h_get},
    {"list-vars", "i>", h_list},
    {"exists", "ii>i", h_exists},
};

const rt_iface rt_iface_environment = {"theater:simple/environment", RT_H_ENVIRONMENT, fns,
                                       sizeof fns / sizeof fns[0], NULL, subset};
