/*
 * clock.h: the monotonic clock every timing in the tree reads (attach
 * and decision times, the readers' statistics, the service's timeouts).
 *
 * Monotonic, so a clock step while vsp runs never makes a duration
 * negative or a timeout fire early.
 */
#ifndef VSP_BASE_CLOCK_H
#define VSP_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
static inline uint64_t vsp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
