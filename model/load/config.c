/* config.c — resolves and validates a deit_config from config JSON, preprocessor JSON and tensor shapes. */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Resize targets may exceed the input side (crop_pct < 1) but not without bound: a tiny crop_pct
 * would otherwise ask the preprocessor for an absurd intermediate image. */
#define RESIZE_MAX (4 * DEIT_MAX_IMAGE_SIDE)
/* Smallest std and rescale_factor accepted: both end up as float32 divisors or factors, so they
 * must stay far from float underflow (the upper bound on means and stds is 1e6). */
#define SCALE_MIN 1e-6

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

/* Where a JSON value came from, so every message can name the file and field. */
typedef struct {
    const char *file;
    char *err;
    size_t errlen;
} jsrc;

/* What the tensors say, before any config is consulted. */
typedef struct {
    weight_layout layout;
    const char *prefix;        /* transformers: "deit." or "vit."; timm: "" */
    int dim, in_chans, patch, tokens, depth, mlp, classes, distilled, qkv_bias;
    st_dtype dtype;
    const char *pos_name;      /* position embedding name without the prefix, for messages */
} tensor_facts;

/* Defaults implied by a timm DeiT architecture name; 0 where the name does not say. */
typedef struct {
    int known, dim, heads, depth, patch, img, distilled;
} arch_info;

/* obj[key], or NULL when obj is not an object, the key is absent, or the value is JSON null
 * (timm and transformers both write null for "not set"). */
static const json_t *jget(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Integer field `where key` (where is "" or "model_args." etc.) within [lo, hi].
 * Returns 1 and sets *out when present, 0 when absent, a DEIT_E* status on a bad value. */
static int opt_int(const jsrc *s, const json_t *obj, const char *where, const char *key, long long lo,
                   long long hi, long long *out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_integer(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected an integer", s->file,
                         where, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: %lld is outside [%lld, %lld]",
                         s->file, where, key, x, lo, hi);
    *out = x;
    return 1;
}

/* Finite number (integer or real) field; same return convention as opt_int. */
static int opt_num(const jsrc *s, const json_t *obj, const char *where, const char *key, double *out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected a number", s->file, where,
                         key);
    *out = json_number_value(v);
    return 1;
}

static int opt_bool(const jsrc *s, const json_t *obj, const char *where, const char *key, int *out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_boolean(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected true or false", s->file,
                         where, key);
    *out = json_is_true(v);
    return 1;
}

static int opt_str(const jsrc *s, const json_t *obj, const char *where, const char *key, const char **out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_string(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected a string", s->file, where,
                         key);
    *out = json_string_value(v);
    return 1;
}

/* Optional sub-object; an absent one reads as NULL (every jget on it then finds nothing). */
static int opt_obj(const jsrc *s, const json_t *obj, const char *where, const char *key, const json_t **out)
{
    *out = NULL;
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_object(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected an object", s->file, where,
                         key);
    *out = v;
    return 1;
}

/* Per-channel mean or std: an array of `chans` numbers, or a single number (bare or in a one-element
 * array) replicated, as timm does for a scalar. std values must be at least SCALE_MIN (they
 * divide, in float32: a tiny positive double such as 1e-300 narrows to 0.0f and would turn every
 * pixel into inf or NaN). */
static int opt_channels(const jsrc *s, const json_t *obj, const char *where, const char *key, int chans,
                        int positive, float out[3])
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    double x[3];
    size_t n;
    if (json_is_number(v)) {
        n = 1;
        x[0] = json_number_value(v);
    } else if (json_is_array(v)) {
        n = json_array_size(v);
        if (n != 1 && n != (size_t)chans)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "%s: %s%s: %zu values for a %d-channel model (expected 1 or %d)", s->file,
                             where, key, n, chans, chans);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_number(e))
                return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s[%zu]: expected a number",
                                 s->file, where, key, i);
            x[i] = json_number_value(e);
        }
    } else {
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected a number or an array",
                         s->file, where, key);
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || fabs(x[i]) > 1e6 || (positive && !(x[i] >= SCALE_MIN)))
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: %g is not a valid %s", s->file,
                             where, key, x[i], positive ? "positive scale" : "value");
    for (int c = 0; c < 3; c++) out[c] = (float)x[n == 1 ? 0 : (c < chans ? c : 0)];
    return 1;
}

/* An image size written as one integer (square) or [H, W]; [C, H, W] when with_chans (timm's
 * input_size), whose C must equal in_chans. Returns 1/0/status like opt_int. */
static int opt_size(const jsrc *s, const json_t *obj, const char *where, const char *key, int with_chans,
                    int in_chans, int *h, int *w)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    long long x[3];
    size_t n = 0;
    if (json_is_integer(v) && !with_chans) {
        x[0] = x[1] = json_integer_value(v);
        n = 2;
    } else if (json_is_array(v) && json_array_size(v) == (with_chans ? 3u : 2u)) {
        n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_integer(e))
                return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s[%zu]: expected an integer",
                                 s->file, where, key, i);
            x[i] = json_integer_value(e);
        }
    } else {
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected %s", s->file, where, key,
                         with_chans ? "[channels, height, width]" : "an integer or [height, width]");
    }
    if (with_chans && x[0] != in_chans)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: %s%s: %lld channels but the patch embedding takes %d", s->file, where, key,
                         x[0], in_chans);
    long long hh = x[n - 2], ww = x[n - 1];
    if (hh < 1 || hh > DEIT_MAX_IMAGE_SIDE || ww < 1 || ww > DEIT_MAX_IMAGE_SIDE)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: %lldx%lld is outside 1..%d", s->file,
                         where, key, hh, ww, DEIT_MAX_IMAGE_SIDE);
    *h = (int)hh;
    *w = (int)ww;
    return 1;
}

