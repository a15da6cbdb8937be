/* mono_cond.h — condition variables whose timed waits run on CLOCK_MONOTONIC: a wall clock stepped
 * back (NTP, a restored VM, date -s) must not stretch a 1 ms poll into the size of the step. */
#ifndef DEIT_MONO_COND_H
#define DEIT_MONO_COND_H

#include <pthread.h>
#include <time.h>

/* pthread_cond_init with the monotonic clock; 0 or an error number. */
static inline int mono_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a)) return -1;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

/* The monotonic time ns nanoseconds (< 1 s) from now, for pthread_cond_timedwait on such a cond. */
static inline struct timespec mono_after_ns(long ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif
