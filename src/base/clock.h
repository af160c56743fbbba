/*
 * clock.h - wall-clock and monotonic time in the units the project uses.
 */
#ifndef THEATER_BASE_CLOCK_H
#define THEATER_BASE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t base_clock_wall_ms(void);

/* Nanoseconds from an arbitrary fixed point (CLOCK_MONOTONIC); only
 * differences are meaningful. */
uint64_t base_clock_mono_ns(void);

#endif
