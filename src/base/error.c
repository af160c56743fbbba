/*
 * error.c - th_error helpers and code names (see theater/error.h).
 */
#include <stdio.h>
#include <string.h>

#include "theater/error.h"

const char *th_strerror(int code)
{
    switch (code) {
    case TH_OK: return "ok";
    case TH_ENOMEM: return "out of memory";
    case TH_EINVAL: return "invalid argument";
    case TH_ENOENT: return "not found";
    case TH_EEXIST: return "already exists";
    case TH_EIO: return "I/O error";
    case TH_ETOOBIG: return "too big";
    case TH_ECORRUPT: return "corrupt data";
    case TH_EVERSION: return "unsupported version";
    case TH_ETIMEDOUT: return "timed out";
    case TH_EBUSY: return "busy";
    case TH_EPERM: return "not permitted";
    case TH_ENOSYS: return "not supported";
    case TH_ETRAP: return "trap";
    case TH_ELINK: return "link error";
    case TH_ESTATE: return "invalid state";
    case TH_ECLOSED: return "closed";
    default: return "unknown error";
    }
}

int th_error_setv(th_error *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    if (fmt == NULL)
        snprintf(err->msg, sizeof err->msg, "%s", th_strerror(code));
    else
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int th_error_set(th_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    th_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int th_error_prefix(th_error *err, const char *fmt, ...)
{
    char prefix[TH_ERROR_MSG_MAX], old[TH_ERROR_MSG_MAX];
    size_t plen, olen, room;
    va_list ap;

    if (err == NULL)
        return TH_OK;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* "prefix: old", each part cut to fit, always NUL-terminated */
    plen = strlen(prefix);
    if (plen > sizeof err->msg - 3)
        plen = sizeof err->msg - 3;
    room = sizeof err->msg - plen - 3;
    olen = strlen(old);
    if (olen > room)
        olen = room;
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    memcpy(err->msg + plen + 2, old, olen);
    err->msg[plen + 2 + olen] = '\0';
    return err->code;
}

void th_error_clear(th_error *err)
{
    if (err == NULL)
        return;
    err->code = TH_OK;
    err->msg[0] = '\0';
}
