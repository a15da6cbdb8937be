/* weights.h — the model's parameters as float32 arrays, read-only after load.
 *
 * Whatever the checkpoint's layout (timm or transformers) and dtype (F32/F16/BF16), weights are
 * upcast once into this single layout, which follows timm's module order. Two allocations: the
 * linear layers' weights (the *_w matrices: patch embedding, qkv, proj, fc1, fc2, heads), in
 * PyTorch's [out][in] row-major layout, and everything else (biases, norms, tokens, positions).
 * The matrices are only the loader's output: deit_model_open hands them to pack.c with
 * deit_weights_take_linear, which NULLs every *_w field, so in an opened model the packed weights
 * in deit_model's `pk` are the only copy and no field here points at a stale layout.
 */
#ifndef DEIT_WEIGHTS_H
#define DEIT_WEIGHTS_H

#include "config.h"
#include "safetensors.h"
#include "status.h"

typedef struct {
    float *norm1_w, *norm1_b;  /* [dim] */
    /* the *_w matrices live in linear_arena, [out][in]; NULL once taken */
    float *qkv_w;              /* [3*dim][dim]: rows q(0..dim), k, v; heads contiguous inside each */
    float *qkv_b;              /* [3*dim] (zeros when the checkpoint has no qkv bias) */
    float *proj_w;             /* [dim][dim] */
    float *proj_b;             /* [dim] */
    float *norm2_w, *norm2_b;  /* [dim] */
    float *fc1_w;              /* [mlp_hidden][dim] */
    float *fc1_b;              /* [mlp_hidden] */
    float *fc2_w;              /* [dim][mlp_hidden] */
    float *fc2_b;              /* [dim] */
} deit_block_weights;

typedef struct {
    float *patch_w;            /* [dim][in_chans*patch*patch] (conv weight flattened c,ky,kx) */
    float *patch_b;            /* [dim] */
    float *cls_token;          /* [dim] */
    float *dist_token;         /* [dim] or NULL without a distillation token (n_prefix 1) */
    float *pos_embed;          /* [n_tokens][dim] (prefix tokens first; zero rows for them under
                                * no_embed_class, whose checkpoint table has none) */
    deit_block_weights *blocks;/* [depth] */
    float *norm_w, *norm_b;    /* [dim] final LayerNorm */
    float *head_w, *head_b;    /* [n_classes][dim], [n_classes] */
    float *head_dist_w, *head_dist_b; /* same, or NULL when not distilled */

    float *arena;              /* the allocation every pointer above but the *_w matrices points into */
    size_t arena_floats;
    float *linear_arena;       /* the allocation of the *_w matrices; NULL once taken */
    size_t linear_floats;
    int depth;                 /* entries of blocks */
} deit_weights;

/* Copies (upcasting) every tensor the config needs from `st` into w. Fails with a message naming
 * the missing tensor or the one whose shape differs from the config, or an unexpected extra tensor
 * that would change the computation (e.g. layer-scale gammas), all checked before anything is
 * allocated; or naming a tensor and element that is NaN or infinite. */
int deit_weights_load(const st_file *st, const deit_config *cfg, deit_weights *w, char *err,
                      size_t errlen);

/* Hands the linear matrices' allocation to the caller (who frees it) and NULLs every *_w field and
 * linear_arena: from then on the caller's copy is the only one. */
float *deit_weights_take_linear(deit_weights *w);

void deit_weights_free(deit_weights *w);

#endif
