/* config_timm.c — a timm checkpoint's config.json: architecture defaults, model_args and the
 * pretrained_cfg preprocessing, checked against the tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* Defaults implied by a timm architecture name; 0 where the name does not say. */
typedef struct {
    int known, dim, heads, depth, patch, img, distilled;
    double mlp_ratio;
    int deit3;                 /* no_embed_class and layer scale (init_values 1e-6) */
} arch_info;

/* timm's plain ViT and DeiT families: what their builders pass to VisionTransformer
 * (vision_transformer.py, deit.py). timm merges a config's model_args over these key by key.
 * DeiT III (deit.py's deit3_*) is VisionTransformer with no_embed_class=True and init_values=1e-6:
 * the position embedding skips the class token and every block has layer scale. */
static const struct {
    const char *family;
    int dim, depth, heads;
    double mlp_ratio;
    int distillable;           /* DeiT: "_distilled" may follow the family */
    int deit3;                 /* no_embed_class, layer scale */
} FAMILIES[] = {
    {"deit_tiny", 192, 12, 3, 4.0, 1, 0},    {"deit_small", 384, 12, 6, 4.0, 1, 0},
    {"deit_base", 768, 12, 12, 4.0, 1, 0},   {"deit3_small", 384, 12, 6, 4.0, 0, 1},
    {"deit3_medium", 512, 12, 8, 4.0, 0, 1}, {"deit3_base", 768, 12, 12, 4.0, 0, 1},
    {"deit3_large", 1024, 24, 16, 4.0, 0, 1}, {"deit3_huge", 1280, 32, 16, 4.0, 0, 1},
    {"vit_tiny", 192, 12, 3, 4.0, 0, 0},     {"vit_small", 384, 12, 6, 4.0, 0, 0},
    {"vit_medium", 512, 12, 8, 4.0, 0, 0},   {"vit_base", 768, 12, 12, 4.0, 0, 0},
    {"vit_large", 1024, 24, 16, 4.0, 0, 0},  {"vit_huge", 1280, 32, 16, 4.0, 0, 0},
    {"vit_giant", 1408, 40, 16, 48.0 / 11.0, 0, 0}, {"vit_gigantic", 1664, 48, 16, 64.0 / 13.0, 0, 0},
};

/* Reads a decimal number of 1..6 digits at *p, advancing it; -1 if there is none. */
static int read_number(const char **p)
{
    int v = 0, n = 0;
    for (; **p >= '0' && **p <= '9' && n < 6; (*p)++, n++)
        v = v * 10 + (**p - '0');
    return n ? v : -1;
}

/* Decodes <family>[_distilled]_patch<P>_<size>[.tag] for the families above. Anything else (timm's
 * many variants: _clip_, _dinov2, _gap_, _reg4_, _plus_...) is unknown: their builders change
 * arguments a family's defaults do not show, the head count among them. */
static arch_info timm_arch(const char *arch)
{
    arch_info a = {0};
    char base[128];
    snprintf(base, sizeof base, "%s", arch);
    char *dot = strchr(base, '.'); /* hub tag, e.g. ".fb_in1k" */
    if (dot) *dot = '\0';
    for (size_t i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++) {
        size_t fl = strlen(FAMILIES[i].family);
        if (strncmp(base, FAMILIES[i].family, fl) != 0) continue;
        const char *p = base + fl;
        int distilled = FAMILIES[i].distillable && has_prefix(p, "_distilled_");
        if (distilled) p += strlen("_distilled");
        if (!has_prefix(p, "_patch")) continue;
        p += strlen("_patch");
        int patch = read_number(&p);
        if (patch < 1 || *p++ != '_') continue;
        int img = read_number(&p);
        if (img < 1 || *p != '\0') continue;
        a = (arch_info){1, FAMILIES[i].dim, FAMILIES[i].heads, FAMILIES[i].depth, patch, img, distilled,
                        FAMILIES[i].mlp_ratio, FAMILIES[i].deit3};
        break;
    }
    return a;
}

int timm_heads_of_width(int dim)
{
    for (size_t i = 0; i < sizeof FAMILIES / sizeof *FAMILIES; i++)
        if (FAMILIES[i].dim == dim) return FAMILIES[i].heads;
    return 0;
}

/* What the engine does with each model_args key. timm passes them all to VisionTransformer
 * (vision_transformer.py), so any key may change the numbers; one not listed is refused. */
typedef enum {
    MA_CHECKED,                /* read by resolve_timm and checked against the tensors */
    MA_NO_EFFECT,              /* training or initialisation only: no effect on inference */
    MA_ONLY,                   /* accepted only at `only`, the value the engine implements */
} margs_kind;

