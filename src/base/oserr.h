/*
 * oserr.h - the TH_E* code for a failed system or C library call: running
 * out of memory (ENOMEM, e.g. stdio failing to allocate its buffer) is
 * TH_ENOMEM, anything else an I/O error.
 */
#ifndef THEATER_BASE_OSERR_H
#define THEATER_BASE_OSERR_H

#include <errno.h>

#include "theater/error.h"

static inline int base_errno_code(int e)
{
    return e == ENOMEM ? TH_ENOMEM : TH_EIO;
}

#endif
