/*
 * compat_int.h - what the parts of the compatibility listener share:
 * compat.c (clients and commands) and compat_info.c (the answers that
 * describe an actor: its manifest and metrics in the original's shapes).
 */
#ifndef THEATER_SERVER_COMPAT_INT_H
#define THEATER_SERVER_COMPAT_INT_H

#include "server/compat_codec.h"
#include "theater/runtime.h"

/* {"ActorManifest":{"id":..,"manifest":ManifestConfig}} or an Error. */
void srv_compat_manifest(th_runtime *rt, const char *id, srv_jbuf *out);
/* {"ActorMetrics":{"id":..,"metrics":ActorMetrics}} or an Error. */
void srv_compat_metrics(th_runtime *rt, const char *id, srv_jbuf *out);

#endif
