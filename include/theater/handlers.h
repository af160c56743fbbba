/*
 * handlers.h - the host capabilities offered to actors (src/handlers/): the
 * theater:simple interfaces of ABI.md that a manifest grants with its
 * [[handler]] entries.  A runtime is given the set it may grant
 * (th_runtime_config.handlers); it links no handler itself.
 */
#ifndef THEATER_HANDLERS_H
#define THEATER_HANDLERS_H

#include "theater/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every built-in handler: runtime, message-server, supervisor, store,
 * timing, random, environment, filesystem.  A static table: never freed. */
const th_handler_set *th_handlers_builtin(void);

#ifdef __cplusplus
}
#endif

#endif