static const struct {
    const char *key;
    margs_kind kind;
    const char *only;          /* MA_ONLY: the accepted value as JSON text */
} MODEL_ARGS[] = {
    {"img_size", MA_CHECKED, NULL},        {"patch_size", MA_CHECKED, NULL},
    {"in_chans", MA_CHECKED, NULL},        {"num_classes", MA_CHECKED, NULL},
    {"global_pool", MA_CHECKED, NULL},     {"embed_dim", MA_CHECKED, NULL},
    {"depth", MA_CHECKED, NULL},           {"num_heads", MA_CHECKED, NULL},
    {"mlp_ratio", MA_CHECKED, NULL},       {"qkv_bias", MA_CHECKED, NULL},
    {"init_values", MA_CHECKED, NULL},     {"no_embed_class", MA_CHECKED, NULL}, /* DeiT III */
    /* dropout and stochastic depth are identities at inference; init is overwritten by the weights */
    {"drop_rate", MA_NO_EFFECT, NULL},     {"pos_drop_rate", MA_NO_EFFECT, NULL},
    {"patch_drop_rate", MA_NO_EFFECT, NULL}, {"proj_drop_rate", MA_NO_EFFECT, NULL},
    {"attn_drop_rate", MA_NO_EFFECT, NULL}, {"drop_path_rate", MA_NO_EFFECT, NULL},
    {"weight_init", MA_NO_EFFECT, NULL},   {"fix_init", MA_NO_EFFECT, NULL},
    /* the network the engine computes: timm's defaults */
    {"act_layer", MA_ONLY, "\"gelu\""},    /* exact (erf) GELU */
    {"norm_layer", MA_ONLY, "\"layernorm\""}, /* timm's LayerNorm, eps 1e-6 */
    {"embed_norm_layer", MA_ONLY, "null"},
    {"qk_norm", MA_ONLY, "false"},         {"scale_attn_norm", MA_ONLY, "false"},
    {"scale_mlp_norm", MA_ONLY, "false"},  {"proj_bias", MA_ONLY, "true"},
    {"class_token", MA_ONLY, "true"},      {"pos_embed", MA_ONLY, "\"learn\""},
    {"reg_tokens", MA_ONLY, "0"},
    {"pre_norm", MA_ONLY, "false"},        {"final_norm", MA_ONLY, "true"},
    {"fc_norm", MA_ONLY, "false"},         {"pool_include_prefix", MA_ONLY, "false"},
    {"dynamic_img_size", MA_ONLY, "false"}, {"dynamic_img_pad", MA_ONLY, "false"},
};

/* Refuses a model_args key the engine does not implement, or one set to a value it does not
 * (act_layer "quick_gelu", norm_layer "rmsnorm", class_token false...): each would serve numbers
 * timm does not give. null means "not set" here as everywhere in the config. */
static int check_model_args(const jsrc *s, const json_t *margs)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)margs, key, v) {
        size_t i = 0, n = sizeof MODEL_ARGS / sizeof *MODEL_ARGS;
        while (i < n && strcmp(MODEL_ARGS[i].key, key) != 0) i++;
        if (i == n)
            return deit_fail(s->err, s->errlen, DEIT_EUNSUPPORTED,
                             "%s: model_args.%.64s is not an argument this engine implements (it may change "
                             "the computation)", s->file, key);
        if (MODEL_ARGS[i].kind != MA_ONLY || json_is_null(v)) continue;
        json_t *only = json_loads(MODEL_ARGS[i].only, JSON_DECODE_ANY, NULL);
        int same = only && json_equal((json_t *)v, only);
        json_decref(only);
        if (same) continue;
        char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = deit_fail(s->err, s->errlen, DEIT_EUNSUPPORTED, "%s: model_args.%.64s %.40s unsupported (only %s)",
                           s->file, key, got ? got : "(value)", MODEL_ARGS[i].only);
        free(got);
        return rc;
    }
    return DEIT_OK;
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

/* 1 when n > 0 is a perfect square. */
static int is_square(int n)
{
    int r = (int)lround(sqrt((double)n));
    return n > 0 && r * r == n;
}

/* DeiT III's two switches, cfg->layer_scale and cfg->no_embed_class. With a config.json they are
 * what timm would build: model_args.init_values (a number other than 0: layer scale; 0 or null:
 * none, even under a deit3_* architecture, whose 1e-6 it overrides) and model_args.no_embed_class, else the
 * architecture's (deit3_*: both), else timm's defaults (neither). Layer scale must then agree with
 * the tensors ('blocks.0.ls1.gamma'); the position rows are checked by resolve_geometry. The gammas
 * carry the values, so init_values' own value (an initialisation) does not matter.
 * Without a config.json (a bare .safetensors) both come from the tensors: layer scale from the
 * gammas' presence, no_embed_class from the position rows when they make a square patch grid only
 * without the prefix rows (rows = patches); rows = prefix + patches keeps the class rows, and since
 * no two squares differ by 1 or 2 the two never both fit. */
