/*
 * fuzz_manifest.c - the manifest harness (fuzz_manifest.h).
 *
 * An input is up to three sections separated by a line "%%":
 *
 *     NAME=VALUE lines       variables for ${NAME} (set in the process
 *     %%                     environment for this input only)
 *     parent manifest TOML   checked as the operator's (every variable)
 *     %%
 *     child manifest TOML    checked as a spawn by the parent would:
 *                            ${VAR} only from the parent's allow-list,
 *                            its files through the parent's filesystem
 *                            grant, then attenuated against the parent
 *
 * One section is a parent manifest alone; two are variables and a parent.
 * Relative paths resolve against "/" (manifests name directories such as
 * "/", "/tmp" or "etc" that exist on any host; nothing is written).
 *
 * When the child is accepted, the harness checks that it holds no more
 * than its parent: its handlers, its allow-list, its directory, every
 * limit in force, save_chain.  A violation aborts (a finding).
 * FUZZ_MANIFEST_VERBOSE=1 prints why each manifest was refused.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "handlers/handlers_int.h"
#include "runtime/manifest.h"
#include "runtime/rt_int.h"
#include "theater/handlers.h"
#include "fuzz_manifest.h"

#define MAX_VARS 16

/* The section of [*p, end) up to the next "\n%%\n" (or the end). */
static size_t section(const uint8_t **p, const uint8_t *end, const uint8_t **out, bool first)
{
    const uint8_t *s = *p, *q;

    *out = s;
    if (first && end - s >= 3 && memcmp(s, "%%\n", 3) == 0) { /* empty, at the very start */
        *p = s + 3;
        return 0;
    }
    for (q = s; q + 4 <= end; q++) {
        if (memcmp(q, "\n%%\n", 4) == 0) {
            *p = q + 4;
            return (size_t)(q - s);
        }
    }
    *p = end;
    return (size_t)(end - s);
}

static bool name_ok(const char *n)
{
    if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || *n == '_'))
        return false;
    for (; *n; n++)
        if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
              *n == '_'))
            return false;
    return true;
}

/* Set NAME=VALUE lines not already in the environment; their names go to
 * set[] for unsetting afterwards. */
static size_t set_vars(const uint8_t *s, size_t n, char **set)
{
    size_t count = 0, i = 0, j;
    char *line, *eq;

    while (i < n && count < MAX_VARS) {
        for (j = i; j < n && s[j] != '\n'; j++)
            ;
        line = strndup((const char *)s + i, j - i);
        if (line != NULL && strlen(line) == j - i && (eq = strchr(line, '=')) != NULL) {
            *eq = '\0';
            if (name_ok(line) && getenv(line) == NULL && setenv(line, eq + 1, 1) == 0) {
                set[count++] = line;
                line = NULL;
            }
        }
        free(line);
        i = j + 1;
    }
    return count;
}

/* A limit where 0 means none, as a number to compare. */
static uint64_t un(uint64_t v, uint64_t none)
{
    return v == 0 ? none : v;
}