/* Checks an optional integer config field against the value the tensors fixed. */
static int agree_int(const jsrc *s, const json_t *obj, const char *where, const char *key, long long actual,
                     const char *what)
{
    long long v;
    int rc = opt_int(s, obj, where, key, 0, 1LL << 40, &v);
    if (rc < 0) return rc;
    if (rc && v != actual)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s is %lld but the tensors give %s %lld",
                         s->file, where, key, v, what, actual);
    return DEIT_OK;
}

/* ---- tensors ---------------------------------------------------------------------------------- */

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

static int is_timm_name(const char *n)
{
    static const char *const exact[] = {"cls_token", "pos_embed", "dist_token", "reg_token"};
    static const char *const prefix[] = {"patch_embed.", "blocks.", "norm.", "head.", "head_dist.",
                                         "fc_norm.", "norm_pre."};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strcmp(n, exact[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (has_prefix(n, prefix[i])) return 1;
    return 0;
}

static int is_hf_name(const char *n)
{
    static const char *const prefix[] = {"deit.", "vit.", "cls_classifier.", "distillation_classifier.",
                                         "classifier."};
    for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
        if (has_prefix(n, prefix[i])) return 1;
    return 0;
}

/* Decides timm vs transformers from the names; a mix of both, or neither, is an error. */
static int detect_layout(const st_file *st, tensor_facts *tf, char *err, size_t errlen)
{
    const char *timm = NULL, *hf = NULL, *deit = NULL, *vit = NULL;
    for (size_t i = 0; i < st_count(st); i++) {
        const char *n = st_at(st, i)->name;
        if (!timm && is_timm_name(n)) timm = n;
        if (!hf && is_hf_name(n)) hf = n;
        if (!deit && has_prefix(n, "deit.")) deit = n;
        if (!vit && has_prefix(n, "vit.")) vit = n;
    }
    if (timm && hf)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: mixes timm names ('%s') and transformers names ('%s')", timm, hf);
    if (!timm && !hf)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: no DeiT tensors found (neither timm nor transformers names)");
    if (deit && vit)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: mixes 'deit.' ('%s') and 'vit.' ('%s') prefixes", deit, vit);
    tf->layout = timm ? LAYOUT_TIMM : LAYOUT_TRANSFORMERS;
    tf->prefix = timm ? "" : vit ? "vit." : "deit.";
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

/* Reads every size the computation depends on from the tensor shapes, bounding each before use. */
static int read_tensor_facts(const st_file *st, tensor_facts *tf, char *err, size_t errlen)
{
    int rc = detect_layout(st, tf, err, errlen);
    if (rc) return rc;
    int timm = tf->layout == LAYOUT_TIMM;
    const char *P = tf->prefix;
    char cls[64], pos[64], pw[96], dist[64], bpre[64], fc1[128], qb[128];
    const char *head, *head_dist;
    if (timm) {
        snprintf(cls, sizeof cls, "cls_token");
        snprintf(pos, sizeof pos, "pos_embed");
        snprintf(pw, sizeof pw, "patch_embed.proj.weight");
        snprintf(dist, sizeof dist, "dist_token");
        snprintf(bpre, sizeof bpre, "blocks.");
        snprintf(fc1, sizeof fc1, "blocks.0.mlp.fc1.weight");
        snprintf(qb, sizeof qb, "blocks.0.attn.qkv.bias");
        head = "head.weight";
        head_dist = "head_dist.weight";
    } else {
        snprintf(cls, sizeof cls, "%sembeddings.cls_token", P);
        snprintf(pos, sizeof pos, "%sembeddings.position_embeddings", P);
        snprintf(pw, sizeof pw, "%sembeddings.patch_embeddings.projection.weight", P);
        snprintf(dist, sizeof dist, "%sembeddings.distillation_token", P);
        snprintf(bpre, sizeof bpre, "%sencoder.layer.", P);
        snprintf(fc1, sizeof fc1, "%sencoder.layer.0.intermediate.dense.weight", P);
        snprintf(qb, sizeof qb, "%sencoder.layer.0.attention.attention.query.bias", P);
        head = NULL; /* decided below: cls_classifier when distilled, classifier otherwise */
        head_dist = "distillation_classifier.weight";
    }

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
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                         "checkpoint: tensor '%s': dtype %s unsupported (F32, F16 or BF16)", pw,
                         st_dtype_name(t->dtype));

    if (!(t = tensor(st, pos, 3, &rc, err, errlen))) return rc;
    if ((rc = dim_is(t, 0, 1, "dim 0", err, errlen)) ||
        (rc = dim_in(t, 1, 1, DEIT_MAX_TOKENS, "tokens", &tf->tokens, err, errlen)) ||
        (rc = dim_is(t, 2, tf->dim, "width", err, errlen)))
        return rc;

    if ((rc = count_blocks(st, bpre, &tf->depth, err, errlen))) return rc;

    if (!(t = tensor(st, fc1, 2, &rc, err, errlen))) return rc;
    if ((rc = dim_in(t, 0, 1, DEIT_MAX_MLP, "hidden width", &tf->mlp, err, errlen)) ||
        (rc = dim_is(t, 1, tf->dim, "input width", err, errlen)))
        return rc;

    tf->distilled = st_find(st, dist) != NULL;
    if (!timm) {
        int has_cls = st_find(st, "cls_classifier.weight") != NULL;
        int has_plain = st_find(st, "classifier.weight") != NULL;
        if (has_cls && has_plain)
            return deit_fail(err, errlen, DEIT_EINVAL,
                             "checkpoint: both 'cls_classifier.weight' and 'classifier.weight' present");
        head = tf->distilled ? "cls_classifier.weight" : "classifier.weight";
    }
    if (!(t = tensor(st, head, 2, &rc, err, errlen))) {
        if (rc && !st_find(st, head))
            return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                             "checkpoint: tensor '%s' is missing (models without a %sclassifier head are "
                             "not supported)", head, tf->distilled ? "class-token " : "");
        return rc;
    }
    if ((rc = dim_in(t, 0, 1, DEIT_MAX_CLASSES, "classes", &tf->classes, err, errlen)) ||
        (rc = dim_is(t, 1, tf->dim, "input width", err, errlen)))
        return rc;
    int has_head_dist = st_find(st, head_dist) != NULL;
    if (tf->distilled && !has_head_dist)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s' is missing (the checkpoint has a distillation token)",
                         head_dist);
    if (!tf->distilled && has_head_dist)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s' present without a distillation token '%s'", head_dist,
                         dist);
    tf->qkv_bias = st_find(st, qb) != NULL;

    tf->pos_name = timm ? "pos_embed" : "embeddings.position_embeddings";
    return DEIT_OK;
}

