/* tensor_facts.c — every size the computation depends on, read from the checkpoint's tensor shapes
 * (through the naming scheme decided once) and bounded before use. */
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* The tensor `name`, checked to have `ndim` dimensions; NULL (with *rc set) if missing or wrong. */
static const st_tensor *tensor(const st_file *st, const char *name, int ndim, int *rc, char *err,
                               size_t errlen)
{
    *rc = DEIT_OK;
    const st_tensor *t = st_find(st, name);
    if (!t) {
        *rc = deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s' is missing", name);
        return NULL;
    }
    if (t->ndim != ndim) {
        *rc = deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s': %d dimensions, expected %d",
                        name, t->ndim, ndim);
        return NULL;
    }
    return t;
}

/* Checks that dimension `i` of t lies in [lo, hi] (before it is narrowed to int or multiplied). */
static int dim_in(const st_tensor *t, int i, long long lo, long long hi, const char *what, int *out,
                  char *err, size_t errlen)
{
    int64_t v = t->shape[i];
    if (v < lo || v > hi)
        return deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s': %s %lld is outside [%lld, %lld]",
                         t->name, what, (long long)v, lo, hi);
    *out = (int)v;
    return DEIT_OK;
}

static int dim_is(const st_tensor *t, int i, int want, const char *what, char *err, size_t errlen)
{
    if (t->shape[i] != want)
        return deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s': %s is %lld, expected %d",
                         t->name, what, (long long)t->shape[i], want);
    return DEIT_OK;
}

/* Counts blocks from every name under `bprefix` ("blocks." or "<p>encoder.layer."): indices must be
 * plain decimal and cover 0..N-1 without a gap. */
static int count_blocks(const st_file *st, const char *bprefix, int *depth, char *err, size_t errlen)
{
    unsigned char seen[DEIT_MAX_DEPTH] = {0};
    int max = -1;
    size_t plen = strlen(bprefix);
    for (size_t i = 0; i < st_count(st); i++) {
        const char *n = st_at(st, i)->name;
        if (!has_prefix(n, bprefix)) continue;
        const char *p = n + plen;
        long idx = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            idx = idx * 10 + (*p - '0');
            p++;
            if (++digits > 6 || idx >= DEIT_MAX_DEPTH)
                return deit_fail(err, errlen, DEIT_EINVAL,
                                 "checkpoint: tensor '%s': block index over the limit of %d blocks", n,
                                 DEIT_MAX_DEPTH);
        }
        if (digits == 0 || *p != '.' || (digits > 1 && n[plen] == '0'))
            return deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s': malformed block index", n);
        seen[idx] = 1;
        if (idx > max) max = (int)idx;
    }
    if (max < 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: no transformer blocks ('%s0.*')", bprefix);
    for (int b = 0; b <= max; b++)
        if (!seen[b])
            return deit_fail(err, errlen, DEIT_EINVAL,
                             "checkpoint: block %d is missing ('%s%d.*') but block %d exists", b, bprefix,
                             b, max);
    *depth = max + 1;
    return DEIT_OK;
}

/* The heads against the tokens they read. Two heads: timm 'head' + 'head_dist', transformers
 * 'cls_classifier' + 'distillation_classifier' (DeiTForImageClassificationWithTeacher), each with
 * a distillation token. One head on token 0: timm 'head' without a distillation token, transformers
 * 'classifier' with one (DeiTForImageClassification: the token takes part in attention, no head
 * reads it) or without ('vit.'). timm never has the token without its head. */
static int check_heads(const st_file *st, const deit_naming *N, const char *head_dist, const char *dist,
                       char *err, size_t errlen)
{
    int timm = N->layout == LAYOUT_TIMM, has_head_dist = st_find(st, head_dist) != NULL;
    if (has_head_dist && !N->dist_token)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s' present without a distillation token '%s'", head_dist, dist);
    if (!timm && N->dist_head && st_find(st, "classifier.weight"))
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: 'classifier.weight' beside a distillation head (transformers names "
                         "the class head of a two-head model 'cls_classifier')");
    if (N->dist_head && !has_head_dist)
        return deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s' is missing (the checkpoint has %s)",
                         head_dist, timm ? "other 'head_dist.' tensors"
                                         : "'cls_classifier' or 'distillation_classifier' tensors of a two-head model");
    if (timm && N->dist_token && !N->dist_head)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s' is missing (the checkpoint has a distillation token)",
                         head_dist);
    return DEIT_OK;
}

