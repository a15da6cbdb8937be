/* naming.c — the timm and transformers tensor naming schemes: detection, names, the dtype rule. */
#include "naming.h"

#include <stdio.h>
#include <string.h>

#include "status.h"

/* Every name as a format taking (prefix, block); "%.0s" consumes timm's empty prefix. NULL: the
 * layout has no such tensor. */
static const char *const NAMES[TN_COUNT][2] = {
    [TN_PATCH_W] = {"%.0spatch_embed.proj.weight", "%sembeddings.patch_embeddings.projection.weight"},
    [TN_PATCH_B] = {"%.0spatch_embed.proj.bias", "%sembeddings.patch_embeddings.projection.bias"},
    [TN_CLS] = {"%.0scls_token", "%sembeddings.cls_token"},
    [TN_DIST] = {"%.0sdist_token", "%sembeddings.distillation_token"},
    [TN_POS] = {"%.0spos_embed", "%sembeddings.position_embeddings"},
    [TN_NORM_W] = {"%.0snorm.weight", "%slayernorm.weight"},
    [TN_NORM_B] = {"%.0snorm.bias", "%slayernorm.bias"},
    [TN_HEAD_W] = {"%.0shead.weight", "%.0scls_classifier.weight"},
    [TN_HEAD_B] = {"%.0shead.bias", "%.0scls_classifier.bias"},
    [TN_HEAD_DIST_W] = {"%.0shead_dist.weight", "%.0sdistillation_classifier.weight"},
    [TN_HEAD_DIST_B] = {"%.0shead_dist.bias", "%.0sdistillation_classifier.bias"},
    [TN_BLOCKS] = {"%.0sblocks.", "%sencoder.layer."},
    [TN_NORM1_W] = {"%.0sblocks.%d.norm1.weight", "%sencoder.layer.%d.layernorm_before.weight"},
    [TN_NORM1_B] = {"%.0sblocks.%d.norm1.bias", "%sencoder.layer.%d.layernorm_before.bias"},
    [TN_QKV_W] = {"%.0sblocks.%d.attn.qkv.weight", NULL},
    [TN_QKV_B] = {"%.0sblocks.%d.attn.qkv.bias", NULL},
    [TN_Q_W] = {NULL, "%sencoder.layer.%d.attention.attention.query.weight"},
    [TN_Q_B] = {NULL, "%sencoder.layer.%d.attention.attention.query.bias"},
    [TN_K_W] = {NULL, "%sencoder.layer.%d.attention.attention.key.weight"},
    [TN_K_B] = {NULL, "%sencoder.layer.%d.attention.attention.key.bias"},
    [TN_V_W] = {NULL, "%sencoder.layer.%d.attention.attention.value.weight"},
    [TN_V_B] = {NULL, "%sencoder.layer.%d.attention.attention.value.bias"},
    [TN_PROJ_W] = {"%.0sblocks.%d.attn.proj.weight", "%sencoder.layer.%d.attention.output.dense.weight"},
    [TN_PROJ_B] = {"%.0sblocks.%d.attn.proj.bias", "%sencoder.layer.%d.attention.output.dense.bias"},
    [TN_NORM2_W] = {"%.0sblocks.%d.norm2.weight", "%sencoder.layer.%d.layernorm_after.weight"},
    [TN_NORM2_B] = {"%.0sblocks.%d.norm2.bias", "%sencoder.layer.%d.layernorm_after.bias"},
    [TN_FC1_W] = {"%.0sblocks.%d.mlp.fc1.weight", "%sencoder.layer.%d.intermediate.dense.weight"},
    [TN_FC1_B] = {"%.0sblocks.%d.mlp.fc1.bias", "%sencoder.layer.%d.intermediate.dense.bias"},
    [TN_FC2_W] = {"%.0sblocks.%d.mlp.fc2.weight", "%sencoder.layer.%d.output.dense.weight"},
    [TN_FC2_B] = {"%.0sblocks.%d.mlp.fc2.bias", "%sencoder.layer.%d.output.dense.bias"},
};

const char *naming_tensor(const deit_naming *n, tensor_id id, int block, char *buf, size_t len)
{
    const char *fmt = (unsigned)id < TN_COUNT ? NAMES[id][n->layout == LAYOUT_TRANSFORMERS] : NULL;
    /* a transformers model without a distillation head has one plain classifier */
    if (n->layout == LAYOUT_TRANSFORMERS && !n->dist_head && (id == TN_HEAD_W || id == TN_HEAD_B))
        fmt = id == TN_HEAD_W ? "%.0sclassifier.weight" : "%.0sclassifier.bias";
    if (!fmt) {
        if (len) buf[0] = '\0';
        return buf;
    }
    snprintf(buf, len, fmt, n->prefix, block);
    return buf;
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

int naming_detect(const st_file *st, deit_naming *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
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
    out->layout = timm ? LAYOUT_TIMM : LAYOUT_TRANSFORMERS;
    snprintf(out->prefix, sizeof out->prefix, "%s", timm ? "" : vit ? "vit." : "deit.");
    char name[128];
    out->dist_token = st_find(st, naming_tensor(out, TN_DIST, 0, name, sizeof name)) != NULL;
    for (size_t i = 0; i < st_count(st); i++) {
        const char *n = st_at(st, i)->name;
        out->dist_head |= timm ? has_prefix(n, "head_dist.")
                               : has_prefix(n, "distillation_classifier.") || has_prefix(n, "cls_classifier.");
    }
    return DEIT_OK;
}

int naming_ignorable(const deit_naming *n, const char *name)
{
    if (n->layout != LAYOUT_TRANSFORMERS) return 0;
    size_t pl = strlen(n->prefix);
    return strncmp(name, n->prefix, pl) == 0 &&
           (strncmp(name + pl, "pooler.", 7) == 0 || strcmp(name + pl, "embeddings.mask_token") == 0);
}

int naming_check_dtype(const st_tensor *t, char *err, size_t errlen)
{
    if (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16) return DEIT_OK;
    return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                     "checkpoint: tensor '%s': dtype %s unsupported (F32, F16 or BF16)", t->name,
                     st_dtype_name(t->dtype));
}
