/*
 * error.h - error codes and the error value every public call can fill.
 *
 * Convention (libuv style): functions return 0 on success or a negative
 * TH_E* code.  Calls that can say more take an optional `th_error *err`
 * (may be NULL) that receives the code and a human-readable message.
 */
#ifndef THEATER_ERROR_H
#define THEATER_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TH_OK = 0,
    TH_ENOMEM = -1,    /* allocation failed */
    TH_EINVAL = -2,    /* bad argument or malformed input */
    TH_ENOENT = -3,    /* no such object (file, reference, actor, export...) */
    TH_EEXIST = -4,    /* already exists */
    TH_EIO = -5,       /* operating-system or database I/O error */
    TH_ETOOBIG = -6,   /* input above a configured limit */
    TH_ECORRUPT = -7,  /* stored data is damaged or fails verification */
    TH_EVERSION = -8,  /* unsupported format or schema version */
    TH_ETIMEDOUT = -9, /* a deadline passed */
    TH_EBUSY = -10,    /* resource in use; try again */
    TH_EPERM = -11,    /* not allowed (capability missing, path escapes) */
    TH_ENOSYS = -12,   /* not implemented / not supported */
    TH_ETRAP = -13,    /* a WebAssembly trap */
    TH_ELINK = -14,    /* import could not be resolved or has the wrong type */
    TH_ESTATE = -15,   /* operation not valid in the object's current state */
    TH_ECLOSED = -16,  /* channel, runtime or handle already closed */
};

#define TH_ERROR_MSG_MAX 512

typedef struct th_error {
    int code;                   /* last TH_E* code, TH_OK if none */
    char msg[TH_ERROR_MSG_MAX]; /* NUL-terminated message, "" if none */
} th_error;

/* Static name of a code, e.g. "invalid argument".  Never NULL. */
const char *th_strerror(int code);

/* Fill `err` (if not NULL) with `code` and a printf-style message.
 * Returns `code`, so callers can write `return th_error_set(err, ...)`. */
int th_error_set(th_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int th_error_setv(th_error *err, int code, const char *fmt, va_list ap);

/* Prepend "prefix: " to the message already in `err`; returns err->code. */
int th_error_prefix(th_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset to TH_OK / "". */
void th_error_clear(th_error *err);

#ifdef __cplusplus
}
#endif
#endif