/* ---- timm ------------------------------------------------------------------------------------- */

/* Decodes deit_{tiny,small,base}[_distilled]_patch16_{224,384}[.tag]; anything else is unknown. */
static arch_info timm_arch(const char *arch)
{
    arch_info a = {0};
    static const struct {
        const char *stem;
        int dim, heads;
    } table[] = {{"deit_tiny_", 192, 3}, {"deit_small_", 384, 6}, {"deit_base_", 768, 12}};
    char base[128];
    snprintf(base, sizeof base, "%s", arch);
    char *dot = strchr(base, '.'); /* hub tag, e.g. ".fb_in1k" */
    if (dot) *dot = '\0';
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (!has_prefix(base, table[i].stem)) continue;
        a.known = 1;
        a.dim = table[i].dim;
        a.heads = table[i].heads;
        a.depth = 12;
        a.distilled = strstr(base, "_distilled") != NULL;
        if (strstr(base, "_patch16_")) a.patch = 16;
        size_t n = strlen(base);
        if (n >= 4 && strcmp(base + n - 4, "_224") == 0) a.img = 224;
        if (n >= 4 && strcmp(base + n - 4, "_384") == 0) a.img = 384;
    }
    return a;
}

/* A value the architecture name implies, checked against the tensors unless model_args set `key`
 * (model_args override the architecture's defaults). `what` names the quantity in the message. */
static int agree_arch(const jsrc *s, const json_t *margs, const char *key, const char *what,
                      const char *arch, int implied, int actual)
{
    if (!implied || jget(margs, key)) return DEIT_OK;
    if (implied != actual)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: architecture '%s' implies %s %d but the tensors give %d", s->file, arch, what,
                         implied, actual);
    return DEIT_OK;
}

/* Everything timm-specific: architecture defaults, model_args, pretrained_cfg preprocessing.
 * Sets heads, image size (0 = infer), eps and cfg->pre except channels/crop which the caller
 * finishes once the image size is known. *pcrop_pct receives the crop_pct to apply. */
