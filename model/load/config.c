/* config.c — assembles a deit_config: tensor facts, then the timm or transformers config, the input
 * geometry, the preprocessing and the labels, each validated (the parts live in the files named in
 * config_internal.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

const float deit_imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
const float deit_imagenet_std[3] = {0.229f, 0.224f, 0.225f};

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

/* 1 when n > 0 is a perfect square. */
static int is_square(int n)
{
    int r = (int)lround(sqrt((double)n));
    return n > 0 && r * r == n;
}

/* Image size and token count: a configured size must match the position embedding; without one,
 * the patch grid is assumed square. The embedding has a row per prefix token too, except under
 * no_embed_class (DeiT III), where it covers the patches only. */
static int resolve_geometry(const jsrc *s, const tensor_facts *tf, deit_config *cfg)
{
    int p = tf->patch, pos_prefix = cfg->no_embed_class ? 0 : cfg->n_prefix;
    int grid_tokens = tf->tokens - pos_prefix;
    /* said when the rows fit the other kind of position embedding: the config has it wrong */
    int other_prefix = cfg->no_embed_class ? cfg->n_prefix : 0;
    const char *hint = tf->naming.layout != LAYOUT_TIMM ? ""
                       : cfg->no_embed_class
                           ? "; it has rows for the prefix tokens too, but the config says no_embed_class "
                             "(a deit3_* architecture or model_args.no_embed_class true)"
                           : "; it has one row per patch and none for the class token, as timm's "
                             "no_embed_class (DeiT III) makes, but the config says otherwise: set "
                             "model_args.no_embed_class true";
    if (grid_tokens < 1)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "checkpoint: tensor '%s' has %d tokens, no room for patches after %d prefix tokens",
                         tf->pos_name, tf->tokens, pos_prefix);
    if (cfg->image_h == 0) {
        int side = (int)lround(sqrt((double)grid_tokens));
        if (side * side != grid_tokens)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "checkpoint: %d patch tokens are not a square grid and no config gives the image size%s",
                             grid_tokens, is_square(tf->tokens - other_prefix) ? hint : "");
        if ((long long)side * p > DEIT_MAX_IMAGE_SIDE)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "checkpoint: image side %lld over the limit %d",
                             (long long)side * p, DEIT_MAX_IMAGE_SIDE);
        cfg->image_h = cfg->image_w = side * p;
    }
    if (cfg->image_h % p || cfg->image_w % p)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: image size %dx%d is not a multiple of the patch %d",
                         s->file, cfg->image_h, cfg->image_w, p);
    /* Both factors are <= DEIT_MAX_IMAGE_SIDE, so the product fits an int comfortably. */
    int patches = (cfg->image_h / p) * (cfg->image_w / p);
    if (pos_prefix + patches != tf->tokens)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: image size %dx%d with patch %d needs %d tokens but tensor '%s' has %d%s",
                         s->file, cfg->image_h, cfg->image_w, p, pos_prefix + patches, tf->pos_name, tf->tokens,
                         other_prefix + patches == tf->tokens ? hint : "");
    /* Under no_embed_class the prefix tokens come on top of the rows the tensor's bound checked. */
    if (cfg->n_prefix + patches > DEIT_MAX_TOKENS)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "checkpoint: %d patches and %d prefix tokens make %d tokens, over the limit %d", patches,
                         cfg->n_prefix, cfg->n_prefix + patches, DEIT_MAX_TOKENS);
    cfg->n_tokens = cfg->n_prefix + patches;
    return DEIT_OK;
}

/* forward.c's per-image buffers (config.h): per token the residual stream, its norm, q/k/v, the
 * attention output and the MLP's hidden layer (6 x width + MLP floats); the patch matrix; the K^T
 * and V packs of every head, double-buffered, each padded to the kernels' 16-column panels (at most
 * 4 x T x width + 30 x (width + heads x T) floats: with heads of one or two dims the padding is
 * most of it); and one thread's attention scores, T^2 floats and as many bf16 probabilities. Every
 * factor is bounded (config.h), so no product overflows. Needs the head count: after check_heads. */
static int check_activations(const jsrc *s, const tensor_facts *tf, const deit_config *cfg)
{
    size_t T = (size_t)cfg->n_tokens, D = (size_t)tf->dim, H = (size_t)cfg->heads, p = (size_t)tf->patch;
    size_t patches = T - (size_t)cfg->n_prefix;
    size_t floats = T * (6 * D + (size_t)tf->mlp) + patches * (size_t)tf->in_chans * p * p + 4 * T * D +
                    30 * (D + H * T);
    size_t bytes = sizeof(float) * floats + 6 * T * T;
    if (bytes > DEIT_MAX_IMAGE_ACTIVATION_BYTES)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "checkpoint: %d tokens of width %d with an MLP of %d need %zu MiB of activations per "
                         "image, over the limit of %zu MiB",
                         cfg->n_tokens, tf->dim, tf->mlp, bytes >> 20, DEIT_MAX_IMAGE_ACTIVATION_BYTES >> 20);
    return DEIT_OK;
}

