/* model_internal.h — the layout of deit_model and deit_state, shared by the engine's own files only. */
#ifndef DEIT_MODEL_INTERNAL_H
#define DEIT_MODEL_INTERNAL_H

#include <stdatomic.h>

#include "config.h"
#include "deit.h"
#include "gemm.h"
#include "pool.h"
#include "weights.h"

/* The linear weights in gemm.h's packed form (B = W^T in 16-column panels). Matrices whose out dim
 * is a multiple of 16 are repacked in place inside deit_weights' arena (same size: the [out][in]
 * layout documented in weights.h no longer holds for them after deit_model_open); the others
 * (e.g. a 1000-class head) are packed into `extra`. */
typedef struct {
    const float *qkv, *proj, *fc1, *fc2; /* one block: [3D][D], [D][D], [M][D], [D][M] as W^T */
} deit_packed_block;

typedef struct {
    const float *patch;        /* [D][C*P*P] as W^T */
    deit_packed_block *blocks; /* [depth] */
    const float *head, *head_dist; /* [n_classes][D] as W^T; head_dist NULL when not distilled */
    float *extra;              /* allocation of the out-of-place packs (64-byte aligned) */
} deit_packed;

struct deit_model {
    deit_config cfg;           /* resolved hyper-parameters, preprocessing, labels */
    deit_weights w;            /* float32 copies, read-only after open */
    deit_precision precision;  /* deit_params.precision at open */
    gemm_isa isa;              /* kernel set chosen at open (deit_params.isa, $DEIT_ISA, the CPU) */
    deit_packed pk;            /* packed views of w's linear weights */
};

/* Packs m->w's linear weights into m->pk; called once by deit_model_open.
 * Returns DEIT_OK or DEIT_ENOMEM. */
int deit_model_pack(deit_model *m);
void deit_model_unpack(deit_model *m);

/* Resolved configuration; owned by the model, valid until deit_model_free. For the engine's own
 * files and tests: everything outside model/ reads the public accessors in deit.h. */
const deit_config *deit_model_config(const deit_model *m);

/* Largest batch a state may be created for: keeps every buffer size far from overflow. */
#define DEIT_MAX_BATCH 1024
/* Largest team per state: far above any sensible core count. */
#define DEIT_MAX_THREADS 64

struct deit_state {
    const deit_model *m;
    int max_batch;
    pool *team;                /* the threads that share each forward pass (tid 0 = caller) */
    atomic_int *claims;        /* [depth+1] next row chunk of each phase (forward.c) */
    /* scratch, sized once for max_batch images of T tokens; threads own disjoint token rows */
    float *x;                  /* [B*T][D] residual stream */
    float *xn;                 /* [B*T][D] normalised input of a sub-layer */
    float *qkv;                /* [B*T][3D] */
    float *scores;             /* [threads][T][T] attention rows of one (image, head) */
    float *kv;                 /* [2][B][H][kT | v] packed K^T and V, double-buffered by block
                                * parity so the one barrier per block suffices */
    size_t kv_head;            /* floats of one (image, head) pair of packs */
    float *attn_out;           /* [B*T][D] heads concatenated */
    float *hidden;             /* [B*T][M] mlp hidden */
    float *patches;            /* [B*N][C*P*P] im2col of the input */
    float *prefix;             /* [B*n_prefix][D] the class/dist tokens after the final norm */
    /* attention capture for explanations, allocated by the first explaining pass (explain.c) */
    float *attn;               /* [max_batch][depth][T][T] sum over heads of softmax attention */
    double *roll;              /* [2][T] rollout vectors */
    /* optional trace of image 0: patch_embed [N][D], block<i> [T][D], final_norm [T][D] */
    int trace_on;
    float *trace;              /* [(depth + 2)][T][D] */
};

#endif