static int resolve_timm(const jsrc *s, const json_t *root, const tensor_facts *tf, deit_config *cfg,
                        double *pcrop_pct)
{
    int rc;
    const char *arch = "";
    if ((rc = opt_str(s, root, "", "architecture", &arch)) < 0) return rc;
    if (strlen(arch) >= sizeof cfg->architecture)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: architecture: name longer than %zu bytes",
                         s->file, sizeof cfg->architecture - 1);
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s", arch);
    arch_info a = timm_arch(arch);

    const json_t *margs, *pcfg;
    if ((rc = opt_obj(s, root, "", "model_args", &margs)) < 0) return rc;
    if ((rc = opt_obj(s, root, "", "pretrained_cfg", &pcfg)) < 0) return rc;

    /* Sizes the tensors fixed: the config may repeat them but not contradict them. */
    if ((rc = agree_int(s, margs, "model_args.", "embed_dim", tf->dim, "embed_dim")) ||
        (rc = agree_int(s, root, "", "num_features", tf->dim, "embed_dim")) ||
        (rc = agree_int(s, margs, "model_args.", "depth", tf->depth, "depth")) ||
        (rc = agree_int(s, margs, "model_args.", "patch_size", tf->patch, "patch size")) ||
        (rc = agree_int(s, margs, "model_args.", "in_chans", tf->in_chans, "in_chans")) ||
        (rc = agree_int(s, margs, "model_args.", "num_classes", tf->classes, "num_classes")) ||
        (rc = agree_int(s, root, "", "num_classes", tf->classes, "num_classes")))
        return rc;
    if (a.known) {
        if ((rc = agree_arch(s, margs, "embed_dim", "embed_dim", arch, a.dim, tf->dim)) ||
            (rc = agree_arch(s, margs, "depth", "depth", arch, a.depth, tf->depth)) ||
            (rc = agree_arch(s, margs, "patch_size", "patch size", arch, a.patch, tf->patch)) ||
            (rc = agree_arch(s, margs, "mlp_ratio", "mlp hidden width", arch, 4 * tf->dim, tf->mlp)))
            return rc;
        if (a.distilled != tf->distilled)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "%s: architecture '%s' is %sdistilled but the checkpoint %s a distillation token",
                             s->file, arch, a.distilled ? "" : "not ", tf->distilled ? "has" : "lacks");
    }
    double ratio;
    if ((rc = opt_num(s, margs, "model_args.", "mlp_ratio", &ratio)) < 0) return rc;
    if (rc && !(ratio > 0 && ratio <= DEIT_MAX_MLP))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: model_args.mlp_ratio: %g is out of range",
                         s->file, ratio);
    if (rc && (long long)((double)tf->dim * ratio) != tf->mlp)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: model_args.mlp_ratio %g gives hidden width %lld but the tensors give %d",
                         s->file, ratio, (long long)((double)tf->dim * ratio), tf->mlp);
    int qkv_bias;
    if ((rc = opt_bool(s, margs, "model_args.", "qkv_bias", &qkv_bias)) < 0) return rc;
    if (rc && qkv_bias != tf->qkv_bias)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: model_args.qkv_bias is %s but the checkpoint %s 'blocks.0.attn.qkv.bias'",
                         s->file, qkv_bias ? "true" : "false", tf->qkv_bias ? "has" : "lacks");
    /* Average pooling would change the output with the very same tensors. */
    const char *pool;
    if ((rc = opt_str(s, root, "", "global_pool", &pool)) < 0) return rc;
    if (rc && strcmp(pool, "token") != 0)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: global_pool '%s' unsupported (only 'token')",
                         s->file, pool);
    if ((rc = opt_str(s, margs, "model_args.", "global_pool", &pool)) < 0) return rc;
    if (rc && strcmp(pool, "token") != 0)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: model_args.global_pool '%s' unsupported (only 'token')", s->file, pool);

    long long heads = 0;
    if ((rc = opt_int(s, margs, "model_args.", "num_heads", 1, DEIT_MAX_HEADS, &heads)) < 0) return rc;
    if (!rc && a.known && a.dim == tf->dim) heads = a.heads;
    cfg->heads = (int)heads; /* 0: default below */

    /* Model input size: model_args.img_size is what the network was built with; the data config's
     * input_size must then agree (checked by the caller as crop == input). */
    int ih = 0, iw = 0, ph = 0, pw = 0;
    if ((rc = opt_size(s, margs, "model_args.", "img_size", 0, tf->in_chans, &ih, &iw)) < 0) return rc;
    int have_input = opt_size(s, pcfg, "pretrained_cfg.", "input_size", 1, tf->in_chans, &ph, &pw);
    if (have_input < 0) return have_input;
    if (!have_input && (have_input = opt_size(s, root, "", "input_size", 1, tf->in_chans, &ph, &pw)) < 0)
        return have_input;
    if (!ih && have_input) {
        ih = ph;
        iw = pw;
    }
    if (!ih && a.img) ih = iw = a.img;
    if (have_input && (ph != ih || pw != iw))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: input_size %dx%d differs from the model's image size %dx%d", s->file, ph, pw,
                         ih, iw);
    cfg->image_h = ih;
    cfg->image_w = iw;
    cfg->ln_eps = 1e-6f;

    /* Data config: pretrained_cfg first, then the top level (older hub files keep it there). */
    const json_t *dc[2] = {pcfg, root};
    const char *dcw[2] = {"pretrained_cfg.", ""};
    const char *interp = NULL, *mode = NULL;
    double crop_pct = 0;
    int have_pct = 0, have_mean = 0, have_std = 0;
    deit_preproc *pp = &cfg->pre;
    for (int i = 0; i < 2; i++) {
        if (!interp && (rc = opt_str(s, dc[i], dcw[i], "interpolation", &interp)) < 0) return rc;
        if (!mode && (rc = opt_str(s, dc[i], dcw[i], "crop_mode", &mode)) < 0) return rc;
        if (!have_pct) {
            if ((rc = have_pct = opt_num(s, dc[i], dcw[i], "crop_pct", &crop_pct)) < 0) return rc;
            if (have_pct && !(crop_pct > 0 && crop_pct <= 1))
                return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %scrop_pct: %g is outside (0, 1]",
                                 s->file, dcw[i], crop_pct);
        }
        if (!have_mean &&
            (rc = have_mean = opt_channels(s, dc[i], dcw[i], "mean", tf->in_chans, 0, pp->mean)) < 0)
            return rc;
        if (!have_std &&
            (rc = have_std = opt_channels(s, dc[i], dcw[i], "std", tf->in_chans, 1, pp->std)) < 0)
            return rc;
    }
    if (!interp || strcmp(interp, "") == 0 || strcmp(interp, "bicubic") == 0) pp->interp = INTERP_BICUBIC;
    else if (strcmp(interp, "bilinear") == 0) pp->interp = INTERP_BILINEAR;
    else if (strcmp(interp, "nearest") == 0) pp->interp = INTERP_NEAREST;
    else
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: interpolation '%s' unsupported (bicubic, bilinear or nearest)", s->file, interp);
    if (mode && strcmp(mode, "center") != 0)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: crop_mode '%s' unsupported (only 'center')",
                         s->file, mode);
    if (!have_mean) memcpy(pp->mean, imagenet_mean, sizeof pp->mean);
    if (!have_std) memcpy(pp->std, imagenet_std, sizeof pp->std);
    /* timm's DeiT default is 0.875, except the 384 models which are evaluated uncropped. Without
     * an architecture that names its size, 0 leaves the choice to the input size (finish_preproc). */
    if (!have_pct) crop_pct = a.img ? (a.img == 384 ? 1.0 : 0.875) : 0;
    *pcrop_pct = crop_pct;
    pp->rescale = 1.0f / 255.0f;
    pp->do_resize = pp->do_crop = 1;
    pp->resampler = RESAMPLE_PILLOW;  /* timm's eval transform resizes PIL images */
    pp->crop_rule = CROP_TORCHVISION;
    return DEIT_OK;
}

