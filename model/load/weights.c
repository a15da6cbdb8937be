/* weights.c — copies a checkpoint's tensors (named as cfg->naming says) into float32 arenas. */
#include "weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each array starts on a 64-byte boundary so vector kernels may use aligned loads. */
#define ALIGN_FLOATS 16

typedef struct {
    const st_file *st;
    unsigned char *used;       /* [st_count]: tensor consumed by the layout */
    float *gamma;              /* [dim]: a layer-scale gamma while it is folded (NULL while checking) */
    char *err;
    size_t errlen;
} loader;

/* base + off, or NULL while load_all only checks (no arena yet: every destination is NULL). */
static float *at(float *base, size_t off)
{
    return base ? base + off : NULL;
}

/* Reserves n floats at *off (rounded up to ALIGN_FLOATS). With base == NULL only counts, so the
 * same walk sizes the arena and then carves it. Returns -1 on size_t overflow. */
static int carve(size_t *off, size_t n, float *base, float **out)
{
    size_t r;
    if (__builtin_add_overflow(n, ALIGN_FLOATS - 1, &r)) return -1;
    r -= r % ALIGN_FLOATS;
    if (base) *out = base + *off;
    return __builtin_add_overflow(*off, r, off) ? -1 : 0;
}

static int mul(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

/* Lays out every array of w: the linear layers' weights over lbase, the rest over base (or, with
 * both NULL, only computes *total and *ltotal floats). blocks must already point at cfg->depth
 * entries when the bases are non-NULL. */
static int plan(const deit_config *c, deit_weights *w, float *base, float *lbase, size_t *total,
                size_t *ltotal)
{
    size_t off = 0, loff = 0, D = (size_t)c->dim, M = (size_t)c->mlp_hidden, K = (size_t)c->n_classes, n;
    size_t kk = (size_t)c->in_chans * (size_t)c->patch * (size_t)c->patch;
    deit_block_weights scratch; /* stands in for w->blocks while only counting */
#define CARVE(count, dst) do { if (carve(&off, (count), base, (dst))) return -1; } while (0)
#define CARVE_LINEAR(count, dst) do { if (carve(&loff, (count), lbase, (dst))) return -1; } while (0)
    if (mul(D, kk, &n)) return -1;
    CARVE_LINEAR(n, &w->patch_w);
    CARVE(D, &w->patch_b);
    CARVE(D, &w->cls_token);
    if (c->n_prefix > 1) CARVE(D, &w->dist_token);
    if (mul((size_t)c->n_tokens, D, &n)) return -1;
    CARVE(n, &w->pos_embed);
    size_t dd, md;
    if (mul(D, D, &dd) || mul(M, D, &md) || mul(dd, 3, &n)) return -1;
    for (int b = 0; b < c->depth; b++) {
        deit_block_weights *bw = base ? &w->blocks[b] : &scratch;
        CARVE(D, &bw->norm1_w);
        CARVE(D, &bw->norm1_b);
        CARVE_LINEAR(n, &bw->qkv_w);
        CARVE(3 * D, &bw->qkv_b);
        CARVE_LINEAR(dd, &bw->proj_w);
        CARVE(D, &bw->proj_b);
        CARVE(D, &bw->norm2_w);
        CARVE(D, &bw->norm2_b);
        CARVE_LINEAR(md, &bw->fc1_w);
        CARVE(M, &bw->fc1_b);
        CARVE_LINEAR(md, &bw->fc2_w);
        CARVE(D, &bw->fc2_b);
    }
    CARVE(D, &w->norm_w);
    CARVE(D, &w->norm_b);
    if (mul(K, D, &n)) return -1;
    CARVE_LINEAR(n, &w->head_w);
    CARVE(K, &w->head_b);
    if (c->distilled) {
        CARVE_LINEAR(n, &w->head_dist_w);
        CARVE(K, &w->head_dist_b);
    }
#undef CARVE
#undef CARVE_LINEAR
    *total = off;
    *ltotal = loff;
    return 0;
}

/* Formats a shape as "[a, b, c]" into buf. */
static void shape_str(char *buf, size_t len, int nd, const int64_t *dims)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < nd && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

/* Refuses a tensor holding NaN or an infinity, naming it and the first such element: a single one
 * makes every logit NaN, so every request would fail, far from the cause. gamma: NULL for a tensor
 * as loaded, else the layer-scale gamma folded into it (named too: the product overflowed). */
static int check_finite(loader *L, const char *name, const char *gamma, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isfinite(v[i]))
            continue;
        const char *what = isnan(v[i]) ? "NaN" : v[i] > 0 ? "+inf" : "-inf";
        if (gamma)
            return deit_fail(L->err, L->errlen, DEIT_EINVAL,
                             "checkpoint: tensor '%s' times '%s' (layer scale): element %zu of %zu is %s "
                             "(the folded weights must be finite)",
                             name, gamma, i, n, what);
        return deit_fail(L->err, L->errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s': element %zu of %zu is %s (weights must be finite)", name, i, n,
                         what);
    }
    return DEIT_OK;
}