/* Reads every size the computation depends on from the tensor shapes, bounding each before use. */
int read_tensor_facts(const st_file *st, tensor_facts *tf, char *err, size_t errlen)
{
    int rc = naming_detect(st, &tf->naming, err, errlen);
    if (rc) return rc;
    const deit_naming *N = &tf->naming;
    int timm = N->layout == LAYOUT_TIMM;
    char cls[64], pw[96], dist[64], bpre[64], fc1[128], qb[128], head[64], head_dist[64];
    naming_tensor(N, TN_CLS, 0, cls, sizeof cls);
    naming_tensor(N, TN_POS, 0, tf->pos_name, sizeof tf->pos_name);
    naming_tensor(N, TN_PATCH_W, 0, pw, sizeof pw);
    naming_tensor(N, TN_DIST, 0, dist, sizeof dist);
    naming_tensor(N, TN_BLOCKS, 0, bpre, sizeof bpre);
    naming_tensor(N, TN_FC1_W, 0, fc1, sizeof fc1);
    naming_tensor(N, timm ? TN_QKV_B : TN_Q_B, 0, qb, sizeof qb);
    naming_tensor(N, TN_HEAD_W, 0, head, sizeof head);
    naming_tensor(N, TN_HEAD_DIST_W, 0, head_dist, sizeof head_dist);

    /* transformers' DeiTEmbeddings always has a distillation token (and a position embedding with
     * two prefix rows), so 'deit.' names without one are no checkpoint transformers wrote or could
     * load; its one-token model is ViT ('vit.'). */
    if (!timm && !N->dist_token && strcmp(N->prefix, "deit.") == 0)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s' is missing (transformers' DeiT always has one; a model "
                         "without a distillation token is a ViT, 'vit.' names)", dist);
    /* The mirror case: transformers' ViTEmbeddings has no distillation token (its position
     * embedding one prefix row), so 'vit.' names with one are no file it wrote or could load. */
    if (!timm && N->dist_token && strcmp(N->prefix, "vit.") == 0)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s' is not part of transformers' ViT (a model with a "
                         "distillation token is a DeiT, 'deit.' names)", dist);

    const st_tensor *t = tensor(st, cls, 3, &rc, err, errlen);
    if (!t) return rc;
    if ((rc = dim_is(t, 0, 1, "dim 0", err, errlen)) || (rc = dim_is(t, 1, 1, "dim 1", err, errlen)) ||
        (rc = dim_in(t, 2, 1, DEIT_MAX_DIM, "width", &tf->dim, err, errlen)))
        return rc;

    if (!(t = tensor(st, pw, 4, &rc, err, errlen))) return rc;
    if ((rc = dim_is(t, 0, tf->dim, "output channels", err, errlen)) ||
        (rc = dim_in(t, 1, 1, 3, "input channels", &tf->in_chans, err, errlen)) ||
        (rc = dim_in(t, 2, 1, DEIT_MAX_PATCH, "patch height", &tf->patch, err, errlen)))
        return rc;
    if (tf->in_chans == 2)
        return deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s': 2 input channels (1 or 3 supported)",
                         pw);
    if (t->shape[3] != tf->patch)
        return deit_fail(err, errlen, DEIT_EINVAL, "checkpoint: tensor '%s': patch %lldx%lld is not square",
                         pw, (long long)t->shape[2], (long long)t->shape[3]);
    tf->dtype = t->dtype;
    if ((rc = naming_check_dtype(t, err, errlen))) return rc;

    if (!(t = tensor(st, tf->pos_name, 3, &rc, err, errlen))) return rc;
    if ((rc = dim_is(t, 0, 1, "dim 0", err, errlen)) ||
        (rc = dim_in(t, 1, 1, DEIT_MAX_TOKENS, "tokens", &tf->tokens, err, errlen)) ||
        (rc = dim_is(t, 2, tf->dim, "width", err, errlen)))
        return rc;

    if ((rc = count_blocks(st, bpre, &tf->depth, err, errlen))) return rc;

    if (!(t = tensor(st, fc1, 2, &rc, err, errlen))) return rc;
    if ((rc = dim_in(t, 0, 1, DEIT_MAX_MLP, "hidden width", &tf->mlp, err, errlen)) ||
        (rc = dim_is(t, 1, tf->dim, "input width", err, errlen)))
        return rc;

    tf->dist_token = N->dist_token;
    tf->dist_head = N->dist_head;
    if ((rc = check_heads(st, N, head_dist, dist, err, errlen))) return rc;
    if (!(t = tensor(st, head, 2, &rc, err, errlen))) {
        if (rc && !st_find(st, head))
            return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                             "checkpoint: tensor '%s' is missing (models without a %sclassifier head are "
                             "not supported)", head, tf->dist_head ? "class-token " : "");
        return rc;
    }
    if ((rc = dim_in(t, 0, 1, DEIT_MAX_CLASSES, "classes", &tf->classes, err, errlen)) ||
        (rc = dim_is(t, 1, tf->dim, "input width", err, errlen)))
        return rc;
    /* every answer is a softmax over the classes: over one logit it is 1.0 for every image */
    if (tf->classes == 1)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                         "checkpoint: tensor '%s' has one output: a single-logit head (binary with a sigmoid, "
                         "or a regression) has no classes to rank, and a softmax over it would say 1.0 for "
                         "every image; not served", head);
    tf->qkv_bias = st_find(st, qb) != NULL;
    /* timm's LayerScale (init_values): its first gamma says whether the blocks have it; weights.c
     * then requires every block's two and their shape */
    tf->layer_scale = timm && st_find(st, "blocks.0.ls1.gamma") != NULL;
    return DEIT_OK;
}