/* ---- transformers ----------------------------------------------------------------------------- */

/* A transformers size: {height, width}, {shortest_edge} (then *h = shortest, *w = 0) or an integer
 * (square). Returns 1/0/status like opt_int. */
static int hf_size(const jsrc *s, const json_t *obj, const char *key, int allow_shortest, int *h, int *w)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    long long hh, ww;
    if (json_is_integer(v)) {
        hh = ww = json_integer_value(v);
    } else if (json_is_object(v) && jget(v, "height") && jget(v, "width")) {
        char where[64];
        snprintf(where, sizeof where, "%s.", key);
        int rc;
        if ((rc = opt_int(s, v, where, "height", 1, RESIZE_MAX, &hh)) < 0 ||
            (rc = opt_int(s, v, where, "width", 1, RESIZE_MAX, &ww)) < 0)
            return rc;
    } else if (json_is_object(v) && allow_shortest && jget(v, "shortest_edge")) {
        char where[64];
        snprintf(where, sizeof where, "%s.", key);
        int rc;
        if (jget(v, "longest_edge"))
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s.longest_edge unsupported", s->file,
                             key);
        if ((rc = opt_int(s, v, where, "shortest_edge", 1, RESIZE_MAX, &hh)) < 0) return rc;
        ww = 0;
    } else {
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: expected {\"height\", \"width\"}%s",
                         s->file, key, allow_shortest ? " or {\"shortest_edge\"}" : "");
    }
    if (hh < 1 || hh > RESIZE_MAX || ww < 0 || ww > RESIZE_MAX)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: %lldx%lld is outside 1..%d", s->file, key,
                         hh, ww, RESIZE_MAX);
    *h = (int)hh;
    *w = (int)ww;
    return 1;
}

/* transformers config.json and preprocessor_config.json. Sets heads, image size (0 = infer), eps,
 * architecture and cfg->pre; crop and resize are checked by the caller against the input size. */
