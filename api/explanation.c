/* explanation.c — carries an image's rollout maps and token cosine from the engine to its JSON. */
#include "explanation.h"

#include <math.h>
#include <stdlib.h>

size_t api_explain_floats_for(int grid_h, int grid_w) { return API_EXPLAIN_TOKEN_COSINE((size_t)grid_h * grid_w) + 1; }

size_t api_explain_floats(const deit_model *m)
{
    int gh, gw;
    deit_grid(m, &gh, &gw);
    return api_explain_floats_for(gh, gw);
}

/* Largest batch asked of one call: the engine's own limit (DEIT_MAX_BATCH in model_internal.h). */
#define MAX_BATCH 1024

int api_forward_explained(const deit_model *m, deit_state *s, const float *pixels, int batch,
                          float *cls, float *dist, float *const *rec)
{
    int asked = 0;
    for (int b = 0; rec && b < batch && b <= MAX_BATCH; b++)
        asked |= rec[b] != NULL;
    if (!asked)
        return deit_forward(m, s, pixels, batch, cls, dist); /* the plain path, nothing kept */
    if (batch < 1 || batch > MAX_BATCH)
        return DEIT_EINVAL;
    int gh, gw;
    deit_grid(m, &gh, &gw);
    size_t G = (size_t)gh * gw;
    deit_explain *ex = calloc((size_t)batch, sizeof *ex);
    if (!ex)
        return DEIT_ENOMEM;
    for (int b = 0; b < batch; b++)
        if (rec[b]) {
            ex[b].class_map = rec[b] + API_EXPLAIN_CLASS_MAP(G);
            ex[b].distill_map = rec[b] + API_EXPLAIN_DISTILL_MAP(G);
        }
    int rc = deit_forward_explain(m, s, pixels, batch, cls, dist, ex);
    for (int b = 0; b < batch && rc == DEIT_OK; b++)
        if (rec[b]) {
            if (!deit_model_distilled(m))
                for (size_t i = 0; i < G; i++)
                    rec[b][API_EXPLAIN_DISTILL_MAP(G) + i] = NAN; /* never read: the JSON says null */
            rec[b][API_EXPLAIN_TOKEN_COSINE(G)] = (float)ex[b].token_cosine;
        }
    free(ex);
    return rc;
}

static json_t *map_json(const float *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_real((double)v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *api_explain_json(const float *rec, int grid_h, int grid_w, int distilled)
{
    size_t G = (size_t)grid_h * grid_w;
    json_t *rollout = json_pack("{s:o, s:o}", "class_token", map_json(rec + API_EXPLAIN_CLASS_MAP(G), G),
                                "distill_token", distilled ? map_json(rec + API_EXPLAIN_DISTILL_MAP(G), G) : json_null());
    if (!rollout)
        return NULL;
    return json_pack("{s:[i,i], s:o, s:o}", "grid", grid_h, grid_w, "token_cosine",
                     distilled && isfinite(rec[API_EXPLAIN_TOKEN_COSINE(G)])
                         ? json_real((double)rec[API_EXPLAIN_TOKEN_COSINE(G)]) : json_null(),
                     "rollout", rollout);
}

json_t *api_learned_token_cosine_json(const deit_model *m)
{
    double c = deit_learned_token_cosine(m);
    return isfinite(c) ? json_real(c) : json_null();
}
