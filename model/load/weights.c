/* weights.c — copies a checkpoint's tensors (timm or transformers names) into float32 arenas. */
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each array starts on a 64-byte boundary so vector kernels may use aligned loads. */
#define ALIGN_FLOATS 16

typedef struct {
    const st_file *st;
    unsigned char *used;       /* [st_count]: tensor consumed by the layout */
    char *err;
    size_t errlen;
} loader;

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
    if (c->distilled) CARVE(D, &w->dist_token);
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

/* Copies tensor `name`, which must have exactly the shape dims[0..nd), into dst as float32 and
 * marks it used. Missing tensors and shape mismatches are DEIT_EINVAL, dtypes other than
 * F32/F16/BF16 DEIT_EUNSUPPORTED; each message names the tensor. */
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
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return deit_fail(L->err, L->errlen, DEIT_EUNSUPPORTED,
                         "checkpoint: tensor '%s': dtype %s unsupported (F32, F16 or BF16)", name,
                         st_dtype_name(t->dtype));
    /* st_find returns a pointer into the same array st_at indexes, so the offset is its index. */
    size_t idx = (size_t)(t - st_at(L->st, 0));
    if (idx < st_count(L->st)) L->used[idx] = 1;
    return st_to_f32(t, dst);
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

/* Builds "<a><b>" into buf; names are short, so a truncation would only make a lookup miss. */
static const char *nm(char *buf, size_t len, const char *a, const char *b)
{
    snprintf(buf, len, "%s%s", a, b);
    return buf;
}

static int load_timm(loader *L, const deit_config *c, deit_weights *w)
{
    const int64_t D = c->dim, M = c->mlp_hidden, K = c->n_classes;
    char n[160], pre[48];
    int rc;
    if ((rc = load(L, "patch_embed.proj.weight", 4, (const int64_t[]){D, c->in_chans, c->patch, c->patch},
                   w->patch_w)) ||
        (rc = load1(L, "patch_embed.proj.bias", D, w->patch_b)) ||
        (rc = load3(L, "cls_token", 1, 1, D, w->cls_token)) ||
        (c->distilled && (rc = load3(L, "dist_token", 1, 1, D, w->dist_token))) ||
        (rc = load3(L, "pos_embed", 1, c->n_tokens, D, w->pos_embed)))
        return rc;
    for (int b = 0; b < c->depth; b++) {
        deit_block_weights *bw = &w->blocks[b];
        snprintf(pre, sizeof pre, "blocks.%d.", b);
        if ((rc = load1(L, nm(n, sizeof n, pre, "norm1.weight"), D, bw->norm1_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "norm1.bias"), D, bw->norm1_b)) ||
            (rc = load2(L, nm(n, sizeof n, pre, "attn.qkv.weight"), 3 * D, D, bw->qkv_w)) ||
            (c->qkv_bias && (rc = load1(L, nm(n, sizeof n, pre, "attn.qkv.bias"), 3 * D, bw->qkv_b))) ||
            (rc = load2(L, nm(n, sizeof n, pre, "attn.proj.weight"), D, D, bw->proj_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "attn.proj.bias"), D, bw->proj_b)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "norm2.weight"), D, bw->norm2_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "norm2.bias"), D, bw->norm2_b)) ||
            (rc = load2(L, nm(n, sizeof n, pre, "mlp.fc1.weight"), M, D, bw->fc1_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "mlp.fc1.bias"), M, bw->fc1_b)) ||
            (rc = load2(L, nm(n, sizeof n, pre, "mlp.fc2.weight"), D, M, bw->fc2_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "mlp.fc2.bias"), D, bw->fc2_b)))
            return rc;
    }
    if ((rc = load1(L, "norm.weight", D, w->norm_w)) || (rc = load1(L, "norm.bias", D, w->norm_b)) ||
        (rc = load2(L, "head.weight", K, D, w->head_w)) || (rc = load1(L, "head.bias", K, w->head_b)))
        return rc;
    if (c->distilled &&
        ((rc = load2(L, "head_dist.weight", K, D, w->head_dist_w)) ||
         (rc = load1(L, "head_dist.bias", K, w->head_dist_b))))
        return rc;
    return DEIT_OK;
}