static int resolve_hf(const jsrc *s, const json_t *root, const jsrc *ps, const json_t *proot,
                      const tensor_facts *tf, deit_config *cfg)
{
    int rc;
    const json_t *archs = jget(root, "architectures");
    if (archs) {
        const json_t *a0 = json_is_array(archs) ? json_array_get(archs, 0) : NULL;
        if (!json_is_array(archs) || (json_array_size(archs) > 0 && !json_is_string(a0)))
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: architectures: expected an array of strings",
                             s->file);
        if (a0 && strlen(json_string_value(a0)) >= sizeof cfg->architecture)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: architectures[0]: longer than %zu bytes",
                             s->file, sizeof cfg->architecture - 1);
        if (a0) snprintf(cfg->architecture, sizeof cfg->architecture, "%s", json_string_value(a0));
    }
    if ((rc = agree_int(s, root, "", "hidden_size", tf->dim, "embed_dim")) ||
        (rc = agree_int(s, root, "", "num_hidden_layers", tf->depth, "depth")) ||
        (rc = agree_int(s, root, "", "intermediate_size", tf->mlp, "hidden width")) ||
        (rc = agree_int(s, root, "", "num_channels", tf->in_chans, "in_chans")) ||
        (rc = agree_int(s, root, "", "patch_size", tf->patch, "patch size")) ||
        (rc = agree_int(s, root, "", "num_labels", tf->classes, "num_classes")))
        return rc;
    int qkv_bias;
    if ((rc = opt_bool(s, root, "", "qkv_bias", &qkv_bias)) < 0) return rc;
    if (rc && qkv_bias != tf->qkv_bias)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: qkv_bias is %s but the checkpoint %s the query bias", s->file,
                         qkv_bias ? "true" : "false", tf->qkv_bias ? "has" : "lacks");
    const char *act;
    if ((rc = opt_str(s, root, "", "hidden_act", &act)) < 0) return rc;
    if (rc && strcmp(act, "gelu") != 0)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: hidden_act '%s' unsupported (only 'gelu')",
                         s->file, act);
    long long heads = 0;
    if ((rc = opt_int(s, root, "", "num_attention_heads", 1, DEIT_MAX_HEADS, &heads)) < 0) return rc;
    cfg->heads = (int)heads;
    double eps = 1e-12;
    if ((rc = opt_num(s, root, "", "layer_norm_eps", &eps)) < 0) return rc;
    if (!(eps > 0 && eps < 1))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: layer_norm_eps: %g is outside (0, 1)", s->file,
                         eps);
    cfg->ln_eps = (float)eps;
    if ((rc = opt_size(s, root, "", "image_size", 0, tf->in_chans, &cfg->image_h, &cfg->image_w)) < 0)
        return rc;

    /* Preprocessing defaults: DeiTImageProcessor (resize 256x256 for a 224 input, crop, bicubic,
     * ImageNet statistics) or ViTImageProcessor (resize to the input, no crop, bilinear, 0.5). */
    int vit = strcmp(tf->prefix, "vit.") == 0;
    deit_preproc *pp = &cfg->pre;
    pp->resize = RESIZE_EXACT;
    pp->resize_h = pp->resize_w = 0; /* filled from the input size by the caller when still 0 */
    pp->do_resize = 1;
    pp->do_crop = !vit;
    pp->interp = vit ? INTERP_BILINEAR : INTERP_BICUBIC;
    pp->rescale = 1.0f / 255.0f;
    /* AutoImageProcessor gives the "fast" processor by default in transformers 5: it resizes the
     * image as a uint8 tensor with torchvision (not Pillow), crops with its own rule, and folds
     * the rescale into the normalisation (see preprocess.h). */
    pp->resampler = RESAMPLE_TORCHVISION;
    pp->crop_rule = CROP_HF_FAST;
    pp->norm = NORM_HF_FUSED;
    pp->rescale_inv = 255.0f;
    for (int c = 0; c < 3; c++) {
        pp->mean[c] = vit ? 0.5f : imagenet_mean[c];
        pp->std[c] = vit ? 0.5f : imagenet_std[c];
    }
    if (!proot) return DEIT_OK;

    int h, w;
    if ((rc = hf_size(ps, proot, "size", 1, &h, &w)) < 0) return rc;
    if (rc && w == 0) {
        pp->resize = RESIZE_SHORTEST_SIDE;
        pp->resize_short = h;
    } else if (rc) {
        pp->resize_h = h;
        pp->resize_w = w;
    }
    if ((rc = hf_size(ps, proot, "crop_size", 0, &h, &w)) < 0) return rc;
    if (rc) {
        pp->crop_h = h;
        pp->crop_w = w;
    }
    long long resample;
    if ((rc = opt_int(ps, proot, "", "resample", 0, 5, &resample)) < 0) return rc;
    if (rc) {
        if (resample == 0) pp->interp = INTERP_NEAREST;
        else if (resample == 2) pp->interp = INTERP_BILINEAR;
        else if (resample == 3) pp->interp = INTERP_BICUBIC;
        else
            return deit_fail(ps->err, ps->errlen, DEIT_EINVAL,
                             "%s: resample %lld unsupported (0 nearest, 2 bilinear, 3 bicubic)", ps->file,
                             resample);
    }
    if ((rc = opt_channels(ps, proot, "", "image_mean", tf->in_chans, 0, pp->mean)) < 0) return rc;
    if ((rc = opt_channels(ps, proot, "", "image_std", tf->in_chans, 1, pp->std)) < 0) return rc;
    double rescale;
    if ((rc = opt_num(ps, proot, "", "rescale_factor", &rescale)) < 0) return rc;
    if (rc && !(rescale >= SCALE_MIN && rescale <= 1))
        return deit_fail(ps->err, ps->errlen, DEIT_EINVAL, "%s: rescale_factor: %g is outside [%g, 1]",
                         ps->file, rescale, SCALE_MIN);
    if (rc) {
        pp->rescale = (float)rescale;
        pp->rescale_inv = (float)(1.0 / rescale);
    }
    int flag;
    if ((rc = opt_bool(ps, proot, "", "do_resize", &pp->do_resize)) < 0) return rc;
    if ((rc = opt_bool(ps, proot, "", "do_center_crop", &pp->do_crop)) < 0) return rc;
    if ((rc = opt_bool(ps, proot, "", "do_rescale", &flag)) < 0) return rc;
    if (rc && !flag) pp->rescale = pp->rescale_inv = 1.0f;
    if ((rc = opt_bool(ps, proot, "", "do_normalize", &flag)) < 0) return rc;
    if (rc && !flag)
        for (int c = 0; c < 3; c++) {
            pp->mean[c] = 0.0f;
            pp->std[c] = 1.0f;
        }
    return DEIT_OK;
}

/* ---- labels ----------------------------------------------------------------------------------- */

