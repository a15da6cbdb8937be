/* forward.c — per-worker scratch state and the batched DeiT forward pass (timm's VisionTransformer
 * / DistilledVisionTransformer in eval mode). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels.h"
#include "model_internal.h"

static int n_patches(const deit_config *c)
{
    return (c->image_h / c->patch) * (c->image_w / c->patch);
}

deit_state *deit_state_new(const deit_model *m, int max_batch)
{
    if (!m || max_batch < 1 || max_batch > DEIT_MAX_BATCH)
        return NULL;
    const deit_config *c = &m->cfg;
    size_t B = (size_t)max_batch, T = (size_t)c->n_tokens, D = (size_t)c->dim;
    size_t M = (size_t)c->mlp_hidden, N = (size_t)n_patches(c);
    size_t K = (size_t)c->in_chans * c->patch * c->patch;

    deit_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    s->max_batch = max_batch;
    s->x = malloc(B * T * D * sizeof(float));
    s->xn = malloc(B * T * D * sizeof(float));
    s->qkv = malloc(B * T * 3 * D * sizeof(float));
    s->scores = malloc(T * T * sizeof(float));
    s->attn_out = malloc(B * T * D * sizeof(float));
    s->hidden = malloc(B * T * M * sizeof(float));
    s->patches = malloc(B * N * K * sizeof(float));
    s->prefix = malloc(B * (size_t)c->n_prefix * D * sizeof(float));
    if (!s->x || !s->xn || !s->qkv || !s->scores || !s->attn_out || !s->hidden || !s->patches ||
        !s->prefix) {
        deit_state_free(s);
        return NULL;
    }
    return s;
}

void deit_state_free(deit_state *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->xn);
    free(s->qkv);
    free(s->scores);
    free(s->attn_out);
    free(s->hidden);
    free(s->patches);
    free(s->prefix);
    free(s->trace);
    free(s);
}

void deit_state_trace(deit_state *s, int enable)
{
    if (!s)
        return;
    if (enable && !s->trace) {
        const deit_config *c = &s->m->cfg;
        s->trace = calloc((size_t)(c->depth + 2) * c->n_tokens * c->dim, sizeof(float));
    }
    s->trace_on = enable && s->trace;
}

const float *deit_state_trace_get(const deit_state *s, const char *name, int *rows, int *cols)
{
    if (!s || !s->trace || !name)
        return NULL;
    const deit_config *c = &s->m->cfg;
    size_t slab = (size_t)c->n_tokens * c->dim;
    int slot;
    *cols = c->dim;
    *rows = c->n_tokens;
    if (strcmp(name, "patch_embed") == 0) {
        *rows = n_patches(c);
        slot = 0;
    } else if (strcmp(name, "final_norm") == 0) {
        slot = c->depth + 1;
    } else if (strncmp(name, "block", 5) == 0) {
        char *end;
        long i = strtol(name + 5, &end, 10);
        if (end == name + 5 || *end || i < 0 || i >= c->depth)
            return NULL;
        slot = 1 + (int)i;
    } else {
        return NULL;
    }
    return s->trace + (size_t)slot * slab;
}

/* patches[b*N + gy*GW + gx][ch*P*P + ky*P + kx] = pixels[b][ch][gy*P + ky][gx*P + kx]:
 * the input of a stride-P, kernel-P convolution laid out as GEMM rows (Conv2d weight order). */
static void im2col(const deit_config *c, const float *pixels, int batch, float *patches)
{
    int P = c->patch, H = c->image_h, W = c->image_w, C = c->in_chans;
    int GW = W / P, GH = H / P;
    size_t K = (size_t)C * P * P;
    for (int b = 0; b < batch; b++)
        for (int gy = 0; gy < GH; gy++)
            for (int gx = 0; gx < GW; gx++) {
                float *row = patches + ((size_t)b * GH * GW + (size_t)gy * GW + gx) * K;
                for (int ch = 0; ch < C; ch++)
                    for (int ky = 0; ky < P; ky++) {
                        const float *src = pixels + (((size_t)b * C + ch) * H + (size_t)gy * P + ky) * W
                                           + (size_t)gx * P;
                        memcpy(row + ((size_t)ch * P + ky) * P, src, (size_t)P * sizeof(float));
                    }
            }
}

/* Multi-head self-attention core for one image: out[t, h*hd:(h+1)*hd] = softmax(q_h k_h^T * scale) v_h,
 * with q, k, v read in place from the fused qkv rows [T][3D]. */
