/* state.h — one helper for the engine's unit tests: a deit_state of a given batch and team size. */
#ifndef DEIT_TEST_STATE_H
#define DEIT_TEST_STATE_H

#include "deit.h"

/* A state for batches of up to max_batch on a team of `threads` (deit_state_new_with); NULL as it. */
static inline deit_state *new_state(const deit_model *m, int max_batch, int threads)
{
    deit_params p = deit_default_params();
    p.max_batch = max_batch;
    p.threads = threads;
    return deit_state_new_with(m, &p);
}

#endif
