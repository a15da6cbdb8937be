/* state.h — helpers for the engine's unit tests: a deit_state of a given batch and team size, and
 * the kernel set a model opens with by default. */
#ifndef DEIT_TEST_STATE_H
#define DEIT_TEST_STATE_H

#include "deit.h"
#include "gemm.h"

/* A state for batches of up to max_batch on a team of `threads` (deit_state_new_with); NULL as it. */
static inline deit_state *new_state(const deit_model *m, int max_batch, int threads)
{
    deit_params p = deit_default_params();
    p.max_batch = max_batch;
    p.threads = threads;
    return deit_state_new_with(m, &p);
}

/* The kernel set deit_model_open picks by default here ($DEIT_ISA may narrow it); generic when the
 * model does not open. */
static inline gemm_isa default_isa(const char *model)
{
    char err[256];
    deit_model *m = NULL;
    gemm_isa isa = GEMM_ISA_GENERIC;
    if (deit_model_open(model, &m, err, sizeof err) == DEIT_OK && gemm_isa_parse(deit_model_isa(m), &isa) != 0)
        isa = GEMM_ISA_GENERIC;
    deit_model_free(m);
    return isa;
}

#endif
