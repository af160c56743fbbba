/*
 * file.h - reading files a user (or a manifest) names: the one way the
 * project opens such a file.
 *
 * A named path may be anything: a FIFO (open() would wait for a writer
 * forever), a device that never ends (/dev/zero), a directory, or a file
 * far larger than what the caller accepts.  These helpers open with
 * O_NONBLOCK (so a FIFO or a device cannot block the open), check with
 * fstat() that the file is a regular file and within the caller's limit
 * before reading a byte, and read at most that limit even if the file grows
 * meanwhile.  Every error names the file and the problem.
 */
#ifndef THEATER_BASE_FILE_H
#define THEATER_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "theater/error.h"

/* Open `path` for reading: a regular file of at most `max` bytes (what says
 * what the file is for, e.g. "manifest", in messages).  Returns the open
 * descriptor (blocking mode restored, close-on-exec) in *fd and its size
 * in *size (may be NULL).  Errors: TH_ENOENT, TH_EINVAL (not a regular
 * file), TH_ETOOBIG, TH_EIO. */
int base_file_open(const char *path, const char *what, uint64_t max, int *fd /* out */,
                   uint64_t *size /* out */, th_error *err);

/* The same as a stdio stream (fclose it). */
int base_file_fopen(const char *path, const char *what, uint64_t max, FILE **out /* out */,
                    th_error *err);

/* Read the whole regular file `path` (at most `max` bytes) into a malloc'd
 * buffer that the caller owns, with a NUL after the last byte (not counted
 * in *len).  Errors as base_file_open, and TH_ENOMEM. */
int base_file_read(const char *path, const char *what, uint64_t max, uint8_t **out /* out */,
                   size_t *len /* out */, th_error *err);

/* Read everything from the descriptor `fd` (a pipe, stdin), refusing more
 * than `max` bytes; `name` names it in messages.  Same ownership. */
int base_fd_read(int fd, const char *name, uint64_t max, uint8_t **out /* out */,
                 size_t *len /* out */, th_error *err);

#endif
