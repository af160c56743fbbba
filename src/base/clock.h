/*
 * clock.h - wall-clock and monotonic time in the units the project uses.
 */
#ifndef THEATER_BASE_CLOCK_H
#define THEATER_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t base_clock_wall_ms(void);

/* Nanoseconds from an arbitrary fixed point (CLOCK_MONOTONIC); only
 * differences are meaningful. */
uint64_t base_clock_mono_ns(void);

/* The CLOCK_REALTIME time `ns` nanoseconds from now, as the absolute
 * deadline pthread_cond_timedwait takes. */
struct timespec base_clock_wall_deadline(uint64_t ns);

#endif
