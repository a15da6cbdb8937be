/* engine.h — the worker side of inference: the batcher's state_new / forward / state_free callbacks
 * over the engine's public API (one deit_state per worker, sharing one read-only model). */
#ifndef DEIT_SERVER_ENGINE_H
#define DEIT_SERVER_ENGINE_H

#include "deit.h"

/* What every worker's state is made from; must outlive the batcher. */
typedef struct {
    const deit_model *model;
    int threads;               /* engine threads per worker while other workers are busy */
    int wide_threads;          /* team size of each worker: the threads it runs alone on an idle
                                * server (workers x threads with --lend-idle, else threads) */
} engine_spec;

/* batch_state_new_fn: ctx is an engine_spec. NULL when out of memory or threads. */
void *engine_state_new(void *ctx, int max_batch);
/* batch_state_free_fn */
void engine_state_free(void *state);
/* batch_state_width_fn: wide runs the next passes on the whole team, else on `threads` of it. */
void engine_state_width(void *state, int wide);
/* batch_forward_fn: 0 on success, BATCH_NONFINITE when a logit is NaN or infinite, -1 on an engine
 * error. explain: see batcher.h. */
int engine_forward(void *state, const float *pixels, int batch, float *cls, float *dist, float *const *explain);

#endif
