/* engine.c — batcher callbacks over the engine's public API; see engine.h. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "engine.h"

#include <pthread.h>
#include <stdlib.h>

#include "batcher.h"
#include "explanation.h"

/* One worker's engine state: the shared model and this worker's scratch (and thread team). */
typedef struct {
    const deit_model *model;
    deit_state *state;
    int threads;               /* the narrow width (engine_spec.threads) */
} worker_engine;

void *engine_state_new(void *ctx, int max_batch)
{
    const engine_spec *spec = ctx;
    /* runs on the worker's own thread: named so that profiles and bench/overload.sh can tell the
     * inference workers' CPU time from the HTTP threads' */
    pthread_setname_np(pthread_self(), "deit-worker");
    worker_engine *w = malloc(sizeof *w);
    if (!w) return NULL;
    w->model = spec->model;
    w->threads = spec->threads;
    deit_params p = deit_default_params();
    /* the team is as wide as the idle machine; it runs narrow until the batcher says it is alone */
    p.threads = spec->wide_threads > spec->threads ? spec->wide_threads : spec->threads;
    p.max_batch = max_batch;
    w->state = deit_state_new_with(w->model, &p);
    if (!w->state) {
        free(w);
        return NULL;
    }
    deit_state_set_width(w->state, w->threads);
    return w;
}

void engine_state_width(void *p, int wide)
{
    worker_engine *w = p;
    deit_state_set_width(w->state, wide ? deit_state_threads(w->state) : w->threads);
}

void engine_state_free(void *p)
{
    worker_engine *w = p;
    deit_state_free(w->state);
    free(w);
}

int engine_forward(void *p, const float *pixels, int batch, float *cls, float *dist, float *const *explain)
{
    worker_engine *w = p;
    int rc = api_forward_explained(w->model, w->state, pixels, batch, cls, dist, explain);
    return rc == DEIT_OK ? 0 : rc == DEIT_ENONFINITE ? BATCH_NONFINITE : -1;
}
