/* pool.c — persistent worker threads with a generation-counter dispatch and a sense-reversing barrier. */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Pause-loop iterations before yielding / sleeping: a few tens of microseconds (a pause is ~60
 * cycles on Zen), far below one block of work, so a peer that lost its core to another process
 * gets it back soon instead of being starved by our spinning. */
#define SPIN_BARRIER 2000
#define SPIN_IDLE 4000

struct pool {
    int n;
    pthread_t *threads;        /* [n-1] workers, tid 1..n-1 */
    /* dispatch: the caller publishes fn/ctx under mu, then bumps gen */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;           /* job generation; workers run each new one */
    int stop;                  /* under mu */
    pool_fn fn;                /* under mu, read by workers after seeing a new gen */
    void *ctx;
    int active;                /* members running the current job (tid < active); under mu */
    atomic_int pending;        /* workers still running the current job */
    /* barrier */
    atomic_int arrived;
    atomic_uint phase;
};

typedef struct {
    pool *p;
    int tid;
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    free(arg);
    pool *p = wa.p;
    unsigned seen = 0;
    for (;;) {
        /* wait for a new generation: spin a little, then sleep */
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && spins < SPIN_IDLE) {
            CPU_RELAX();
            spins++;
        }
        pthread_mutex_lock(&p->mu);
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop, active = p->active;
        pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return NULL;
        seen = g;
        if (wa.tid >= active)
            continue; /* not in this job's team: back to sleep */
        fn(ctx, wa.tid, active);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

pool *pool_new(int n)
{
    if (n < 1)
        return NULL;
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->arrived, 0);
    atomic_init(&p->phase, 0);
    if (n == 1)
        return p;
    p->threads = calloc((size_t)n - 1, sizeof *p->threads);
    if (!p->threads) {
        pool_free(p);
        return NULL;
    }
    for (int i = 1; i < n; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || (wa->p = p, wa->tid = i, pthread_create(&p->threads[i - 1], NULL, worker_main, wa))) {
            free(wa);
            p->n = i; /* join only those started */
            pool_free(p);
            return NULL;
        }
    }
    return p;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->n; i++)
            pthread_join(p->threads[i - 1], NULL);
        free(p->threads);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int pool_size(const pool *p)
{
    return p ? p->n : 1;
}

void pool_run(pool *p, pool_fn fn, void *ctx)
{
    pool_run_n(p, p->n, fn, ctx);
}

void pool_run_n(pool *p, int active, pool_fn fn, void *ctx)
{
    if (active > p->n)
        active = p->n;
    if (active <= 1) {
        /* pool_barrier reads the width: a one-member job must not wait for the last job's team */
        if (p->n > 1) {
            pthread_mutex_lock(&p->mu);
            p->active = 1;
            pthread_mutex_unlock(&p->mu);
        }
        fn(ctx, 0, 1);
        return;
    }
    atomic_store_explicit(&p->pending, active - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->active = active;
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, active);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        if (++spins < SPIN_BARRIER)
            CPU_RELAX();
        else
            sched_yield();
    }
}

void pool_barrier(pool *p)
{
    int n = p->active; /* written under mu before the job was published; fixed while it runs */
    if (p->n == 1 || n <= 1)
        return;
    unsigned ph = atomic_load_explicit(&p->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->arrived, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(&p->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&p->phase, ph + 1, memory_order_release);
        return;
    }
    int spins = 0;
    while (atomic_load_explicit(&p->phase, memory_order_acquire) == ph) {
        if (++spins < SPIN_BARRIER)
            CPU_RELAX();
        else
            sched_yield();
    }
}
