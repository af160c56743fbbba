/*
 * environment.c - the `environment` interface: the process environment
 * seen through the manifest's allow-list (`allowed_vars`); a variable not
 * on the list does not exist for the actor, nor does one whose value is not
 * UTF-8 (a WIT string must be; the original's env::var(..).ok() saw none
 * either); a child's list is within its parent's (subset).  Lifting,
 * lowering and recording are the generated glue's (wit_glue.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "wit_glue.h"

/* The actor's allow-list (NULL-terminated; NULL if it has none). */
static char **allow_list(rt_actor *a)
{
    const hs_environment *s = rt_spec_settings(rt_actor_spec(a), HANDLER_ENVIRONMENT);

    return s != NULL ? s->vars : NULL;
}

static bool allowed(char **v, const char *name)
{
    for (; v != NULL && *v != NULL; v++)
        if (strcmp(*v, name) == 0)
            return true;
    return false;
}

/* The value if set and UTF-8, else NULL. */
static const char *value_of(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && rt_utf8_valid((const uint8_t *)v, strlen(v)) ? v : NULL;
}

/* The value if allowed, set and UTF-8, else NULL (a name holding a NUL
 * names no variable: "HOME\0x" is not HOME). */
static const char *lookup(rt_actor *a, const wit_str *name)
{
    if (strlen(name->ptr) != name->len)
        return NULL;
    return allowed(allow_list(a), name->ptr) ? value_of(name->ptr) : NULL;
}

static int e_get_var(rt_host *h, wit_str *name, wit_opt_str *ret)
{
    const char *val = lookup(h->a, name);

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

    for (v = allow_list(h->a); v != NULL && *v != NULL; v++)
        if (value_of(*v) != NULL)
            n++;
    if ((ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr)) == NULL)
        return th_error_set(&h->err, TH_ENOMEM, "out of memory");
    for (v = allow_list(h->a); v != NULL && *v != NULL && ret->len < n; v++) {
        const char *val = value_of(*v);
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
    *ret = lookup(h->a, name) != NULL;
    return 0;
}

/* ---- settings: allowed_vars = ["NAME", ...] ---- */

static void settings_release(void *p)
{
    rt_manifest_list_free(((hs_environment *)p)->vars);
}

static int settings_read(rt_manifest_reader *r, const toml_value *h, const char *prefix, void *p)
{
    hs_environment *s = p;
    const toml_keyval *kv;
    size_t n;
    int rc;

    if ((rc = rt_manifest_field(r, h, prefix, "allowed_vars", TOML_ARRAY, &kv)) != 0)
        return rc;
    n = toml_array_len(kv != NULL ? kv->value : NULL);
    if (n > TH_MANIFEST_MAX_ALLOWED_VARS)
        return rt_manifest_fail(r, kv->line, TH_EINVAL,
                                "field '%s.allowed_vars' lists more than %u variables", prefix,
                                TH_MANIFEST_MAX_ALLOWED_VARS);
    if ((s->vars = calloc(n + 1, sizeof *s->vars)) == NULL)
        return rt_manifest_nomem(r);
    for (size_t i = 0; i < n; i++) {
        const toml_value *v = toml_array_get(kv->value, i);
        if (v->type != TOML_STRING)
            return rt_manifest_fail(r, v->line, TH_EINVAL,
                                    "field '%s.allowed_vars[%zu]' must be a string, not %s", prefix,
                                    i, rt_manifest_type_name(v->type));
        if (v->u.s.len == 0 || strlen(v->u.s.ptr) != v->u.s.len || strchr(v->u.s.ptr, '=') != NULL)
            return rt_manifest_fail(
                r, v->line, TH_EINVAL,
                "field '%s.allowed_vars[%zu]' is not a variable name (empty, or has '=' or NUL)",
                prefix, i);
        if ((s->vars[i] = strdup(v->u.s.ptr)) == NULL)
            return rt_manifest_nomem(r);
        s->len = i + 1;
    }
    return 0;
}

/* Attenuation: every variable the child may read, the parent may read. */
static int settings_subset(const void *parent, const void *child, th_error *err)
{
    const hs_environment *p = parent, *c = child;

    for (char **v = c != NULL ? c->vars : NULL; v != NULL && *v != NULL; v++)
        if (p == NULL || !allowed(p->vars, *v))
            return th_error_set(err, TH_EPERM,
                                "allowed_vars lists \"%s\", which the parent may not read", *v);
    return 0;
}

/* ${VAR} in a manifest the actor gives: only the variables it may read. */
static const char *grant_getenv(const void *settings, const char *name)
{
    const hs_environment *s = settings;

    return s != NULL && allowed(s->vars, name) ? getenv(name) : NULL;
}

static const char *const fields[] = {"allowed_vars", NULL};

static const wit_impl_environment impl = {
    .get_var = e_get_var,
    .list_vars = e_list_vars,
    .exists = e_exists,
};

const rt_iface rt_iface_environment = {
    .name = "environment",
    .module = "theater:simple/environment",
    .handler = HANDLER_ENVIRONMENT,
    .fns = wit_fns_environment,
    .nfns = WIT_NFNS_ENVIRONMENT,
    .impl = &impl,
    .fields = fields,
    .settings_size = sizeof(hs_environment),
    .settings_read = settings_read,
    .settings_release = settings_release,
    .settings_subset = settings_subset,
    .grant_getenv = grant_getenv,
};
