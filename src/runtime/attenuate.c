/*
 * attenuate.c - what an actor starts can never hold more than the actor
 * holds (docs/security.md).
 *
 * Only the operator (the embedding API, the CLI) grants from scratch: a
 * root actor gets what its manifest lists.  When an actor spawns (or
 * resumes) a child, the child's manifest is checked against the parent's
 * spec before anything runs:
 *   - every handler the child lists, the parent holds;
 *   - each handler's settings are within the parent's: the handler's own
 *     rule (rt_iface.settings_subset);
 *   - each limit is at most the parent's in force; a limit the child's
 *     manifest leaves unset is the parent's (inherited), not the default;
 *   - a parent whose chain is saved cannot start an unrecorded child.
 * The first excess refuses the spawn with TH_EPERM and a message that names
 * it.  A restart reuses the spec and the limits checked at spawn.
 *
 * Files a spawn by an actor reads (the manifest file, the component, an
 * init_state file) are read only through the parent's grant of the handler
 * that grants files (rt_iface.grant_file; rt_grant_file).
 *
 * Counts that grow with a subtree (descendants, store bytes) are charged to
 * every ancestor, so a root's limit bounds everything below it whatever the
 * children declare.
 */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/manifest.h"
#include "runtime/rt_int.h"

bool rt_path_inside(const char *root, const char *real)
{
    size_t n = strlen(root);

    if (n == 1 && root[0] == '/')
        return real[0] == '/';
    return strncmp(root, real, n) == 0 && (real[n] == 0 || real[n] == '/');
}

