/* naming.h — how a checkpoint names its tensors (timm or transformers, the prefix, the dtype rule),
 * decided once and the only place either naming scheme is spelled out.
 *
 * naming_detect looks at the names once (at deit_config_resolve); the result is stored in
 * deit_config.naming, and every reader of the checkpoint (the tensor facts, weights.c) asks
 * naming_tensor for a tensor's name instead of deciding the layout or prefix again.
 */
#ifndef DEIT_NAMING_H
#define DEIT_NAMING_H

#include <stddef.h>
#include <string.h>

#include "safetensors.h"

typedef enum { LAYOUT_TIMM, LAYOUT_TRANSFORMERS } weight_layout;

/* The tensors the engine reads. Those after TN_BLOCKS belong to one block (naming_tensor's block
 * argument); a few exist in one layout only (timm fuses q, k and v into qkv). */
typedef enum {
    TN_PATCH_W, TN_PATCH_B, TN_CLS, TN_DIST, TN_POS, TN_NORM_W, TN_NORM_B,
    TN_HEAD_W, TN_HEAD_B, TN_HEAD_DIST_W, TN_HEAD_DIST_B,
    TN_BLOCKS,                 /* the prefix every block's names start with, before the index */
    TN_NORM1_W, TN_NORM1_B,
    TN_QKV_W, TN_QKV_B,        /* timm only */
    TN_Q_W, TN_Q_B, TN_K_W, TN_K_B, TN_V_W, TN_V_B, /* transformers only */
    TN_PROJ_W, TN_PROJ_B, TN_NORM2_W, TN_NORM2_B, TN_FC1_W, TN_FC1_B, TN_FC2_W, TN_FC2_B,
    TN_COUNT
} tensor_id;

typedef struct {
    weight_layout layout;
    char prefix[8];            /* transformers: "deit." or "vit."; timm: "" */
    int dist_token;            /* a distillation token is present: a second prefix token that takes
                                * part in attention */
    int dist_head;             /* a distillation head reads it: timm 'head_dist', transformers
                                * 'distillation_classifier' (DeiTForImageClassificationWithTeacher,
                                * whose class head is then 'cls_classifier'). transformers'
                                * DeiTForImageClassification has the token but one 'classifier' */
} deit_naming;

/* 1 when s starts with p. */
static inline int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Decides the scheme from the names: timm or transformers (a mix of both, or neither, is an error;
 * so is a mix of the 'deit.' and 'vit.' prefixes), whether a distillation token is present, and
 * whether a distillation head is (any tensor under its name, or for transformers under
 * 'cls_classifier.', the class head's name beside it). */
int naming_detect(const st_file *st, deit_naming *out, char *err, size_t errlen);

/* The checkpoint's name of tensor `id` (in block `block` for the per-block ids; TN_BLOCKS gives the
 * prefix without an index) into buf[len]; "" for an id the layout does not have. Returns buf. */
const char *naming_tensor(const deit_naming *n, tensor_id id, int block, char *buf, size_t len);

/* 1 for a tensor the layout has but the computation never reads (the transformers pooler, the
 * mask token of masked-image modelling), 0 otherwise. */
int naming_ignorable(const deit_naming *n, const char *name);

/* The dtypes the engine reads (F32, F16, BF16): DEIT_OK, or DEIT_EUNSUPPORTED naming the tensor. */
int naming_check_dtype(const st_tensor *t, char *err, size_t errlen);

#endif
