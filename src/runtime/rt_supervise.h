/*
 * rt_supervise.h - supervision (supervise.c): parent notifications, the stop
 * cascade, restarts and strategies.  Private to src/runtime/ (rt_int.h).
 */
#ifndef THEATER_RT_SUPERVISE_H
#define THEATER_RT_SUPERVISE_H

#include <stdbool.h>

#include "theater/error.h"
#include "runtime/rt_host.h"

/* Inside the child's turn: the child failed (status already FAILED);
 * `backtrace` (may be NULL): where, kept in a root actor's end
 * (th_actor_exit.backtrace). */
void rt_sup_child_failed(rt_actor *child, int wit_type, const char *text, const char *backtrace);
/* Inside the turn of `a`: begin stopping (children first). */
void rt_sup_begin_stop(rt_actor *a, rt_msg *stop);
/* Inside the turn: a child finished stopping. */
void rt_sup_child_gone(rt_actor *a, rt_msg *m);
/* Inside the parent's turn, before calling its supervisor export: apply
 * the declared strategy for a child event.  Returns false if the parent
 * itself failed (intensity exceeded). */
bool rt_sup_apply_strategy(rt_actor *parent, rt_msg *m);
/* Ask `child` (a child of `parent`) to restart.  0 or TH_ENOENT. */
int rt_sup_restart(rt_actor *parent, rt_actor *child, th_error *err);
/* Inside the turn: carry out RT_MSG_RESTART. */
void rt_sup_do_restart(rt_actor *a);
/* Finish the end of `a` (after children are gone): record, unregister,
 * notify parent and waiters, free the instance. */
void rt_sup_finish(rt_actor *a);
/* Remove `child` from the children of `parent` (locks `parent`). */
void rt_sup_unlink(rt_actor *parent, rt_actor *child);

#endif
