/* engine.h — the worker side of inference: the batcher's state_new / forward / state_free callbacks
 * over the engine's public API (one deit_state per worker, sharing one read-only model). */
#ifndef DEIT_SERVER_ENGINE_H
#define DEIT_SERVER_ENGINE_H

#include "deit.h"

/* What every worker's state is made from; must outlive the batcher. */
typedef struct {
    const deit_model *model;
    int threads;               /* engine threads per worker */
} engine_spec;

/* batch_state_new_fn: ctx is an engine_spec. NULL when out of memory or threads. */
void *engine_state_new(void *ctx, int max_batch);
/* batch_state_free_fn */
void engine_state_free(void *state);
/* batch_forward_fn: 0 on success, -1 on an engine error. explain: see batcher.h. */
int engine_forward(void *state, const float *pixels, int batch, float *cls, float *dist, float *const *explain);

#endif
