/* model_internal.h — the layout of deit_model and deit_state, shared by the engine's own files only. */
#ifndef DEIT_MODEL_INTERNAL_H
#define DEIT_MODEL_INTERNAL_H

#include "config.h"
#include "deit.h"
#include "weights.h"

struct deit_model {
    deit_config cfg;           /* resolved hyper-parameters, preprocessing, labels */
    deit_weights w;            /* float32 copies, read-only after open */
};

/* Largest batch a state may be created for: keeps every buffer size far from overflow. */
#define DEIT_MAX_BATCH 1024

struct deit_state {
    const deit_model *m;
    int max_batch;
    /* scratch, sized once for max_batch images of T tokens */
    float *x;                  /* [B*T][D] residual stream */
    float *xn;                 /* [B*T][D] normalised input of a sub-layer / its output */
    float *qkv;                /* [B*T][3D] */
    float *scores;             /* [T][T] attention of one (image, head) */
    float *attn_out;           /* [B*T][D] heads concatenated */
    float *hidden;             /* [B*T][M] mlp hidden */
    float *patches;            /* [B*N][C*P*P] im2col of the input */
    float *prefix;             /* [B*n_prefix][D] the class/dist tokens after the final norm */
    /* optional trace of image 0: patch_embed [N][D], block<i> [T][D], final_norm [T][D] */
    int trace_on;
    float *trace;              /* [(depth + 2)][T][D] */
};

#endif
