/*
 * handlers_int.h - what the handler files share: each one's interface table,
 * gathered into the built-in set by runtime.c (th_handlers_builtin).
 */
#ifndef THEATER_HANDLERS_INT_H
#define THEATER_HANDLERS_INT_H

#include "runtime/rt_host.h"

extern const rt_iface rt_iface_runtime, rt_iface_message_server, rt_iface_supervisor,
    rt_iface_store, rt_iface_timing, rt_iface_random, rt_iface_environment, rt_iface_filesystem,
    rt_iface_http_client, rt_iface_http_framework, rt_iface_process;

/* What each outside-world handler ends when an actor's instance ends
 * (th_handler_set.actor_ended): its transfers, its processes. */
void rt_http_client_ended(rt_actor *a);
void rt_process_ended(rt_actor *a);
/* Frees the process table of an actor (rt_hstate.procs). */
void rt_process_free_state(rt_actor *a);
/* http-framework: the actor ended, failed or restarts: close its servers
 * and drop its object (http_framework.c; NULL ok). */
struct hf_actor;
void hf_actor_end(struct hf_actor *a);

#endif
