/* config.h — the model's hyper-parameters and preprocessing, resolved once from config.json,
 * preprocessor_config.json and the checkpoint's tensor shapes, then validated.
 *
 * Sources, in increasing priority:
 *   tensor shapes (always authoritative for dim, depth, patch, channels, classes, tokens, mlp size)
 *   timm config.json: `architecture` (deit_{tiny,small,base}[_distilled]_patch<P>_<size>,
 *     deit3_{small,medium,base,large,huge}_patch<P>_<size>,
 *     vit_{tiny,small,medium,base,large,huge,giant,gigantic}_patch<P>_<size>: their defaults),
 *     `model_args` (allow-listed key by key: config_timm.c's MODEL_ARGS), `pretrained_cfg`
 *     (input_size, crop_pct, interpolation, mean, std),
 *     `label_names` / `label_descriptions`, `num_classes`
 *   transformers config.json (hidden_size, num_attention_heads, num_hidden_layers,
 *     intermediate_size, layer_norm_eps, image_size, patch_size, num_channels, id2label) and
 *     preprocessor_config.json (size, crop_size, resample, image_mean, image_std, rescale_factor,
 *     do_resize, do_center_crop, do_normalize, do_rescale)
 * The head count is in no tensor shape: timm's comes from model_args.num_heads, else the
 * architecture's (whatever embed_dim model_args set); transformers' from num_attention_heads (12
 * when absent, as DeiTConfig). When nothing gives it (no config.json, an unknown architecture
 * without num_heads) the checkpoint is refused, never guessed. A config that contradicts the
 * tensors is an error naming both values.
 */
#ifndef DEIT_CONFIG_H
#define DEIT_CONFIG_H

#include <stddef.h>

#include "deit.h"
#include "naming.h"
#include "preprocess.h"
#include "safetensors.h"
#include "status.h"

/* Upper bounds that keep every size computation far from overflow; anything larger is refused. */
#define DEIT_MAX_DIM 8192
#define DEIT_MAX_DEPTH 256
#define DEIT_MAX_HEADS 256
#define DEIT_MAX_MLP 65536
#define DEIT_MAX_CLASSES 100000
#define DEIT_MAX_IMAGE_SIDE 4096
#define DEIT_MAX_PATCH 256
#define DEIT_MAX_TOKENS 16385
/* Each size above is bounded on its own, but not their products: the activations one image's
 * forward pass keeps (per token: the residual stream, its norm, q/k/v, the attention output and
 * the MLP's hidden layer; plus the patch matrix and the K/V packs), times --max-batch, per worker,
 * and each thread's T x T attention scores (config.c, check_activations). A 5 MB checkpoint (width 8, MLP 65536, 16385 tokens) would ask each
 * worker for 4 GiB per image; one of width 8 and MLP 8 with as many tokens, 1.5 GiB per thread.
 * Real ones need far less: ViT-g/14 at 518x518 (1370 tokens) 100 MiB, a patch-8 ViT-B at 448 96 MiB. */
#define DEIT_MAX_IMAGE_ACTIVATION_BYTES ((size_t)1 << 30)

typedef struct {
    char name[128];            /* model name: directory (or file stem) basename */
    char architecture[128];    /* timm architecture or transformers architectures[0]; "" if unknown */
    deit_naming naming;        /* timm or transformers names, the prefix: decided once, read by weights.c */
    st_dtype dtype;            /* dtype of the stored weights (F32, F16, BF16) */

    int image_h, image_w;      /* input size the position embedding was trained for */
    int patch;                 /* square patch side */
    int in_chans;              /* 1 or 3 */
    int dim;                   /* embedding width */
    int depth;                 /* number of blocks */
    int heads;                 /* attention heads; dim % heads == 0 */
    int mlp_hidden;            /* fc1 output width */
    int n_classes;             /* head output width (0 = no head: not supported, refused) */
    int distilled;             /* 1: two heads, the second on the distillation token (token 1) */
    int second_class;          /* the second prefix token was trained as a second class token (timm
                                * config "second_token": "class"): the paper's control, the same
                                * network as a distilled one, its second head a class head */
    int n_prefix;              /* tokens before the patches: 1, or 2 with a distillation token, which
                                * takes part in attention whether or not a head reads it (transformers'
                                * DeiTForImageClassification: one head on token 0, n_prefix 2) */
    int n_tokens;              /* n_prefix + (image_h/patch) * (image_w/patch) */
    int no_embed_class;        /* timm no_embed_class (DeiT III): the checkpoint's position embedding
                                * has one row per patch and none for the prefix tokens; the loaded
                                * table (weights.h pos_embed) gets zero rows for them */
    int layer_scale;           /* timm init_values set (DeiT III): 'blocks.N.ls1.gamma' / 'ls2.gamma'
                                * scale each residual branch; folded into attn.proj and mlp.fc2 at
                                * load (weights.c), so the forward pass never sees them */
    float ln_eps;              /* 1e-6 timm, config layer_norm_eps (1e-12) transformers */
    int qkv_bias;              /* timm qkv_bias / transformers qkv_bias (default 1) */

    deit_preproc pre;          /* how to turn an image into the input tensor */

    char **labels;             /* n_classes NUL-terminated strings, owned; never NULL after resolve */
} deit_config;

/* Resolves and validates the configuration for `weights`. config_json / preproc_json may be NULL
 * (then everything comes from the tensors, with timm's defaults for a DeiT: bicubic, crop_pct 0.875
 * unless the architecture says otherwise, ImageNet mean/std). `name` fills cfg->name.
 * imagenet_labels (1000 strings) is used for 1000-class models without label names.
 * On failure returns a DEIT_E* status and leaves a message naming the field in err. */
int deit_config_resolve(const char *config_json, size_t config_len,
                        const char *preproc_json, size_t preproc_len,
                        const st_file *weights, const char *name,
                        deit_config *cfg, char *err, size_t errlen);

/* Frees the labels; deit_config_free on a zeroed config is a no-op. */
void deit_config_free(deit_config *cfg);

/* The 1000 ImageNet-1k class names in timm's index order (compiled into the binary). */
extern const char *const deit_imagenet_labels[1000];

#endif
