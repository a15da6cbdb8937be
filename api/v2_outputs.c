/* v2_outputs.c — which KServe v2 outputs a model offers, their shapes, and an explanation output's
 * floats; see v2_outputs.h. */
#include "v2_outputs.h"

#include <stdlib.h>

#include "explanation.h"
#include "status.h"

static void grid_of(const api_model *m, int *gh, int *gw)
{
    /* deit_grid's arithmetic on the API's copy of the shape (a loaded model's patch is never 0) */
    *gh = m->patch > 0 ? m->image_h / m->patch : 0;
    *gw = m->patch > 0 ? m->image_w / m->patch : 0;
}

/* 0 when m offers kind, else 1 with the reason in why. */
static int not_offered(const api_model *m, v2_output_kind kind, char *why, size_t why_len)
{
    if (kind < V2_OUT_PROBS) return 0;
    if (api_explain_refused(m, why, why_len)) return 1;
    if (kind != V2_OUT_CLASS_ROLLOUT && !m->distilled) {
        deit_fail(why, why_len, 1, "the model has no second token (one class token, one head)");
        return 1;
    }
    return 0;
}

int api_v2_offered(const api_model *m, v2_output_kind kinds[V2_OUT_COUNT])
{
    int n = 0;
    for (int k = 0; k < V2_OUT_COUNT; k++)
        if (!not_offered(m, (v2_output_kind)k, NULL, 0)) kinds[n++] = (v2_output_kind)k;
    return n;
}

int api_v2_outputs_check(const api_model *m, const v2_request *r, char *err, size_t errlen)
{
    for (int i = 0; i < r->n_outputs; i++) {
        char why[256];
        if (not_offered(m, r->outputs[i].kind, why, sizeof why))
            return deit_fail(err, errlen, 400, "output %s is not available for this model: %s",
                             v2_output_names[r->outputs[i].kind], why);
    }
    return 0;
}

const char *api_v2_datatype(const v2_output *o) { return o->classification > 0 ? "BYTES" : "FP32"; }

int api_v2_shape(const api_model *m, const v2_output *o, long long n, long long dims[V2_OUT_MAX_DIMS])
{
    dims[0] = n;
    switch (o->kind) {
    case V2_OUT_CLASS_ROLLOUT:
    case V2_OUT_DISTILL_ROLLOUT: {
        int gh, gw;
        grid_of(m, &gh, &gw);
        dims[1] = gh;
        dims[2] = gw;
        return 3;
    }
    case V2_OUT_TOKEN_COSINE:
        return 1;
    default:
        dims[1] = o->classification > 0 && o->classification < m->n_classes ? o->classification : m->n_classes;
        return 2;
    }
}

size_t api_v2_explain_width(const api_model *m, v2_output_kind kind)
{
    int gh, gw;
    grid_of(m, &gh, &gw);
    return kind == V2_OUT_TOKEN_COSINE ? 1 : (size_t)gh * gw;
}

float *api_v2_explain_gather(const api_model *m, v2_output_kind kind, const float *explain, int n)
{
    int gh, gw;
    grid_of(m, &gh, &gw);
    size_t G = (size_t)gh * gw, E = api_explain_floats_for(gh, gw), w = api_v2_explain_width(m, kind);
    size_t at = kind == V2_OUT_CLASS_ROLLOUT     ? API_EXPLAIN_CLASS_MAP(G)
                : kind == V2_OUT_DISTILL_ROLLOUT ? API_EXPLAIN_DISTILL_MAP(G)
                                                 : API_EXPLAIN_TOKEN_COSINE(G);
    size_t N = n > 0 ? (size_t)n : 0;
    float *out = malloc((N * w > 0 ? N * w : 1) * sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < w; j++) out[i * w + j] = explain[i * E + at + j];
    return out;
}