/* transformers keeps query, key and value as three Linear layers; stacking their rows (and biases)
 * as [q; k; v] gives exactly timm's fused qkv. */
static int load_hf(loader *L, const deit_config *c, const char *P, deit_weights *w)
{
    const int64_t D = c->dim, M = c->mlp_hidden, K = c->n_classes;
    const size_t DD = (size_t)D * (size_t)D;
    char n[200], pre[64];
    int rc;
    if ((rc = load(L, nm(n, sizeof n, P, "embeddings.patch_embeddings.projection.weight"), 4,
                   (const int64_t[]){D, c->in_chans, c->patch, c->patch}, w->patch_w)) ||
        (rc = load1(L, nm(n, sizeof n, P, "embeddings.patch_embeddings.projection.bias"), D, w->patch_b)) ||
        (rc = load3(L, nm(n, sizeof n, P, "embeddings.cls_token"), 1, 1, D, w->cls_token)) ||
        (c->distilled &&
         (rc = load3(L, nm(n, sizeof n, P, "embeddings.distillation_token"), 1, 1, D, w->dist_token))) ||
        (rc = load3(L, nm(n, sizeof n, P, "embeddings.position_embeddings"), 1, c->n_tokens, D, w->pos_embed)))
        return rc;
    static const char *const qkv[3] = {"query", "key", "value"};
    for (int b = 0; b < c->depth; b++) {
        deit_block_weights *bw = &w->blocks[b];
        snprintf(pre, sizeof pre, "%sencoder.layer.%d.", P, b);
        for (int j = 0; j < 3; j++) {
            char leaf[64];
            snprintf(leaf, sizeof leaf, "attention.attention.%s.weight", qkv[j]);
            if ((rc = load2(L, nm(n, sizeof n, pre, leaf), D, D, bw->qkv_w + (size_t)j * DD))) return rc;
            if (!c->qkv_bias) continue;
            snprintf(leaf, sizeof leaf, "attention.attention.%s.bias", qkv[j]);
            if ((rc = load1(L, nm(n, sizeof n, pre, leaf), D, bw->qkv_b + (size_t)j * (size_t)D))) return rc;
        }
        if ((rc = load1(L, nm(n, sizeof n, pre, "layernorm_before.weight"), D, bw->norm1_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "layernorm_before.bias"), D, bw->norm1_b)) ||
            (rc = load2(L, nm(n, sizeof n, pre, "attention.output.dense.weight"), D, D, bw->proj_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "attention.output.dense.bias"), D, bw->proj_b)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "layernorm_after.weight"), D, bw->norm2_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "layernorm_after.bias"), D, bw->norm2_b)) ||
            (rc = load2(L, nm(n, sizeof n, pre, "intermediate.dense.weight"), M, D, bw->fc1_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "intermediate.dense.bias"), M, bw->fc1_b)) ||
            (rc = load2(L, nm(n, sizeof n, pre, "output.dense.weight"), D, M, bw->fc2_w)) ||
            (rc = load1(L, nm(n, sizeof n, pre, "output.dense.bias"), D, bw->fc2_b)))
            return rc;
    }
    const char *head = c->distilled ? "cls_classifier." : "classifier.";
    if ((rc = load1(L, nm(n, sizeof n, P, "layernorm.weight"), D, w->norm_w)) ||
        (rc = load1(L, nm(n, sizeof n, P, "layernorm.bias"), D, w->norm_b)) ||
        (rc = load2(L, nm(n, sizeof n, head, "weight"), K, D, w->head_w)) ||
        (rc = load1(L, nm(n, sizeof n, head, "bias"), K, w->head_b)))
        return rc;
    if (c->distilled &&
        ((rc = load2(L, "distillation_classifier.weight", K, D, w->head_dist_w)) ||
         (rc = load1(L, "distillation_classifier.bias", K, w->head_dist_b))))
        return rc;
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