static int set_label(const jsrc *s, deit_config *cfg, int i, const json_t *v, const char *field,
                     const char *key)
{
    if (!json_is_string(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s[%s]: expected a string", s->file, field, key);
    if (json_string_length(v) > DEIT_MAX_LABEL_BYTES)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s[%s]: label longer than %d bytes", s->file,
                         field, key, DEIT_MAX_LABEL_BYTES);
    if (cfg->labels[i])
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: index %d given twice", s->file, field, i);
    cfg->labels[i] = strdup(json_string_value(v));
    if (!cfg->labels[i]) return deit_fail(s->err, s->errlen, DEIT_ENOMEM, "out of memory");
    return DEIT_OK;
}

/* Label names from an array (index order) or an object. Objects keyed "0".."K-1" (transformers
 * id2label) map by index; other objects (timm label_descriptions) are read in file order, which
 * jansson preserves. The count must equal n_classes. Returns 1 if labels were set, 0 if absent. */
static int labels_from(const jsrc *s, const json_t *root, const char *field, int by_index, deit_config *cfg)
{
    const json_t *v = jget(root, field);
    if (!v) return 0;
    int k = cfg->n_classes;
    size_t n = json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
    if (!json_is_object(v) && (by_index || !json_is_array(v)))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: expected %s", s->file, field,
                         by_index ? "an object" : "an array or an object");
    if (n != (size_t)k)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s: %zu labels but the head has %d classes",
                         s->file, field, n, k);
    int rc;
    char key[32];
    if (json_is_array(v)) {
        for (int i = 0; i < k; i++) {
            snprintf(key, sizeof key, "%d", i);
            if ((rc = set_label(s, cfg, i, json_array_get(v, (size_t)i), field, key))) return rc;
        }
        return 1;
    }
    const char *name;
    const json_t *val;
    int i = 0;
    json_object_foreach((json_t *)v, name, val) {
        int idx = i++;
        if (by_index) {
            /* Plain decimal without leading zeros, so "01" cannot alias "1". */
            char *end;
            long x = strtol(name, &end, 10);
            if (!(name[0] >= '0' && name[0] <= '9') || *end || (name[0] == '0' && name[1]) || x < 0 || x >= k)
                return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                                 "%s: %s: key '%s' is not a class index in 0..%d", s->file, field, name, k - 1);
            idx = (int)x;
        }
        if ((rc = set_label(s, cfg, idx, val, field, name))) return rc;
    }
    return 1;
}

/* Fills cfg->labels (n_classes entries): config names, else ImageNet for 1000 classes, else
 * "class_<i>". */
static int resolve_labels(const jsrc *s, const json_t *root, weight_layout layout, deit_config *cfg)
{
    cfg->labels = calloc((size_t)cfg->n_classes, sizeof *cfg->labels);
    if (!cfg->labels) return deit_fail(s->err, s->errlen, DEIT_ENOMEM, "out of memory");
    int rc;
    if (layout == LAYOUT_TIMM) {
        if ((rc = labels_from(s, root, "label_names", 0, cfg))) return rc < 0 ? rc : DEIT_OK;
        if ((rc = labels_from(s, root, "label_descriptions", 0, cfg))) return rc < 0 ? rc : DEIT_OK;
    } else {
        if ((rc = labels_from(s, root, "id2label", 1, cfg))) return rc < 0 ? rc : DEIT_OK;
    }
    for (int i = 0; i < cfg->n_classes; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class_%d", i);
        cfg->labels[i] = strdup(cfg->n_classes == 1000 ? deit_imagenet_labels[i] : buf);
        if (!cfg->labels[i]) return deit_fail(s->err, s->errlen, DEIT_ENOMEM, "out of memory");
    }
    return DEIT_OK;
}

/* ---- putting it together ---------------------------------------------------------------------- */

/* Parses an optional JSON document that must be an object. *out is NULL when json is NULL. */
static int load_json(const char *json, size_t len, const char *file, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json) return DEIT_OK;
    json_error_t je;
    json_t *r = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!r)
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: invalid JSON (line %d, column %d): %s", file, je.line,
                         je.column, je.text);
    if (!json_is_object(r)) {
        json_decref(r);
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: expected a JSON object at the top level", file);
    }
    *out = r;
    return DEIT_OK;
}

/* Image size and token count: a configured size must match the position embedding; without one,
 * the patch grid is assumed square. */
static int resolve_geometry(const jsrc *s, const tensor_facts *tf, deit_config *cfg)
{
    int p = tf->patch, grid_tokens = tf->tokens - cfg->n_prefix;
    if (grid_tokens < 1)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s%s' has %d tokens, no room for patches after %d prefix tokens",
                         tf->prefix, tf->pos_name, tf->tokens, cfg->n_prefix);
    if (cfg->image_h == 0) {
        int side = (int)lround(sqrt((double)grid_tokens));
        if (side * side != grid_tokens)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "checkpoint: %d patch tokens are not a square grid and no config gives the image size",
                             grid_tokens);
        if ((long long)side * p > DEIT_MAX_IMAGE_SIDE)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "checkpoint: image side %lld over the limit %d",
                             (long long)side * p, DEIT_MAX_IMAGE_SIDE);
        cfg->image_h = cfg->image_w = side * p;
    }
    if (cfg->image_h % p || cfg->image_w % p)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: image size %dx%d is not a multiple of the patch %d",
                         s->file, cfg->image_h, cfg->image_w, p);
    /* Both factors are <= DEIT_MAX_IMAGE_SIDE, so the product fits an int comfortably. */
    int want = cfg->n_prefix + (cfg->image_h / p) * (cfg->image_w / p);
    if (want != tf->tokens)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: image size %dx%d with patch %d needs %d tokens but tensor '%s%s' has %d", s->file,
                         cfg->image_h, cfg->image_w, p, want, tf->prefix, tf->pos_name, tf->tokens);
    cfg->n_tokens = tf->tokens;
    return DEIT_OK;
}

