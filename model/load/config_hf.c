/* config_hf.c — a transformers checkpoint's config.json and preprocessor_config.json, checked
 * against the tensors. */
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

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
int resolve_hf(const jsrc *s, const json_t *root, const jsrc *ps, const json_t *proot,
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
    /* transformers reads the count from config.json, DeiTConfig's and ViTConfig's default 12 when
     * the key is absent; without config.json it loads nothing (0: refused by the caller). */
    long long heads = root ? 12 : 0;
    if ((rc = opt_int(s, root, "", "num_attention_heads", 1, DEIT_MAX_HEADS, &heads)) < 0) return rc;
    cfg->heads = (int)heads;
    double eps = 1e-12;
    if ((rc = opt_num(s, root, "", "layer_norm_eps", &eps)) < 0) return rc;
    /* checked as the float the LayerNorm adds: 1e-90 is positive as a double and 0 as a float */
    if (!(eps > 0 && eps < 1) || !((float)eps > 0))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: layer_norm_eps: %g is outside (0, 1) as a float32",
                         s->file, eps);
    cfg->ln_eps = (float)eps;
    if ((rc = opt_size(s, root, "", "image_size", 0, tf->in_chans, &cfg->image_h, &cfg->image_w)) < 0)
        return rc;

    /* Preprocessing defaults: DeiTImageProcessor (resize 256x256 for a 224 input, crop, bicubic,
     * ImageNet statistics) or ViTImageProcessor (resize to the input, no crop, bilinear, 0.5). */
    int vit = strcmp(tf->naming.prefix, "vit.") == 0;
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
        pp->mean[c] = vit ? 0.5f : deit_imagenet_mean[c];
        pp->std[c] = vit ? 0.5f : deit_imagenet_std[c];
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
