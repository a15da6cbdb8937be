/* engine.c — batcher callbacks over the engine's public API; see engine.h. */
#include "engine.h"

#include <stdlib.h>

/* One worker's engine state: the shared model and this worker's scratch (and thread team). */
typedef struct {
    const deit_model *model;
    deit_state *state;
} worker_engine;

void *engine_state_new(void *ctx, int max_batch)
{
    const engine_spec *spec = ctx;
    worker_engine *w = malloc(sizeof *w);
    if (!w) return NULL;
    w->model = spec->model;
    w->state = deit_state_new_threads(w->model, max_batch, spec->threads);
    if (!w->state) {
        free(w);
        return NULL;
    }
    return w;
}

void engine_state_free(void *p)
{
    worker_engine *w = p;
    deit_state_free(w->state);
    free(w);
}

int engine_forward(void *p, const float *pixels, int batch, float *cls, float *dist)
{
    worker_engine *w = p;
    return deit_forward(w->model, w->state, pixels, batch, cls, dist) == DEIT_OK ? 0 : -1;
}
