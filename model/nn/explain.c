/* explain.c — attention rollout (Abnar & Zuidema 2020) and the paper's token cosines, from the
 * attention probabilities a forward pass captured for the images that asked for them.
 *
 * Rollout: A_l = mean over heads of block l's softmax attention [T][T], Â_l = (A_l + I) / 2,
 * R = Â_L ... Â_1. Only rows 0 (class token) and 1 (distillation token) of R are read, so they are
 * computed as row vectors from the left, e_r^T Â_L then Â_{L-1} ... : L * T^2 per row instead of
 * the L * T^3 of the full product. That order is why every block's A_l is kept until the pass ends.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

size_t deit_explain_bytes(const deit_model *m)
{
    const deit_config *c = &m->cfg;
    return sizeof(float) * (size_t)c->depth * c->n_tokens * c->n_tokens; /* bounded by config.h */
}

int explain_begin(deit_state *s, int batch, const deit_explain *ex)
{
    const deit_config *c = &s->m->cfg;
    if (!s->roll)
        s->roll = malloc(2 * (size_t)c->n_tokens * sizeof(double));
    if (!s->attn_slot)
        s->attn_slot = malloc((size_t)s->max_batch * sizeof(int));
    if (!s->roll || !s->attn_slot)
        return DEIT_ENOMEM;
    int k = 0;
    for (int b = 0; b < batch; b++)
        s->attn_slot[b] = ex[b].class_map ? k++ : -1;
    /* zeroed: a forward path that skipped the capture would give all-zero maps (a test catches
     * that), never uninitialised memory. Fresh each pass: large blocks come from mmap and go back
     * to the system when freed. */
    free(s->attn);
    size_t n = (size_t)k * c->depth * c->n_tokens * c->n_tokens;
    s->attn = calloc(n, sizeof(float));
    if (n * sizeof(float) > s->attn_peak)
        s->attn_peak = n * sizeof(float);
    return s->attn ? DEIT_OK : DEIT_ENOMEM;
}

void explain_capture(deit_state *s, int b, int l, int h, int t0, int nq, const float *probs)
{
    const deit_config *c = &s->m->cfg;
    size_t T = (size_t)c->n_tokens;
    float *a = s->attn + (((size_t)s->attn_slot[b] * c->depth + l) * T + (size_t)t0) * T;
    size_t n = (size_t)nq * T;
    if (h == 0)
        memcpy(a, probs, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++)
            a[i] += probs[i];
}

/* Cosine of two float vectors, in double; NaN (answered as null) when it is undefined: either
 * vector all zeros, or not finite. 0 would claim the two are orthogonal. */
static double cosine(const float *x, const float *y, int n)
{
    double xy = 0, xx = 0, yy = 0;
    for (int i = 0; i < n; i++) {
        xy += (double)x[i] * y[i];
        xx += (double)x[i] * x[i];
        yy += (double)y[i] * y[i];
    }
    return xx > 0 && yy > 0 && isfinite(xy) ? xy / sqrt(xx * yy) : NAN;
}

/* map[patches] = (e_r^T Â_L ... Â_1)[n_prefix:], normalised to sum 1. v and w: [T] scratch. */
static void rollout_row(const deit_config *c, const float *attn, int r, double *v, double *w, float *map)
{
    int T = c->n_tokens, NP = c->n_prefix;
    double inv_h = 1.0 / c->heads;
    for (int j = 0; j < T; j++)
        v[j] = j == r;
    for (int l = c->depth - 1; l >= 0; l--) {
        const float *A = attn + (size_t)l * T * T;
        /* w = v Â_l = (v A_l / H_sum + v) / 2, where A_l holds the sum over heads */
        for (int j = 0; j < T; j++)
            w[j] = 0;
        for (int i = 0; i < T; i++) {
            double vi = v[i] * inv_h;
            if (vi == 0)
                continue;
            const float *row = A + (size_t)i * T;
            for (int j = 0; j < T; j++)
                w[j] += vi * row[j];
        }
        for (int j = 0; j < T; j++)
            v[j] = 0.5 * (w[j] + v[j]);
    }
    double sum = 0;
    for (int j = NP; j < T; j++)
        sum += v[j];
    for (int j = NP; j < T; j++)
        map[j - NP] = (float)(sum > 0 ? v[j] / sum : 0.0);
}

void explain_finish(deit_state *s, int batch, deit_explain *ex)
{
    const deit_config *c = &s->m->cfg;
    int T = c->n_tokens, D = c->dim, NP = c->n_prefix;
    double *v = s->roll;
    for (int b = 0; b < batch; b++) {
        if (!ex[b].class_map)
            continue;
        const float *attn = s->attn + (size_t)s->attn_slot[b] * c->depth * T * T;
        rollout_row(c, attn, 0, v, v + T, ex[b].class_map);
        if (c->distilled) {
            const float *p = s->prefix + (size_t)b * NP * D;
            ex[b].token_cosine = cosine(p, p + D, D);
            if (ex[b].distill_map)
                rollout_row(c, attn, 1, v, v + T, ex[b].distill_map);
        } else {
            ex[b].token_cosine = NAN;
        }
    }
    free(s->attn);
    s->attn = NULL;
}

double deit_learned_token_cosine(const deit_model *m)
{
    if (!m || !m->cfg.distilled || !m->w.dist_token)
        return NAN;
    return cosine(m->w.cls_token, m->w.dist_token, m->cfg.dim);
}

void deit_grid(const deit_model *m, int *gh, int *gw)
{
    *gh = m ? m->cfg.image_h / m->cfg.patch : 0;
    *gw = m ? m->cfg.image_w / m->cfg.patch : 0;
}