/* Finishes cfg->pre once the input size is known and checks it produces exactly that size. */
static int finish_preproc(const jsrc *s, const jsrc *ps, weight_layout layout, double crop_pct,
                          deit_config *cfg)
{
    deit_preproc *pp = &cfg->pre;
    int H = cfg->image_h, W = cfg->image_w;
    pp->channels = cfg->in_chans;
    if (layout == LAYOUT_TIMM) {
        /* timm: floor(size / crop_pct) on the shorter side for a square input, per side otherwise. */
        if (crop_pct == 0) crop_pct = H == 384 ? 1.0 : 0.875;
        double sh = floor(H / crop_pct), sw = floor(W / crop_pct);
        if (sh > RESIZE_MAX || sw > RESIZE_MAX)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: crop_pct %g makes a resize over %d pixels",
                             s->file, crop_pct, RESIZE_MAX);
        if (H == W) {
            pp->resize = RESIZE_SHORTEST_SIDE;
            pp->resize_short = (int)sh;
        } else {
            pp->resize = RESIZE_EXACT;
            pp->resize_h = (int)sh;
            pp->resize_w = (int)sw;
        }
        pp->crop_h = H;
        pp->crop_w = W;
        return DEIT_OK;
    }
    /* transformers: defaults scale like DeiTImageProcessor's 256 -> 224. */
    if (pp->resize == RESIZE_EXACT && pp->resize_h == 0) {
        pp->resize_h = pp->do_crop ? (int)floor(H / 0.875) : H;
        pp->resize_w = pp->do_crop ? (int)floor(W / 0.875) : W;
    }
    if (pp->crop_h == 0) {
        pp->crop_h = H;
        pp->crop_w = W;
    }
    if (pp->do_crop && (pp->crop_h != H || pp->crop_w != W))
        return deit_fail(ps->err, ps->errlen, DEIT_EINVAL,
                         "%s: crop_size %dx%d differs from the model input %dx%d", ps->file, pp->crop_h,
                         pp->crop_w, H, W);
    if (!pp->do_crop && pp->do_resize) {
        if (pp->resize == RESIZE_SHORTEST_SIDE)
            return deit_fail(ps->err, ps->errlen, DEIT_EINVAL,
                             "%s: shortest_edge resize without a centre crop gives no fixed input size",
                             ps->file);
        if (pp->resize_h != H || pp->resize_w != W)
            return deit_fail(ps->err, ps->errlen, DEIT_EINVAL,
                             "%s: size %dx%d without a centre crop differs from the model input %dx%d",
                             ps->file, pp->resize_h, pp->resize_w, H, W);
    }
    pp->crop_h = H;
    pp->crop_w = W;
    return DEIT_OK;
}

int deit_config_resolve(const char *config_json, size_t config_len, const char *preproc_json,
                        size_t preproc_len, const st_file *weights, const char *name, deit_config *cfg,
                        char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen) err[0] = '\0';
    jsrc s = {"config.json", err, errlen}, ps = {"preprocessor_config.json", err, errlen};
    json_t *root = NULL, *proot = NULL;
    tensor_facts tf = {0};
    double crop_pct = 0; /* timm only; 0 = default chosen from the input size */
    int rc;
    if (!weights) {
        rc = deit_fail(err, errlen, DEIT_EINVAL, "no checkpoint given");
        goto out;
    }
    snprintf(cfg->name, sizeof cfg->name, "%s", name ? name : "");
    if ((rc = load_json(config_json, config_len, s.file, &root, err, errlen)) ||
        (rc = load_json(preproc_json, preproc_len, ps.file, &proot, err, errlen)) ||
        (rc = read_tensor_facts(weights, &tf, err, errlen)))
        goto out;

    cfg->layout = tf.layout;
    cfg->dtype = tf.dtype;
    cfg->patch = tf.patch;
    cfg->in_chans = tf.in_chans;
    cfg->dim = tf.dim;
    cfg->depth = tf.depth;
    cfg->mlp_hidden = tf.mlp;
    cfg->n_classes = tf.classes;
    cfg->distilled = tf.distilled;
    cfg->n_prefix = 1 + tf.distilled;
    cfg->qkv_bias = tf.qkv_bias;

    rc = tf.layout == LAYOUT_TIMM ? resolve_timm(&s, root, &tf, cfg, &crop_pct)
                                  : resolve_hf(&s, root, &ps, proot, &tf, cfg);
    if (rc) goto out;
    if (cfg->heads == 0) cfg->heads = tf.dim / 64 > 0 ? tf.dim / 64 : 1;
    if (cfg->heads > DEIT_MAX_HEADS || tf.dim % cfg->heads != 0) {
        rc = deit_fail(err, errlen, DEIT_EINVAL, "%s: %d heads do not divide embed_dim %d", s.file, cfg->heads,
                       tf.dim);
        goto out;
    }
    if ((rc = resolve_geometry(&s, &tf, cfg)) || (rc = finish_preproc(&s, &ps, tf.layout, crop_pct, cfg)) ||
        (rc = resolve_labels(&s, root, tf.layout, cfg)))
        goto out;
out:
    json_decref(root);
    json_decref(proot);
    if (rc) {
        deit_config_free(cfg);
        memset(cfg, 0, sizeof *cfg);
    }
    return rc;
}

void deit_config_free(deit_config *cfg)
{
    if (!cfg || !cfg->labels) return;
    for (int i = 0; i < cfg->n_classes; i++) free(cfg->labels[i]);
    free(cfg->labels);
    cfg->labels = NULL;
}