static void attention(const deit_config *c, const float *qkv, float *scores, float *out)
{
    int T = c->n_tokens, D = c->dim, H = c->heads, hd = D / H;
    float scale = (float)(1.0 / sqrt((double)hd));
    for (int h = 0; h < H; h++) {
        const float *q = qkv + (size_t)h * hd;
        const float *k = qkv + D + (size_t)h * hd;
        const float *v = qkv + 2 * (size_t)D + (size_t)h * hd;
        /* scores[i,j] = scale * q[i,:] . k[j,:] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q, 3 * D, k, 3 * D,
                    0.0f, scores, T);
        k_softmax_rows(scores, T, T);
        /* out[i, h] = scores[i,:] @ v */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, scores, T, v, 3 * D,
                    0.0f, out + (size_t)h * hd, D);
    }
}

int deit_forward(const deit_model *m, deit_state *s, const float *pixels, int batch,
                 float *cls_logits, float *dist_logits)
{
    if (!m || !s || s->m != m || !pixels || !cls_logits || batch < 1 || batch > s->max_batch)
        return DEIT_EINVAL;
    const deit_config *c = &m->cfg;
    const deit_weights *w = &m->w;
    int T = c->n_tokens, D = c->dim, M = c->mlp_hidden, NP = c->n_prefix, N = n_patches(c);
    int K = c->in_chans * c->patch * c->patch;
    size_t rows = (size_t)batch * T;
    size_t slab = (size_t)T * D;

    /* patch embedding: a stride-P convolution as one GEMM over every patch of the batch */
    im2col(c, pixels, batch, s->patches);
    k_linear(s->patches, batch * N, K, w->patch_w, w->patch_b, D, s->xn);
    if (s->trace_on)
        memcpy(s->trace, s->xn, (size_t)N * D * sizeof(float));

    /* tokens: [cls, dist?, patches...] + position embedding */
    for (int b = 0; b < batch; b++) {
        float *xb = s->x + (size_t)b * slab;
        memcpy(xb, w->cls_token, (size_t)D * sizeof(float));
        if (c->distilled)
            memcpy(xb + D, w->dist_token, (size_t)D * sizeof(float));
        memcpy(xb + (size_t)NP * D, s->xn + (size_t)b * N * D, (size_t)N * D * sizeof(float));
        k_add(xb, w->pos_embed, slab);
    }

    for (int l = 0; l < c->depth; l++) {
        const deit_block_weights *bw = &w->blocks[l];
        /* pre-norm, fused qkv */
        k_layernorm(s->x, (int)rows, D, bw->norm1_w, bw->norm1_b, c->ln_eps, s->xn);
        k_linear(s->xn, (int)rows, D, bw->qkv_w, bw->qkv_b, 3 * D, s->qkv);
        /* attention, per image and head */
        for (int b = 0; b < batch; b++)
            attention(c, s->qkv + (size_t)b * T * 3 * D, s->scores, s->attn_out + (size_t)b * slab);
        /* projection, residual */
        k_linear(s->attn_out, (int)rows, D, bw->proj_w, bw->proj_b, D, s->xn);
        k_add(s->x, s->xn, rows * D);
        /* pre-norm mlp: fc1, exact GELU, fc2, residual */
        k_layernorm(s->x, (int)rows, D, bw->norm2_w, bw->norm2_b, c->ln_eps, s->xn);
        k_linear(s->xn, (int)rows, D, bw->fc1_w, bw->fc1_b, M, s->hidden);
        k_gelu(s->hidden, rows * M);
        k_linear(s->hidden, (int)rows, M, bw->fc2_w, bw->fc2_b, D, s->xn);
        k_add(s->x, s->xn, rows * D);
        if (s->trace_on)
            memcpy(s->trace + (size_t)(1 + l) * slab, s->x, slab * sizeof(float));
    }

    /* final norm: the heads read only the prefix tokens, so only those are normalised */
    for (int b = 0; b < batch; b++)
        memcpy(s->prefix + (size_t)b * NP * D, s->x + (size_t)b * slab, (size_t)NP * D * sizeof(float));
    k_layernorm(s->prefix, batch * NP, D, w->norm_w, w->norm_b, c->ln_eps, s->prefix);
    if (s->trace_on)
        k_layernorm(s->x, T, D, w->norm_w, w->norm_b, c->ln_eps,
                    s->trace + (size_t)(1 + c->depth) * slab);

    /* heads: class head reads token 0, distillation head token 1 */
    int Kc = c->n_classes;
    for (int b = 0; b < batch; b++) {
        const float *tok = s->prefix + (size_t)b * NP * D;
        k_linear(tok, 1, D, w->head_w, w->head_b, Kc, cls_logits + (size_t)b * Kc);
        if (!dist_logits)
            continue;
        if (c->distilled)
            k_linear(tok + D, 1, D, w->head_dist_w, w->head_dist_b, Kc, dist_logits + (size_t)b * Kc);
        else
            memcpy(dist_logits + (size_t)b * Kc, cls_logits + (size_t)b * Kc, (size_t)Kc * sizeof(float));
    }
    return DEIT_OK;
}