/* Checks that tensor `name` exists with exactly the shape dims[0..nd) and a dtype the engine reads,
 * and marks it used; then, when dst is non-NULL, copies it into dst as float32 and checks every
 * value is finite. Missing tensors, shape mismatches and non-finite values are DEIT_EINVAL, dtypes
 * other than F32/F16/BF16 DEIT_EUNSUPPORTED; each message names the tensor. */
static int load(loader *L, const char *name, int nd, const int64_t *dims, float *dst)
{
    const st_tensor *t = st_find(L->st, name);
    if (!t) return deit_fail(L->err, L->errlen, DEIT_EINVAL, "checkpoint: tensor '%s' is missing", name);
    int same = t->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char want[128], got[128];
        shape_str(want, sizeof want, nd, dims);
        shape_str(got, sizeof got, t->ndim, t->shape);
        return deit_fail(L->err, L->errlen, DEIT_EINVAL, "checkpoint: tensor '%s': shape %s, expected %s", name,
                         got, want);
    }
    int rc = naming_check_dtype(t, L->err, L->errlen);
    if (rc) return rc;
    /* st_find returns a pointer into the same array st_at indexes, so the offset is its index. */
    size_t idx = (size_t)(t - st_at(L->st, 0));
    if (idx < st_count(L->st)) L->used[idx] = 1;
    if (!dst) return DEIT_OK;
    if ((rc = st_to_f32(t, dst))) return rc;
    return check_finite(L, name, NULL, dst, t->numel);
}

static int load1(loader *L, const char *name, int64_t a, float *dst)
{
    return load(L, name, 1, (const int64_t[]){a}, dst);
}

static int load2(loader *L, const char *name, int64_t a, int64_t b, float *dst)
{
    return load(L, name, 2, (const int64_t[]){a, b}, dst);
}

static int load3(loader *L, const char *name, int64_t a, int64_t b, int64_t c, float *dst)
{
    return load(L, name, 3, (const int64_t[]){a, b, c}, dst);
}

/* The position embedding. Under no_embed_class (timm's DeiT III) the checkpoint's table has a row
 * per patch only and timm adds it to the patch tokens before putting the prefix tokens in front,
 * which get no position. Loading it after n_prefix zero rows (the arena is zeroed) gives a
 * [n_tokens][dim] table the forward pass adds to every token as usual: exactly the same sums,
 * x + 0 being x. */
static int load_pos(loader *L, const deit_config *c, const char *name, float *dst)
{
    int pre = c->no_embed_class ? c->n_prefix : 0;
    return load3(L, name, 1, c->n_tokens - pre, c->dim, at(dst, (size_t)pre * (size_t)c->dim));
}

