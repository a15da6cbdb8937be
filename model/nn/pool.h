/* pool.h — a tiny fork-join team for one deit_state: the caller plus n-1 persistent workers.
 *
 * pool_run(p, fn, ctx) runs fn(ctx, tid, n) on every member (the caller is tid 0) and returns when
 * all have finished; inside fn, pool_barrier(p) synchronises the team. Members spin briefly on the
 * barrier (a DeiT block is a few hundred microseconds of work per thread), then yield the CPU, so a
 * descheduled peer does not stall a core. Idle workers sleep on a condition variable.
 * A pool belongs to one state, so one thread at a time calls pool_run.
 */
#ifndef DEIT_POOL_H
#define DEIT_POOL_H

typedef struct pool pool;
typedef void (*pool_fn)(void *ctx, int tid, int n);

/* A team of n threads (n >= 1; n == 1 starts no worker). NULL when a thread cannot be started. */
pool *pool_new(int n);
/* Stops and joins the workers. pool_free(NULL) is a no-op. */
void pool_free(pool *p);
int pool_size(const pool *p);
void pool_run(pool *p, pool_fn fn, void *ctx);
/* Same as pool_run on the first `active` members only (1..pool_size; clamped): fn sees n = active
 * and pool_barrier waits for those; the others stay asleep. A server worker that has the machine
 * to itself runs wide, and narrow again when others have work (deit_state_set_width). */
void pool_run_n(pool *p, int active, pool_fn fn, void *ctx);
void pool_barrier(pool *p);

#endif
