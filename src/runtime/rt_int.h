/*
 * rt_int.h - the actor runtime's internals, shared by the files of
 * src/runtime/ only: this header gathers the part headers below.  What the
 * handlers may use is rt_host.h (included by each); the rest is the
 * runtime's own, one header a part:
 *
 *   rt_queue.h     mailboxes (MPSC queues), messages, replies, rt_sync
 *   rt_sched.h     worker threads and run queues, call-timeout wheel,
 *                  the I/O thread
 *   rt_registry.h  actor ids -> actors
 *   rt_spec.h      specs from manifests, capabilities, attenuation
 *   rt_actor.h     the actor structure and its lock, operations and
 *                  turns, hot upgrade
 *   rt_supervise.h supervision
 *   rt_record.h    chain records, durable actors' records, replay
 *   rt_runtime.h   the runtime object: caches, components, channels
 *
 * Who does what:
 *   runtime.c     the public API (include/theater/runtime.h), runtime object
 *   registry.c    actor ids (UUID v4) and the id -> actor map
 *   mailbox.c     the MPSC queues (Vyukov); message.c message objects,
 *                 reply targets and rt_sync
 *   manage.c      management beyond running actors (snapshots, outside
 *                 channel ends); history.c an actor's chain as events
 *   util.c        byte buffers with JSON writers, UTF-8, clocks, ids
 *   sched.c       worker threads, run queues, the exec cache
 *   actor.c       actors as objects: creation, delivery, failure, queries
 *   turn.c        turns and operations: one operation at a time, export
 *                 calls with state threading, fuel slices, suspension
 *   abi.c         Canonical ABI: guest memory access, lowering, lifting
 *   supervise.c   parent notifications, stop cascade, restart, strategies
 *   send.c        messages between actors as message-server asks for them
 *   children.c    an actor's children as the supervisor interface asks
 *   attenuate.c   what a child may hold: handlers, grants, limits, quotas
 *   durable.c     durable actors' records; restore.c brings them back
 *   replay.c      replaying a chain; upgrade.c hot upgrade; component.c
 *                 components in the content store
 *   manifest.c, spec.c  manifests and the specs built from them
 *   io.c          the libuv I/O thread: timers for sleep/deadline, and the
 *                 handlers' work on its loop (rt_io_post, slots)
 *   timer.c       call timeouts in a timer wheel run by the workers
 *   record.c      chain events (JSON data) and subscriptions
 *   capability.c  the handler table and the spawn-time import check
 *   src/handlers/<interface>.c  the host functions of each capability,
 *                 which see the runtime through rt_host.h only
 *
 * Concurrency model.  An actor is run by at most one thread at a time: the
 * thread that won the IDLE -> QUEUED transition of `sched` owns the actor's
 * turn (its op, exec, instance, handler state) until it sets IDLE again.
 * Other threads only push messages (lock-free MPSC queues) and read the
 * fields guarded by `lock` (status, state, children, exit information).
 *
 * Suspension.  A host function that must wait (request, sleep, spawn...)
 * calls rt_op_wait(), which records a continuation on the actor's op and
 * returns TH_WASM_SUSPENDED; the engine keeps the wasm stack on the op's
 * exec and the worker moves on.  The completion arrives as an RT_MSG_WAKE
 * control message carrying the wait token; the next turn writes the result
 * into guest memory and resumes the exec.
 *
 * Inbound events.  What comes from outside the actors (a child's output,
 * an HTTP request) is an export call queued in the actor's mailbox by
 * rt_inbound_deliver (actor.c) and run in its turn like a message; the
 * handler learns the outcome through its rt_inbound_ops.done.
 */
#ifndef THEATER_RT_INT_H
#define THEATER_RT_INT_H

#include "runtime/rt_host.h"
#include "runtime/rt_queue.h"
#include "runtime/rt_sched.h"
#include "runtime/rt_registry.h"
#include "runtime/rt_spec.h"
#include "runtime/rt_actor.h"
#include "runtime/rt_supervise.h"
#include "runtime/rt_record.h"
#include "runtime/rt_runtime.h"

#endif
