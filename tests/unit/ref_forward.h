/* ref_forward.h — a plain double-precision forward pass of a timm DeiT/ViT checkpoint (class token,
 * optional distillation token, pre-norm blocks, exact GELU, LayerNorm eps 1e-6), written from the
 * model's definition with nothing shared with the engine: the reference for shapes the timm
 * fixtures do not have (synth_model.h). Slow, and meant for tiny models. */
#ifndef DEIT_TEST_REF_FORWARD_H
#define DEIT_TEST_REF_FORWARD_H

#include <math.h>
#include <stdlib.h>

#include "safetensors.h"

/* Tensor `name` of st as doubles (malloc'd), or NULL. */
static inline double *ref_tensor(const st_file *st, const char *name)
{
    const st_tensor *t = st_find(st, name);
    double *v = t ? malloc(t->numel * sizeof(double)) : NULL;
    if (v && st_to_f64(t, v) != 0) {
        free(v);
        v = NULL;
    }
    return v;
}

/* y[n][o] = b[o] + sum_i x[n][i] w[o][i] */
static inline void ref_linear(const double *x, int n, int in, const double *w, const double *b, int out, double *y)
{
    for (int r = 0; r < n; r++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < in; i++) s += x[(size_t)r * in + i] * w[(size_t)o * in + i];
            y[(size_t)r * out + o] = s;
        }
}

static inline void ref_layernorm(const double *x, int n, int d, const double *g, const double *b, double *y)
{
    for (int r = 0; r < n; r++) {
        const double *v = x + (size_t)r * d;
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += v[i];
        mean /= d;
        for (int i = 0; i < d; i++) var += (v[i] - mean) * (v[i] - mean);
        var /= d;
        for (int i = 0; i < d; i++) y[(size_t)r * d + i] = (v[i] - mean) / sqrt(var + 1e-6) * g[i] + b[i];
    }
}

/* The logits of one image (px: C x H x W, channels first) into cls[K] and, distilled, dist[K].
 * Returns 0, or -1 when a tensor is missing. */
static inline int ref_forward(const st_file *st, int D, int depth, int H, int M, int P, int C, int img, int K,
                              int distilled, const float *px, double *cls, double *dist)
{
    int g = img / P, N = g * g, pre = 1 + distilled, T = N + pre, hd = D / H;
    double *x = calloc((size_t)T * D, sizeof(double)), *xn = malloc((size_t)T * D * sizeof(double));
    double *qkv = malloc((size_t)T * 3 * D * sizeof(double)), *att = malloc((size_t)T * D * sizeof(double));
    double *hid = malloc((size_t)T * M * sizeof(double)), *tmp = malloc((size_t)T * D * sizeof(double));
    double *sc = malloc((size_t)T * sizeof(double));
    double *pw = ref_tensor(st, "patch_embed.proj.weight"), *pb = ref_tensor(st, "patch_embed.proj.bias");
    double *ct = ref_tensor(st, "cls_token"), *dt = distilled ? ref_tensor(st, "dist_token") : NULL;
    double *pos = ref_tensor(st, "pos_embed");
    int rc = pw && pb && ct && (dt || !distilled) && pos ? 0 : -1;
    for (int d = 0; !rc && d < D; d++) {
        x[d] = ct[d];
        if (distilled) x[D + d] = dt[d];
        for (int p = 0; p < N; p++) {
            double s = pb[d];
            for (int c = 0; c < C; c++)
                for (int ky = 0; ky < P; ky++)
                    for (int kx = 0; kx < P; kx++)
                        s += pw[(((size_t)d * C + c) * P + ky) * P + kx] *
                             px[((size_t)c * img + (p / g) * P + ky) * img + (p % g) * P + kx];
            x[(size_t)(pre + p) * D + d] = s;
        }
    }
    for (size_t i = 0; !rc && i < (size_t)T * D; i++) x[i] += pos[i];
    static const char *const names[12] = {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                          "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
                                          "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"};
    for (int l = 0; !rc && l < depth; l++) {
        double *w[12];
        for (int i = 0; i < 12; i++) {
            char name[96];
            snprintf(name, sizeof name, "blocks.%d.%s", l, names[i]);
            w[i] = ref_tensor(st, name);
            rc |= w[i] ? 0 : -1;
        }
        if (!rc) {
            ref_layernorm(x, T, D, w[0], w[1], xn);
            ref_linear(xn, T, D, w[2], w[3], 3 * D, qkv);
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    double mx = -INFINITY, sum = 0;
                    for (int u = 0; u < T; u++) {
                        double s = 0;
                        for (int i = 0; i < hd; i++)
                            s += qkv[(size_t)t * 3 * D + h * hd + i] * qkv[(size_t)u * 3 * D + D + h * hd + i];
                        sc[u] = s / sqrt((double)hd);
                        mx = sc[u] > mx ? sc[u] : mx;
                    }
                    for (int u = 0; u < T; u++) sum += sc[u] = exp(sc[u] - mx);
                    for (int i = 0; i < hd; i++) {
                        double s = 0;
                        for (int u = 0; u < T; u++) s += sc[u] / sum * qkv[(size_t)u * 3 * D + 2 * D + h * hd + i];
                        att[(size_t)t * D + h * hd + i] = s;
                    }
                }
            ref_linear(att, T, D, w[4], w[5], D, tmp);
            for (size_t i = 0; i < (size_t)T * D; i++) x[i] += tmp[i];
            ref_layernorm(x, T, D, w[6], w[7], xn);
            ref_linear(xn, T, D, w[8], w[9], M, hid);
            for (size_t i = 0; i < (size_t)T * M; i++) hid[i] = 0.5 * hid[i] * (1.0 + erf(hid[i] / sqrt(2.0)));
            ref_linear(hid, T, M, w[10], w[11], D, tmp);
            for (size_t i = 0; i < (size_t)T * D; i++) x[i] += tmp[i];
        }
        for (int i = 0; i < 12; i++) free(w[i]);
    }
    double *ng = ref_tensor(st, "norm.weight"), *nb = ref_tensor(st, "norm.bias");
    double *hw = ref_tensor(st, "head.weight"), *hb = ref_tensor(st, "head.bias");
    double *dw = distilled ? ref_tensor(st, "head_dist.weight") : NULL;
    double *db = distilled ? ref_tensor(st, "head_dist.bias") : NULL;
    rc |= ng && nb && hw && hb && (!distilled || (dw && db)) ? 0 : -1;
    if (!rc) {
        ref_layernorm(x, pre, D, ng, nb, xn);
        ref_linear(xn, 1, D, hw, hb, K, cls);
        if (distilled) ref_linear(xn + D, 1, D, dw, db, K, dist);
    }
    free(ng), free(nb), free(hw), free(hb), free(dw), free(db);
    free(pw), free(pb), free(ct), free(dt), free(pos);
    free(x), free(xn), free(qkv), free(att), free(hid), free(tmp), free(sc);
    return rc;
}

#endif
