/*
 * theater_int.h - internals shared by the C guest SDK's source files
 * (theater.c, theater_text.c, theater_imports.c). Not for actor authors.
 */
#ifndef THEATER_SDK_INT_H
#define THEATER_SDK_INT_H

#include "theater.h"

/* strlen that accepts NULL (0). */
size_t ta__c_len(const char *s);
/* Formats into call-scoped memory (traps when out of memory). */
ta_str ta__vformat_scoped(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Lowers a WebSocket message into the generated type (theater_wit.h), for
 * the replies of handle-websocket-message and for send-websocket-message;
 * its strings and lists are borrowed from m. */
struct thw_websocket_types_websocket_message;
void ta__ws_low(const ta_ws_message *m, struct thw_websocket_types_websocket_message *out);

#endif /* THEATER_SDK_INT_H */