/* timm's LayerScale: a block adds gamma * proj(h) and gamma * fc2(h), gamma [out] per channel.
 * Both are linear layers, out rows of `in` weights ([out][in], as stored), so
 *   gamma[o] * (sum_i W[o][i] h[i] + b[o]) = sum_i (gamma[o] W[o][i]) h[i] + gamma[o] b[o]:
 * scaling row o of W and b[o] by gamma[o] is the same function, exact up to float32 rounding (one
 * product per weight here instead of one per output at run time). Done once, on the float32 copy
 * right after the F32/F16/BF16 conversion and before deit_model_pack, so every kernel and every
 * precision (the bf16/int8 packs are made from these float32 weights) computes the scaled layer
 * and the forward pass has no layer scale to know about. A product of two finite factors can
 * still overflow (a gamma of 1e30 on a weight of 1e10), so the folded layer is checked as every
 * loaded tensor is. ls: "ls1" or "ls2", block b's gamma for the layer (wid, bid), out x in. */
static int fold_layer_scale(loader *L, const deit_naming *N, int b, const char *ls, tensor_id wid, tensor_id bid,
                            float *w, float *bias, size_t out, size_t in)
{
    char gn[200], wn[200], bn[200];
    snprintf(gn, sizeof gn, "blocks.%d.%s.gamma", b, ls);
    int rc = load1(L, gn, (int64_t)out, L->gamma);
    if (rc || !L->gamma) /* an error, or the checking walk */
        return rc;
    const float *gamma = L->gamma;
    for (size_t o = 0; o < out; o++) {
        for (size_t i = 0; i < in; i++)
            w[o * in + i] *= gamma[o];
        bias[o] *= gamma[o];
    }
    if ((rc = check_finite(L, naming_tensor(N, wid, b, wn, sizeof wn), gn, w, out * in)))
        return rc;
    return check_finite(L, naming_tensor(N, bid, b, bn, sizeof bn), gn, bias, out);
}

/* Walks every tensor the config needs, named through cfg->naming (the scheme decided at resolve):
 * with w's arrays still NULL it only checks them (load), once they are carved it copies them.
 * transformers keeps query, key and value as three Linear layers; stacking their rows (and biases)
 * as [q; k; v] gives exactly timm's fused qkv. */