/* Tensors the computation never reads: the transformers pooler (unused by the classifiers) and
 * the mask token (only used for masked-image modelling). */
static int ignorable(const deit_config *c, const char *P, const char *name)
{
    if (c->layout != LAYOUT_TRANSFORMERS) return 0;
    size_t pl = strlen(P);
    return strncmp(name, P, pl) == 0 &&
           (strncmp(name + pl, "pooler.", 7) == 0 || strcmp(name + pl, "embeddings.mask_token") == 0);
}

/* The limits deit_config_resolve enforces, re-checked so a hand-built config cannot overflow. */
static int check_cfg(const deit_config *c, char *err, size_t errlen)
{
    if (c->dim < 1 || c->dim > DEIT_MAX_DIM || c->depth < 1 || c->depth > DEIT_MAX_DEPTH ||
        c->mlp_hidden < 1 || c->mlp_hidden > DEIT_MAX_MLP || c->n_classes < 1 ||
        c->n_classes > DEIT_MAX_CLASSES || c->patch < 1 || c->patch > DEIT_MAX_PATCH ||
        (c->in_chans != 1 && c->in_chans != 3) || c->n_tokens < 1 || c->n_tokens > DEIT_MAX_TOKENS)
        return deit_fail(err, errlen, DEIT_EINVAL, "weights: configuration out of range");
    return DEIT_OK;
}

int deit_weights_load(const st_file *st, const deit_config *cfg, deit_weights *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    int rc = check_cfg(cfg, err, errlen);
    if (rc) return rc;
    size_t total, ltotal;
    if (plan(cfg, w, NULL, NULL, &total, &ltotal) || total > SIZE_MAX / sizeof(float) ||
        ltotal > SIZE_MAX / sizeof(float))
        return deit_fail(err, errlen, DEIT_ETOOBIG, "weights: parameter count overflows");
    size_t bytes = total * sizeof(float), lbytes = ltotal * sizeof(float);
    w->blocks = calloc((size_t)cfg->depth, sizeof *w->blocks);
    w->depth = w->blocks ? cfg->depth : 0;
    w->arena = aligned_alloc(ALIGN_FLOATS * sizeof(float), bytes);
    w->linear_arena = aligned_alloc(ALIGN_FLOATS * sizeof(float), lbytes);
    loader L = {st, calloc(st_count(st) + 1, 1), err, errlen};
    if (!w->blocks || !w->arena || !w->linear_arena || !L.used) {
        rc = deit_fail(err, errlen, DEIT_ENOMEM, "weights: cannot allocate %zu bytes", bytes + lbytes);
        goto out;
    }
    w->arena_floats = total;
    w->linear_floats = ltotal;
    memset(w->arena, 0, bytes); /* absent qkv biases read as zeros */
    plan(cfg, w, w->arena, w->linear_arena, &total, &ltotal);
    const char *P = "";
    if (cfg->layout == LAYOUT_TRANSFORMERS) P = st_find(st, "vit.embeddings.cls_token") ? "vit." : "deit.";
    rc = cfg->layout == LAYOUT_TIMM ? load_timm(&L, cfg, w) : load_hf(&L, cfg, P, w);
    if (rc) goto out;
    /* Anything left over would be silently ignored, and might have changed the result. */
    for (size_t i = 0; i < st_count(st); i++) {
        const char *name = st_at(st, i)->name;
        if (L.used[i] || ignorable(cfg, P, name)) continue;
        const char *why = extra_reason(name);
        rc = deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                       "checkpoint: unexpected tensor '%s'%s%s%s: it would change the computation", name,
                       why ? " (" : "", why ? why : "", why ? ")" : "");
        goto out;
    }
out:
    free(L.used);
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