static int resolve_deit3(const jsrc *s, const json_t *root, const json_t *margs, const arch_info *a,
                         const tensor_facts *tf, deit_config *cfg)
{
    if (!root) {
        int np = 1 + tf->dist_token;
        cfg->layer_scale = tf->layer_scale;
        cfg->no_embed_class = is_square(tf->tokens) && !is_square(tf->tokens - np);
        return DEIT_OK;
    }
    int ls = a->known && a->deit3, nec = a->known && a->deit3, rc;
    const json_t *iv = json_is_object(margs) ? json_object_get(margs, "init_values") : NULL;
    if (iv && json_is_null(iv)) {
        ls = 0;
    } else if (iv) {
        if (!json_is_number(iv))
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "%s: model_args.init_values must be a number (0: no layer scale) or null (none)",
                             s->file);
        /* timm's Block: "LayerScale(dim, init_values) if init_values else Identity()", so 0 is no
         * layer scale and any other number, negative too, is layer scale (its value only
         * initialises the gammas the checkpoint replaces) */
        ls = json_number_value(iv) != 0;
    }
    int v;
    if ((rc = opt_bool(s, margs, "model_args.", "no_embed_class", &v)) < 0) return rc;
    if (rc) nec = v;
    if (ls != tf->layer_scale) {
        char said[192];
        if (iv)
            snprintf(said, sizeof said, "model_args.init_values is %s",
                     ls ? "set" : json_is_null(iv) ? "null" : "0");
        else if (a->known) snprintf(said, sizeof said, "architecture '%.120s'", cfg->architecture);
        else snprintf(said, sizeof said, "timm's default, init_values null");
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: the checkpoint %s layer scale ('blocks.0.ls1.gamma') but the config gives %s "
                         "(%s)", s->file, tf->layer_scale ? "has" : "lacks", ls ? "layer scale" : "none",
                         said);
    }
    cfg->layer_scale = ls;
    cfg->no_embed_class = nec;
    return DEIT_OK;
}

/* Everything timm-specific: architecture defaults, model_args, pretrained_cfg preprocessing.
 * Sets heads, image size (0 = infer), eps and cfg->pre except channels/crop which the caller
 * finishes once the image size is known. *pcrop_pct receives the crop_pct to apply, *psquash 1
 * for crop_mode 'squash' (each side resized on its own) and 0 for 'center' (the default). */
int resolve_timm(const jsrc *s, const json_t *root, const tensor_facts *tf, deit_config *cfg,
                 double *pcrop_pct, int *psquash)
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
    if (margs && (rc = check_model_args(s, margs))) return rc;

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
            (rc = agree_arch(s, margs, "mlp_ratio", "mlp hidden width", arch,
                             (int)((double)tf->dim * a.mlp_ratio), tf->mlp)))
            return rc;
        if (a.distilled != tf->dist_token)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "%s: architecture '%s' is %sdistilled but the checkpoint %s a distillation token",
                             s->file, arch, a.distilled ? "" : "not ", tf->dist_token ? "has" : "lacks");
    }
    /* What the second prefix token was trained as. timm has no model with two class tokens; the
     * network is exactly the distilled one (two prefix tokens, head on token 0, head_dist on token
     * 1), so such a checkpoint keeps timm's distilled layout and says so here. */
    const char *second;
    if ((rc = opt_str(s, root, "", "second_token", &second)) < 0) return rc;
    if (rc) {
        if (strcmp(second, "class") != 0 && strcmp(second, "distillation") != 0)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "%s: second_token '%.40s' unsupported ('distillation' or 'class')", s->file, second);
        if (!tf->dist_head)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "%s: second_token '%s' but the checkpoint has no second token ('dist_token')",
                             s->file, second);
        cfg->second_class = strcmp(second, "class") == 0;
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
    if ((rc = resolve_deit3(s, root, margs, &a, tf, cfg))) return rc;
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

    /* timm merges model_args over the architecture's arguments key by key: without num_heads the
     * architecture's count holds, whatever embed_dim the model_args set. */
    long long heads = 0;
    if ((rc = opt_int(s, margs, "model_args.", "num_heads", 1, DEIT_MAX_HEADS, &heads)) < 0) return rc;
    if (!rc && a.known) heads = a.heads;
    cfg->heads = (int)heads; /* 0: unknown, refused by the caller once everything else is checked */

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
    /* timm's eval transform knows three: 'border' (resize inside, pad to the crop) is not done here */
    if (mode && strcmp(mode, "center") != 0 && strcmp(mode, "squash") != 0)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: crop_mode '%s' unsupported ('center' or 'squash')", s->file, mode);
    *psquash = mode && strcmp(mode, "squash") == 0;
    if (!have_mean) memcpy(pp->mean, deit_imagenet_mean, sizeof pp->mean);
    if (!have_std) memcpy(pp->std, deit_imagenet_std, sizeof pp->std);
    /* No crop_pct in config.json: timm reads such a config into its PretrainedCfg, whose default is
     * 0.875 (deit.py's own default_cfgs say 0.9, but those apply to a model made by name, not from a
     * config). The 384 models keep 1.0, what every 384 DeiT/ViT config carries: a hand-written 384
     * config without it means the uncropped evaluation those models were trained for. Without an
     * architecture that names its size, 0 leaves the choice to the input size (finish_preproc). */
    if (!have_pct) crop_pct = a.img ? (a.img == 384 ? 1.0 : 0.875) : 0;
    *pcrop_pct = crop_pct;
    pp->rescale = 1.0f / 255.0f;
    pp->do_resize = pp->do_crop = 1;
    pp->resampler = RESAMPLE_PILLOW;  /* timm's eval transform resizes PIL images */
    pp->crop_rule = CROP_TORCHVISION;
    return DEIT_OK;
}