static int load_all(loader *L, const deit_config *c, deit_weights *w)
{
    const deit_naming *N = &c->naming;
    const int64_t D = c->dim, M = c->mlp_hidden, K = c->n_classes;
    const size_t DD = (size_t)D * (size_t)D;
    char n[200];
#define NAME(id, b) naming_tensor(N, (id), (b), n, sizeof n)
    int rc;
    if ((rc = load(L, NAME(TN_PATCH_W, 0), 4, (const int64_t[]){D, c->in_chans, c->patch, c->patch},
                   w->patch_w)) ||
        (rc = load1(L, NAME(TN_PATCH_B, 0), D, w->patch_b)) ||
        (rc = load3(L, NAME(TN_CLS, 0), 1, 1, D, w->cls_token)) ||
        (c->n_prefix > 1 && (rc = load3(L, NAME(TN_DIST, 0), 1, 1, D, w->dist_token))) ||
        (rc = load_pos(L, c, NAME(TN_POS, 0), w->pos_embed)))
        return rc;
    static const tensor_id qkv_w[3] = {TN_Q_W, TN_K_W, TN_V_W}, qkv_b[3] = {TN_Q_B, TN_K_B, TN_V_B};
    deit_block_weights none = {0}; /* every destination NULL: the checking walk */
    for (int b = 0; b < c->depth; b++) {
        deit_block_weights *bw = w->blocks ? &w->blocks[b] : &none;
        if (N->layout == LAYOUT_TIMM) {
            if ((rc = load2(L, NAME(TN_QKV_W, b), 3 * D, D, bw->qkv_w)) ||
                (c->qkv_bias && (rc = load1(L, NAME(TN_QKV_B, b), 3 * D, bw->qkv_b))))
                return rc;
        } else {
            for (int j = 0; j < 3; j++)
                if ((rc = load2(L, NAME(qkv_w[j], b), D, D, at(bw->qkv_w, (size_t)j * DD))) ||
                    (c->qkv_bias && (rc = load1(L, NAME(qkv_b[j], b), D, at(bw->qkv_b, (size_t)j * (size_t)D)))))
                    return rc;
        }
        if ((rc = load1(L, NAME(TN_NORM1_W, b), D, bw->norm1_w)) ||
            (rc = load1(L, NAME(TN_NORM1_B, b), D, bw->norm1_b)) ||
            (rc = load2(L, NAME(TN_PROJ_W, b), D, D, bw->proj_w)) ||
            (rc = load1(L, NAME(TN_PROJ_B, b), D, bw->proj_b)) ||
            (rc = load1(L, NAME(TN_NORM2_W, b), D, bw->norm2_w)) ||
            (rc = load1(L, NAME(TN_NORM2_B, b), D, bw->norm2_b)) ||
            (rc = load2(L, NAME(TN_FC1_W, b), M, D, bw->fc1_w)) ||
            (rc = load1(L, NAME(TN_FC1_B, b), M, bw->fc1_b)) ||
            (rc = load2(L, NAME(TN_FC2_W, b), D, M, bw->fc2_w)) ||
            (rc = load1(L, NAME(TN_FC2_B, b), D, bw->fc2_b)))
            return rc;
        /* timm names only: the config resolves layer scale for timm checkpoints alone */
        if (c->layer_scale &&
            ((rc = fold_layer_scale(L, N, b, "ls1", TN_PROJ_W, TN_PROJ_B, bw->proj_w, bw->proj_b, (size_t)D,
                                    (size_t)D)) ||
             (rc = fold_layer_scale(L, N, b, "ls2", TN_FC2_W, TN_FC2_B, bw->fc2_w, bw->fc2_b, (size_t)D,
                                    (size_t)M))))
            return rc;
    }
    if ((rc = load1(L, NAME(TN_NORM_W, 0), D, w->norm_w)) || (rc = load1(L, NAME(TN_NORM_B, 0), D, w->norm_b)) ||
        (rc = load2(L, NAME(TN_HEAD_W, 0), K, D, w->head_w)) || (rc = load1(L, NAME(TN_HEAD_B, 0), K, w->head_b)))
        return rc;
    if (c->distilled &&
        ((rc = load2(L, NAME(TN_HEAD_DIST_W, 0), K, D, w->head_dist_w)) ||
         (rc = load1(L, NAME(TN_HEAD_DIST_B, 0), K, w->head_dist_b))))
        return rc;
#undef NAME
    return DEIT_OK;
}

/* Why an unused tensor matters, for the message; NULL when there is no specific reason known. */
static const char *extra_reason(const char *name)
{
    if (strstr(name, ".ls1.") || strstr(name, ".ls2.")) return "layer scale";
    if (strstr(name, "q_norm.") || strstr(name, "k_norm.")) return "query/key normalisation";
    if (strncmp(name, "fc_norm.", 8) == 0) return "fc_norm before the head";
    if (strncmp(name, "norm_pre.", 9) == 0) return "pre-norm after the embedding";
    if (strcmp(name, "reg_token") == 0) return "register tokens";
    return NULL;
}

/* The limits deit_config_resolve enforces, re-checked so a hand-built config cannot overflow. */
static int check_cfg(const deit_config *c, char *err, size_t errlen)
{
    if (c->dim < 1 || c->dim > DEIT_MAX_DIM || c->depth < 1 || c->depth > DEIT_MAX_DEPTH ||
        c->mlp_hidden < 1 || c->mlp_hidden > DEIT_MAX_MLP || c->n_classes < 1 ||
        c->n_classes > DEIT_MAX_CLASSES || c->patch < 1 || c->patch > DEIT_MAX_PATCH ||
        (c->in_chans != 1 && c->in_chans != 3) || c->n_tokens < 1 || c->n_tokens > DEIT_MAX_TOKENS ||
        c->n_prefix < 1 || c->n_prefix > 2 || (c->distilled && c->n_prefix != 2) || c->n_prefix >= c->n_tokens)
        return deit_fail(err, errlen, DEIT_EINVAL, "weights: configuration out of range");
    return DEIT_OK;
}