int rt_path_where(const char *path, char *out, bool *exists)
{
    char buf[PATH_MAX], probe[PATH_MAX];
    size_t n = strlen(path), cut;
    const char *rest, *p;

    *exists = false;
    if (path[0] != '/' || n >= sizeof buf)
        return TH_EINVAL;
    if (realpath(path, out) != NULL) {
        *exists = true;
        return 0;
    }
    /* the nearest ancestor that resolves ("/" always does) */
    memcpy(buf, path, n + 1);
    for (cut = n; cut > 0;) {
        while (cut > 0 && buf[cut - 1] == '/') /* the slashes before the name */
            cut--;
        while (cut > 0 && buf[cut - 1] != '/') /* the name */
            cut--;
        buf[cut] = 0;
        if (realpath(cut > 0 ? buf : "/", out) != NULL)
            break;
    }
    rest = path + cut;
    for (p = rest; *p;) {
        size_t len;
        while (*p == '/')
            p++;
        len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return TH_EPERM;
        p += len;
    }
    /* the first name below the ancestor must not exist at all: one that
     * exists but does not resolve could lead anywhere */
    while (*rest == '/')
        rest++;
    if ((size_t)snprintf(probe, sizeof probe, "%s/%.*s", out, (int)strcspn(rest, "/"), rest) >=
        sizeof probe)
        return TH_EINVAL;
    {
        struct stat st;
        if (lstat(probe, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
            return TH_EPERM;
    }
    if ((size_t)snprintf(probe, sizeof probe, "%s%s%s", out, strcmp(out, "/") == 0 ? "" : "/",
                         rest) >= sizeof probe)
        return TH_EINVAL;
    memcpy(out, probe, strlen(probe) + 1);
    return 0;
}

int rt_grant_file(const th_handler_set *hs, const rt_spec *grant, const char *path,
                  const char *what, char **real, th_error *err)
{
    const rt_iface *f = NULL;
    const void *settings = NULL;

    *real = NULL;
    for (size_t i = 0; i < hs->count && f == NULL; i++)
        if (hs->ifaces[i]->grant_file != NULL)
            f = hs->ifaces[i];
    if (f != NULL && (grant->handlers & (1u << f->handler)))
        settings = rt_spec_settings(grant, f->handler);
    if (settings == NULL)
        return th_error_set(err, TH_EPERM,
                            "%s '%s': an actor reads files only through its %s grant, and "
                            "this actor has none",
                            what, path, f != NULL ? f->name : "file");
    return f->grant_file(settings, path, what, real, err);
}

/* A limit where 0 means "none": as a number to compare. */
static uint64_t unbounded(uint64_t v, uint64_t none)
{
    return v == 0 ? none : v;
}

/* One limit: the child's value in force into *out.  Unset: the parent's.
 * Set: at most the parent's.  For the limits where 0 means "no limit"
 * (fuel_per_call, memory_bytes, call_timeout_ms) or "the engine's default"
 * (stack_bytes) 0 compares as `none` and is named `zero` in a refusal; for
 * the others (`none` 0) 0 is zero: a child of max_children = 0 never spawns,
 * and a parent of store_bytes = 0 cannot start a child that may store. */
static int limit(const char *name, bool set, uint64_t child, uint64_t parent, uint64_t none,
                 const char *zero, uint64_t *out, th_error *err)
{
    if (!set) {
        *out = parent;
        return 0;
    }
    if (unbounded(child, none) > unbounded(parent, none)) {
        if (child == 0)
            return th_error_set(err, TH_EPERM, "limits.%s = 0 (%s) exceeds the parent's %llu", name,
                                zero, (unsigned long long)unbounded(parent, none));
        return th_error_set(err, TH_EPERM, "limits.%s = %llu exceeds the parent's %llu", name,
                            (unsigned long long)child, (unsigned long long)unbounded(parent, none));
    }
    *out = child;
    return 0;
}

static int limits(const rt_limits *p, const rt_spec *c, rt_limits *lim, th_error *err)
{
    const rt_limits *w = &c->limits;
    uint32_t set = c->limits_set;
    uint64_t v[9];
    char dflt[64];
    int rc;

    snprintf(dflt, sizeof dflt, "the engine's default, %u", (unsigned)TH_WASM_DEFAULT_STACK_BYTES);
    if ((rc = limit("fuel_per_call", set & RT_MANIFEST_LIMIT_FUEL, w->fuel_per_call,
                    p->fuel_per_call, UINT64_MAX, "no limit", &v[0], err)) != 0 ||
        (rc = limit("memory_bytes", set & RT_MANIFEST_LIMIT_MEMORY, w->memory_bytes,
                    p->memory_bytes, TH_MANIFEST_MAX_MEMORY_BYTES, "no limit", &v[1], err)) != 0 ||
        (rc = limit("call_timeout_ms", set & RT_MANIFEST_LIMIT_TIMEOUT, w->call_timeout_ms,
                    p->call_timeout_ms, UINT64_MAX, "no limit", &v[2], err)) != 0 ||
        (rc = limit("max_children", set & RT_MANIFEST_LIMIT_CHILDREN, w->max_children,
                    p->max_children, 0, NULL, &v[3], err)) != 0 ||
        (rc = limit("max_descendants", set & RT_MANIFEST_LIMIT_DESCENDANTS, w->max_descendants,
                    p->max_descendants, 0, NULL, &v[4], err)) != 0 ||
        (rc = limit("mailbox_messages", set & RT_MANIFEST_LIMIT_MAILBOX_MESSAGES,
                    w->mailbox_messages, p->mailbox_messages, 0, NULL, &v[5], err)) != 0 ||
        (rc = limit("mailbox_bytes", set & RT_MANIFEST_LIMIT_MAILBOX_BYTES, w->mailbox_bytes,
                    p->mailbox_bytes, 0, NULL, &v[6], err)) != 0 ||
        (rc = limit("store_bytes", set & RT_MANIFEST_LIMIT_STORE_BYTES, w->store_bytes,
                    p->store_bytes, 0, NULL, &v[7], err)) != 0 ||
        (rc = limit("stack_bytes", set & RT_MANIFEST_LIMIT_STACK_BYTES, w->stack_bytes,
                    p->stack_bytes, TH_WASM_DEFAULT_STACK_BYTES, dflt, &v[8], err)) != 0)
        return rc;
    lim->fuel_per_call = v[0];
    lim->memory_bytes = v[1];
    lim->call_timeout_ms = (uint32_t)v[2];
    lim->max_children = (uint32_t)v[3];
    lim->max_descendants = (uint32_t)v[4];
    lim->mailbox_messages = (uint32_t)v[5];
    lim->mailbox_bytes = v[6];
    lim->store_bytes = v[7];
    lim->stack_bytes = v[8];
    return 0;
}

int rt_attenuate(const rt_actor *parent, const rt_spec *child, rt_limits *lim, th_error *err)
{
    const rt_spec *p;
    uint32_t extra;
    int t, rc;

    if (parent == NULL) {
        *lim = child->limits;
        return 0;
    }
    p = parent->spec;
    extra = child->handlers & ~p->handlers;
    for (t = 0; t < RT_HANDLERS_MAX; t++)
        if (extra & (1u << t))
            return th_error_set(err, TH_EPERM,
                                "the child's manifest lists the \"%s\" handler, which the "
                                "parent does not hold",
                                rt_handler_name(parent->rt, t));
    for (t = 0; t < RT_HANDLERS_MAX; t++) {
        const rt_iface *f = rt_capability_iface(parent->rt, t);
        if ((child->handlers & (1u << t)) && f != NULL && f->settings_subset != NULL &&
            (rc = f->settings_subset(rt_spec_settings(p, t), rt_spec_settings(child, t), err)) != 0)
            return th_error_prefix(err, "handler \"%s\"", f->name);
    }
    if (p->save_chain && !child->save_chain)
        return th_error_set(err, TH_EPERM,
                            "save_chain = false, but the parent's chain is saved (an "
                            "actor cannot start an unrecorded child)");
    return limits(&parent->lim, child, lim, err);
}

int rt_quota_store(rt_actor *a, uint64_t n, char *why, size_t cap)
{
    rt_actor *p, *q;
    uint64_t was;

    for (p = a; p != NULL; p = p->parent) {
        was = atomic_fetch_add(&p->store_used, n);
        if (was + n > p->lim.store_bytes) {
            atomic_fetch_sub(&p->store_used, n);
            for (q = a; q != p; q = q->parent)
                atomic_fetch_sub(&q->store_used, n);
            if (p == a)
                snprintf(why, cap,
                         "store limit reached: this actor may add %llu bytes to the store "
                         "(limits.store_bytes), %llu used",
                         (unsigned long long)p->lim.store_bytes, (unsigned long long)was);
            else
                snprintf(why, cap,
                         "store limit reached: ancestor %s may add %llu bytes to the store "
                         "for itself and its descendants, %llu used",
                         p->id, (unsigned long long)p->lim.store_bytes, (unsigned long long)was);
            return TH_ETOOBIG;
        }
    }
    return 0;
}

void rt_quota_store_refund(rt_actor *a, uint64_t n)
{
    for (rt_actor *p = a; p != NULL; p = p->parent)
        atomic_fetch_sub(&p->store_used, n);
}
