// SPDX-FileCopyrightText: 2026 QRedlock contributors
//
// SPDX-License-Identifier: BSD-3-Clause

/* A tiny LD_PRELOAD library that makes a process's wall clock run fast (or slow).
 *
 * From the moment the library is loaded, CLOCK_REALTIME (and its _COARSE variant),
 * gettimeofday() and time() advance QREDLOCK_CLOCK_SPEED times as fast as the real
 * wall clock (default 1.0: no change). Every other clock, CLOCK_MONOTONIC included,
 * is left alone. Redis computes key expiry from the wall clock, so a server started
 * with speed 1.5 expires a "PX 3000" key after 2 s of real time: the clock drift
 * that Redlock's drift allowance is meant to absorb, made large on purpose.
 *
 * QREDLOCK_CLOCK_OFFSET_MS (default 0) moves that clock by a fixed number of ms (negative:
 * behind), for a process whose wall clock is simply off.
 *
 * Why not Debian's libfaketime: it aborts redis-server 7.0 during start-up (a
 * recursive clock_gettime). This shim never calls back into the C library for the
 * real time: it asks the kernel directly (syscall), so there is nothing to recurse
 * into and nothing to resolve with dlsym().
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double speed = 1.0;
static int64_t originNs; /* real wall clock when the library was loaded */
static int64_t offsetNs;

static int realClock(clockid_t id, struct timespec *ts)
{
    return (int)syscall(SYS_clock_gettime, id, ts);
}

static int64_t toNs(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static void fromNs(int64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

__attribute__((constructor)) static void clockShimInit(void)
{
    const char *text = getenv("QREDLOCK_CLOCK_SPEED");
    if (text && *text) {
        const double value = strtod(text, NULL);
        if (value > 0.0 && value < 1000.0)
            speed = value;
    }
    const char *offset = getenv("QREDLOCK_CLOCK_OFFSET_MS");
    if (offset && *offset)
        offsetNs = (int64_t)strtoll(offset, NULL, 10) * 1000000LL;
    struct timespec now;
    realClock(CLOCK_REALTIME, &now);
    originNs = toNs(&now);
}

/* The scaled wall clock in nanoseconds since the epoch. */
static int64_t scaledNs(int64_t realNs)
{
    return originNs + offsetNs + (int64_t)((double)(realNs - originNs) * speed);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    const int rc = realClock(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        fromNs(scaledNs(toNs(ts)), ts);
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz; /* obsolete: nobody fills it */
    struct timespec ts;
    if (realClock(CLOCK_REALTIME, &ts) != 0)
        return -1;
    fromNs(scaledNs(toNs(&ts)), &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *out)
{
    struct timespec ts;
    if (realClock(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    fromNs(scaledNs(toNs(&ts)), &ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
