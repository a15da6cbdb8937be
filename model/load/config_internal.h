/* config_internal.h — what the files that resolve a deit_config share: the JSON source, the typed
 * getters (json_get.c), the tensor facts (tensor_facts.c), and one resolver per part: timm
 * (config_timm.c), transformers (config_hf.c), labels (labels.c); config.c assembles them. */
#ifndef DEIT_CONFIG_INTERNAL_H
#define DEIT_CONFIG_INTERNAL_H

#include <jansson.h>

#include "config.h"

/* Resize targets may exceed the input side (crop_pct < 1) but not without bound: a tiny crop_pct
 * would otherwise ask the preprocessor for an absurd intermediate image. */
#define RESIZE_MAX (4 * DEIT_MAX_IMAGE_SIDE)
/* Smallest std and rescale_factor accepted: both end up as float32 divisors or factors, so they
 * must stay far from float underflow (the upper bound on means and stds is 1e6). */
#define SCALE_MIN 1e-6

/* ImageNet's per-channel mean and std: timm's and DeiTImageProcessor's default normalisation. */
extern const float deit_imagenet_mean[3], deit_imagenet_std[3];

/* Where a JSON value came from, so every message can name the file and field. */
typedef struct {
    const char *file;
    char *err;
    size_t errlen;
} jsrc;

/* What the tensors say, before any config is consulted. */
typedef struct {
    deit_naming naming;        /* timm or transformers, the prefix: decided once (naming_detect) */
    int dim, in_chans, patch, tokens, depth, mlp, classes, qkv_bias;
    int layer_scale;           /* timm 'blocks.0.ls1.gamma' present (tokens: the position rows) */
    int dist_token, dist_head;  /* as naming.dist_token / dist_head, checked against each other */
    st_dtype dtype;
    char pos_name[96];         /* the position embedding's full name, for messages */
} tensor_facts;

/* ---- typed getters (json_get.c) ---------------------------------------------------------------- */

/* obj[key], or NULL when obj is not an object, the key is absent, or the value is JSON null
 * (timm and transformers both write null for "not set"). */
const json_t *jget(const json_t *obj, const char *key);
/* Field `where key` (where is "" or "model_args." etc.). Each returns 1 and sets *out when present,
 * 0 when absent, a DEIT_E* status (message naming file and field) on a bad value. */
int opt_int(const jsrc *s, const json_t *obj, const char *where, const char *key, long long lo,
            long long hi, long long *out);
int opt_num(const jsrc *s, const json_t *obj, const char *where, const char *key, double *out);
int opt_bool(const jsrc *s, const json_t *obj, const char *where, const char *key, int *out);
int opt_str(const jsrc *s, const json_t *obj, const char *where, const char *key, const char **out);
int opt_obj(const jsrc *s, const json_t *obj, const char *where, const char *key, const json_t **out);
/* Per-channel mean (positive 0) or std (positive 1): `chans` numbers or one replicated. */
int opt_channels(const jsrc *s, const json_t *obj, const char *where, const char *key, int chans,
                 int positive, float out[3]);
/* An image size: one integer or [H, W]; [C, H, W] with_chans, C == in_chans. */
int opt_size(const jsrc *s, const json_t *obj, const char *where, const char *key, int with_chans,
             int in_chans, int *h, int *w);
/* An optional integer field that must equal the value the tensors fixed (`what` names it). */
int agree_int(const jsrc *s, const json_t *obj, const char *where, const char *key, long long actual,
              const char *what);

/* ---- the parts ----------------------------------------------------------------------------------- */

/* Every size from the tensor shapes, bounded (tensor_facts.c). */
int read_tensor_facts(const st_file *st, tensor_facts *tf, char *err, size_t errlen);
/* The head count of timm's plain ViT/DeiT family of this width (192 -> 3, 384 -> 6, 768 -> 12, ...;
 * every family of one width agrees), 0 for any other width (config_timm.c). */
int timm_heads_of_width(int dim);

/* timm config.json: heads, image size (0 = infer), eps, cfg->pre but channels/crop; *pcrop_pct
 * receives the crop_pct to apply, *psquash 1 for crop_mode 'squash' (config_timm.c). */
int resolve_timm(const jsrc *s, const json_t *root, const tensor_facts *tf, deit_config *cfg,
                 double *pcrop_pct, int *psquash);
/* transformers config.json and preprocessor_config.json (config_hf.c). */
int resolve_hf(const jsrc *s, const json_t *root, const jsrc *ps, const json_t *proot,
               const tensor_facts *tf, deit_config *cfg);
/* cfg->labels, n_classes entries (labels.c). */
int resolve_labels(const jsrc *s, const json_t *root, weight_layout layout, deit_config *cfg);

#endif