/* The child (accepted) holds no more than the parent. */
static void check_within(const rt_spec *p, const rt_limits *pl, const rt_spec *c,
                         const rt_limits *cl)
{
    bool ok = (c->handlers & ~p->handlers) == 0;

    ok = ok && un(cl->fuel_per_call, UINT64_MAX) <= un(pl->fuel_per_call, UINT64_MAX);
    ok = ok && un(cl->memory_bytes, TH_MANIFEST_MAX_MEMORY_BYTES) <=
                   un(pl->memory_bytes, TH_MANIFEST_MAX_MEMORY_BYTES);
    ok = ok && un(cl->call_timeout_ms, UINT64_MAX) <= un(pl->call_timeout_ms, UINT64_MAX);
    ok = ok && cl->max_children <= pl->max_children && cl->max_descendants <= pl->max_descendants;
    ok = ok && cl->mailbox_messages <= pl->mailbox_messages &&
         cl->mailbox_bytes <= pl->mailbox_bytes;
    ok = ok && cl->store_bytes <= pl->store_bytes;
    ok = ok && (c->save_chain || !p->save_chain);
    if (ok && (c->handlers & (1u << HANDLER_ENVIRONMENT))) {
        const hs_environment *ce = rt_spec_settings(c, HANDLER_ENVIRONMENT),
                             *pe = rt_spec_settings(p, HANDLER_ENVIRONMENT);
        for (char **v = ce->vars; v != NULL && *v != NULL; v++) {
            char **w = pe->vars;
            while (w != NULL && *w != NULL && strcmp(*w, *v) != 0)
                w++;
            ok = ok && w != NULL && *w != NULL;
        }
    }
    if (ok && (c->handlers & (1u << HANDLER_FILESYSTEM))) {
        const hs_filesystem *cf = rt_spec_settings(c, HANDLER_FILESYSTEM),
                            *pf = rt_spec_settings(p, HANDLER_FILESYSTEM);
        ok = pf != NULL && cf != NULL && rt_path_inside(pf->root, cf->root);
    }
    if (!ok) {
        fprintf(stderr, "fuzz_manifest: a child was accepted with more than its parent holds\n");
        abort();
    }
}

/* A runtime as far as attenuation sees it: the built-in handler set. */
static rt_runtime g_rt;

int fuzz_manifest_one(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size, *sec[3];
    size_t len[3], nsec = 0, nvars = 0, i;
    char *vars[MAX_VARS], *text;
    rt_manifest *pm = NULL, *cm = NULL;
    rt_spec *ps = NULL, *cs = NULL;
    rt_actor *parent = NULL;
    rt_limits lim;
    th_error err;
    int accepted = 0;
    bool verbose = getenv("FUZZ_MANIFEST_VERBOSE") != NULL; /* why each part was refused */

    g_rt.handlers = th_handlers_builtin();
    while (nsec < 3 && (nsec == 0 || p < end)) {
        len[nsec] = section(&p, end, &sec[nsec], nsec == 0);
        nsec++;
    }
    if (nsec >= 2)
        nvars = set_vars(sec[0], len[0], vars);
    i = nsec >= 2 ? 1 : 0;
    /* the parent, as the operator gives it */
    if ((text = strndup((const char *)sec[i], len[i])) == NULL)
        goto out;
    if (strlen(text) == len[i] &&
        rt_spec_manifest(g_rt.handlers, NULL, text, "/", NULL, &pm, &err) == 0 &&
        rt_spec_from_manifest(pm, true, &ps, &err) == 0)
        accepted++;
    else if (verbose)
        fprintf(stderr, "parent: %s\n", err.msg);
    free(text);
    if (ps == NULL || nsec < 3)
        goto out;
    /* the child, as the parent would spawn it */
    if ((parent = calloc(1, sizeof *parent)) == NULL)
        goto out;
    parent->spec = ps;
    parent->lim = ps->limits;
    parent->rt = &g_rt; /* the handlers a runtime would offer (attenuation asks them) */
    if ((text = strndup((const char *)sec[2], len[2])) == NULL)
        goto out;
    if (strlen(text) == len[2] &&
        rt_spec_manifest(g_rt.handlers, NULL, text, "/", ps, &cm, &err) == 0 &&
        rt_spec_from_manifest(cm, true, &cs, &err) == 0) {
        accepted++;
        if (rt_attenuate(parent, cs, &lim, &err) == 0) {
            check_within(ps, &parent->lim, cs, &lim);
            if (verbose)
                fprintf(stderr, "child within its parent\n");
        } else if (verbose) {
            fprintf(stderr, "child refused: %s\n", err.msg);
        }
    } else if (verbose) {
        fprintf(stderr, "child: %s\n", err.msg);
    }
    free(text);
out:
    rt_spec_release(cs);
    rt_spec_release(ps);
    free(parent);
    for (i = 0; i < nvars; i++) {
        unsetenv(vars[i]);
        free(vars[i]);
    }
    return accepted;
}