/* Every tensor present is one the layout reads (or one it may ignore): anything left over would be
 * silently dropped, and might have changed the result. */
static int check_no_extra(const loader *L, const deit_config *cfg)
{
    for (size_t i = 0; i < st_count(L->st); i++) {
        const char *name = st_at(L->st, i)->name;
        if (L->used[i] || naming_ignorable(&cfg->naming, name)) continue;
        const char *why = extra_reason(name);
        return deit_fail(L->err, L->errlen, DEIT_EUNSUPPORTED,
                         "checkpoint: unexpected tensor '%s'%s%s%s: it would change the computation", name,
                         why ? " (" : "", why ? why : "", why ? ")" : "");
    }
    return DEIT_OK;
}

int deit_weights_load(const st_file *st, const deit_config *cfg, deit_weights *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    int rc = check_cfg(cfg, err, errlen);
    if (rc) return rc;
    loader L = {st, calloc(st_count(st) + 1, 1), NULL, err, errlen};
    if (!L.used) return deit_fail(err, errlen, DEIT_ENOMEM, "weights: out of memory");
    /* Every tensor checked (name, shape, dtype, no extra) before anything is sized from the config:
     * depth comes from block names alone, so a small file could otherwise ask for any amount of
     * memory. Once every array is backed by a tensor of its exact shape, the arenas are bounded by
     * what the file holds (at most twice, for F16/BF16, plus alignment and zero qkv biases). */
    if ((rc = load_all(&L, cfg, w)) || (rc = check_no_extra(&L, cfg))) goto out;
    size_t total, ltotal;
    if (plan(cfg, w, NULL, NULL, &total, &ltotal) || total > SIZE_MAX / sizeof(float) ||
        ltotal > SIZE_MAX / sizeof(float)) {
        rc = deit_fail(err, errlen, DEIT_ETOOBIG, "weights: parameter count overflows");
        goto out;
    }
    size_t bytes = total * sizeof(float), lbytes = ltotal * sizeof(float);
    w->blocks = calloc((size_t)cfg->depth, sizeof *w->blocks);
    w->depth = w->blocks ? cfg->depth : 0;
    w->arena = aligned_alloc(ALIGN_FLOATS * sizeof(float), bytes);
    w->linear_arena = aligned_alloc(ALIGN_FLOATS * sizeof(float), lbytes);
    if (!w->blocks || !w->arena || !w->linear_arena) {
        rc = deit_fail(err, errlen, DEIT_ENOMEM, "weights: cannot allocate %zu bytes", bytes + lbytes);
        goto out;
    }
    w->arena_floats = total;
    w->linear_floats = ltotal;
    memset(w->arena, 0, bytes); /* absent qkv biases and no_embed_class's prefix positions read as zeros */
    plan(cfg, w, w->arena, w->linear_arena, &total, &ltotal);
    if (cfg->layer_scale && !(L.gamma = malloc((size_t)cfg->dim * sizeof(float)))) {
        rc = deit_fail(err, errlen, DEIT_ENOMEM, "weights: out of memory");
        goto out;
    }
    rc = load_all(&L, cfg, w);
out:
    free(L.used);
    free(L.gamma);
    if (rc) deit_weights_free(w);
    return rc;
}

float *deit_weights_take_linear(deit_weights *w)
{
    float *la = w->linear_arena;
    w->patch_w = w->head_w = w->head_dist_w = NULL;
    for (int b = 0; w->blocks && b < w->depth; b++)
        w->blocks[b].qkv_w = w->blocks[b].proj_w = w->blocks[b].fc1_w = w->blocks[b].fc2_w = NULL;
    w->linear_arena = NULL;
    w->linear_floats = 0;
    return la;
}

void deit_weights_free(deit_weights *w)
{
    if (!w) return;
    free(w->arena);
    free(w->linear_arena);
    free(w->blocks);
    memset(w, 0, sizeof *w);
}