/* Finishes cfg->pre once the input size is known and checks it produces exactly that size. */
static int finish_preproc(const jsrc *s, const jsrc *ps, weight_layout layout, double crop_pct, int squash,
                          deit_config *cfg)
{
    deit_preproc *pp = &cfg->pre;
    int H = cfg->image_h, W = cfg->image_w;
    pp->channels = cfg->in_chans;
    if (layout == LAYOUT_TIMM) {
        /* timm's transforms_imagenet_eval: each side of the input over crop_pct, floored, is the
         * scale size; 'squash' resizes to it exactly; 'center' resizes the shorter side to it for a
         * square input and, for a non-square one, with ResizeKeepRatio, which timm builds without
         * an interpolation argument: bilinear whatever the config says. Then the centre crop. */
        if (crop_pct == 0) crop_pct = H == 384 ? 1.0 : 0.875;
        double sh = floor(H / crop_pct), sw = floor(W / crop_pct);
        if (sh > RESIZE_MAX || sw > RESIZE_MAX)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: crop_pct %g makes a resize over %d pixels",
                             s->file, crop_pct, RESIZE_MAX);
        if (squash || H != W) {
            pp->resize = squash ? RESIZE_EXACT : RESIZE_KEEP_RATIO;
            pp->resize_h = (int)sh;
            pp->resize_w = (int)sw;
            if (!squash) pp->interp = INTERP_BILINEAR;
        } else {
            pp->resize = RESIZE_SHORTEST_SIDE;
            pp->resize_short = (int)sh;
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

/* The number of attention heads, which no tensor shape gives (q, k and v are [D, D] whatever it
 * is), so it comes from the config (resolve_timm, resolve_hf; 0 when nothing says) and is never
 * guessed from the width alone: a wrong count still runs, and every logit is wrong. The one exception
 * is a checkpoint with no config at all (a bare .safetensors file): it is taken for timm's standard
 * ViT/DeiT of its width (the families of one width all agree on the count; huge/giant are not
 * width / 64), and any other width is refused. Checked after
 * everything else, so a config that contradicts the tensors says so first. */
static int check_heads(const jsrc *s, const json_t *root, const tensor_facts *tf, deit_config *cfg)
{
    int timm = tf->naming.layout == LAYOUT_TIMM;
    if (cfg->heads == 0 && !root && !(cfg->heads = timm_heads_of_width(tf->dim)))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "no %s: the number of attention heads is in no tensor shape and must come from it (%s); "
                         "without one only timm's standard widths are known (192, 384, 512, 768, 1024, 1280, "
                         "1408, 1664), and embed_dim is %d",
                         s->file, timm ? "model_args.num_heads, or a timm architecture" : "num_attention_heads",
                         tf->dim);
    if (cfg->heads == 0 && cfg->architecture[0])
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: architecture '%s' is not one whose head count this engine knows (plain deit_*, deit3_* "
                         "and vit_* families) and model_args.num_heads is not set: add model_args.num_heads",
                         s->file, cfg->architecture);
    if (cfg->heads == 0)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: neither an architecture nor model_args.num_heads gives the number of attention "
                         "heads: add model_args.num_heads", s->file);
    if (cfg->heads > DEIT_MAX_HEADS || tf->dim % cfg->heads != 0)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %d heads do not divide embed_dim %d", s->file,
                         cfg->heads, tf->dim);
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
    int squash = 0;      /* timm only: crop_mode 'squash' */
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

    cfg->naming = tf.naming;
    cfg->dtype = tf.dtype;
    cfg->patch = tf.patch;
    cfg->in_chans = tf.in_chans;
    cfg->dim = tf.dim;
    cfg->depth = tf.depth;
    cfg->mlp_hidden = tf.mlp;
    cfg->n_classes = tf.classes;
    cfg->distilled = tf.dist_head;
    cfg->n_prefix = 1 + tf.dist_token;
    cfg->qkv_bias = tf.qkv_bias;

    rc = tf.naming.layout == LAYOUT_TIMM ? resolve_timm(&s, root, &tf, cfg, &crop_pct, &squash)
                                  : resolve_hf(&s, root, &ps, proot, &tf, cfg);
    if (rc) goto out;
    if ((rc = resolve_geometry(&s, &tf, cfg)) ||
        (rc = finish_preproc(&s, &ps, tf.naming.layout, crop_pct, squash, cfg)) ||
        (rc = resolve_labels(&s, root, tf.naming.layout, cfg)) ||
        (rc = check_heads(&s, root, &tf, cfg)) ||
        (rc = check_activations(&s, &tf, cfg)))
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
