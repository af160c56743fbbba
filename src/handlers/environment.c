/*
 * environment.c - the `environment` interface: the process environment
 * seen through the manifest's allow-list (`allowed_vars`); a variable not
 * on the list does not exist for the actor; a child's list is within its
 * parent's (subset).  Lifting, lowering and recording
 * are the generated glue's (wit_glue.h).
 */
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "wit_glue.h"

static bool allowed(rt_actor *a, const char *name)
{
    char **v = rt_actor_spec(a)->env_allow;

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

static int e_get_var(rt_host *h, wit_str *name, wit_opt_str *ret)
{
    const char *val = lookup(h->a, name->ptr);

    if (val == NULL)
        return 0;
    ret->some = true;
    return wit_str_set(h, &ret->val, val);
}

static int e_list_vars(rt_host *h, wit_list_tup2_str_str *ret)
{
    char **v;
    size_t n = 0;
    int rc;

    for (v = rt_actor_spec(h->a)->env_allow; v != NULL && *v != NULL; v++)
        if (getenv(*v) != NULL)
            n++;
    if ((ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (v = rt_actor_spec(h->a)->env_allow; v != NULL && *v != NULL && ret->len < n; v++) {
        const char *val = getenv(*v);
        if (val == NULL)
            continue;
        if ((rc = wit_str_set(h, &ret->ptr[ret->len].f0, *v)) != 0 ||
            (rc = wit_str_set(h, &ret->ptr[ret->len].f1, val)) != 0) {
            ret->len++; /* freed with the rest */
            return rc;
        }
        ret->len++;
    }
    return 0;
}

static int e_exists(rt_host *h, wit_str *name, bool *ret)
{
    *ret = lookup(h->a, name->ptr) != NULL;
    return 0;
}

/* Attenuation: every variable the child may read, the parent may read. */
static int subset(const rt_spec *parent, const rt_spec *child, th_error *err)
{
    for (char **v = child->env_allow; v != NULL && *v != NULL; v++) {
        char **p = parent->env_allow;
        while (p != NULL && *p != NULL && strcmp(*p, *v) != 0)
            p++;
        if (p == NULL || *p == NULL)
            return th_error_set(err, TH_EPERM,
                                "allowed_vars lists \"%s\", which the parent may not read", *v);
    }
    return 0;
}

static const wit_impl_environment impl = {
    .get_var = e_get_var,
    .list_vars = e_list_vars,
    .exists = e_exists,
};

const rt_iface rt_iface_environment = {"theater:simple/environment",
                                       RT_H_ENVIRONMENT,
                                       wit_fns_environment,
                                       WIT_NFNS_ENVIRONMENT,
                                       &impl,
                                       subset};
