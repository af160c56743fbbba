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

#endif /* THEATER_SDK_INT_H */
