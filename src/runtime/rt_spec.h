/*
 * rt_spec.h - what an actor is made from and what it may hold: specs built
 * from manifests (spec.c), the handler table and the spawn-time import
 * check (capability.c), and attenuation (attenuate.c).  Private to
 * src/runtime/ (rt_int.h).
 */
#ifndef THEATER_RT_SPEC_H
#define THEATER_RT_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "theater/error.h"
#include "theater/wasm.h"
#include "runtime/rt_host.h"

/* ------------------------------------------------------------------ */
/* Specs (spec.c) and capabilities (capability.c)                     */

/* Build a spec from a manifest file or text (text != NULL).  Loads the
 * module (through the runtime's module cache) and checks capabilities.
 * `grant` is NULL for the operator (embedding API, CLI); for a spawn by an
 * actor it is that actor's spec, and every file the spawn reads (the
 * manifest file, the component, an init_state file) must lie inside its
 * grant (rt_grant_file), else TH_EPERM. */
int rt_spec_load(rt_runtime *rt, const char *path, const char *text, const char *base_dir,
                 const rt_spec *grant, rt_spec **out, th_error *err);
/* The first half of rt_spec_load: read and check the manifest (with the
 * grant's rules for a spawn by an actor), nothing loaded.  *out is the
 * caller's (rt_manifest_free). */
int rt_spec_manifest(const th_handler_set *hs, const char *path, const char *text,
                     const char *base_dir, const rt_spec *grant, struct rt_manifest **out /* out */,
                     th_error *err);
/* A spec from a checked manifest (taken over, freed on failure too),
 * without its module or initial state. */
int rt_spec_from_manifest(struct rt_manifest *man, bool from_text, rt_spec **out /* out */,
                          th_error *err);
/* A spec from manifest text whose code is the component recorded under
 * `hash` (SHA-256 hex, from the content store: rt_component_module), not
 * the file the manifest names; no initial state is resolved (the caller
 * has it).  For actors brought back from their records (restore.c). */
int rt_spec_load_recorded(rt_runtime *rt, const char *text, const char *base_dir, const char *hash,
                          rt_spec **out, th_error *err);
void rt_spec_release(rt_spec *s);
/* Check that a module's theater exports (and memory, cabi_realloc) have
 * their ABI signatures: 0 or TH_ELINK naming the first that does not. */
int rt_spec_check_exports(const th_wasm_module *m, th_error *err);
/* Free the spec cache (runtime teardown). */
void rt_spec_cache_free(rt_runtime *rt);

/* capability.c: check every import of `m` against the handler bit set;
 * the message names the import and the missing handler. */
int rt_capability_check(const rt_runtime *rt, const th_wasm_module *m, uint32_t handlers,
                        th_error *err);
/* Register every host function of the runtime's handlers into its imports
 * (rt->imports); what the bindings need is kept in rt->bound. */
int rt_capability_register_all(rt_runtime *rt, th_error *err);
/* The interface table of handler number `type`, or NULL if the runtime
 * offers no such handler. */
const rt_iface *rt_capability_iface(const rt_runtime *rt, int type);
/* Name of handler number `type` in the runtime's set ("?" if none). */
const char *rt_handler_name(const rt_runtime *rt, int type);

/* ------------------------------------------------------------------ */
/* Attenuation (attenuate.c): what an actor starts holds no more than it */

/* Check a child's spec against its parent's (handlers, each handler's
 * settings, limits, save_chain) and compute the child's limits in force
 * into *lim.  `parent` NULL (the operator): the spec's own limits.  0, or
 * TH_EPERM naming the first excess. */
int rt_attenuate(const rt_actor *parent, const rt_spec *child, rt_limits *lim /* out */,
                 th_error *err);
/* A file that a spawn by an actor reads: `path` (absolute) must be granted
 * to `grant` by the handler of `hs` that grants files (rt_iface.grant_file)
 * and that `grant` holds.  0 with the real path in *real (malloc'd, caller
 * frees), or TH_EPERM / TH_ENOENT naming `what` and the file. */
int rt_grant_file(const th_handler_set *hs, const rt_spec *grant, const char *path,
                  const char *what, char **real /* out */, th_error *err);

#endif
