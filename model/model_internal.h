/* model_internal.h — the layout of deit_model and deit_state, shared by the engine's own files only. */
#ifndef DEIT_MODEL_INTERNAL_H
#define DEIT_MODEL_INTERNAL_H

#include <stdatomic.h>

#include "config.h"
#include "deit.h"
#include "gemm.h"
#include "gemm_lp.h"
#include "pool.h"
#include "weights.h"

/* The linear layers' weights after open, and the only copy of them (deit_model_pack takes them
 * from deit_weights, whose *_w fields are NULL from then on). Each is B = W^T of the layer's
 * W[out][in] in gemm.h's packed form for the model's isa: 16-column panels for the own kernels,
 * W[out][in] itself for BLAS (gemm_isa_packs). */
typedef struct {
    const float *qkv, *proj, *fc1, *fc2; /* one block: W [3D][D], [D][D], [M][D], [D][M] */
} deit_packed_block;

typedef struct {
    const float *patch;        /* W [D][C*P*P] */
    deit_packed_block *blocks; /* [depth] */
    const float *head, *head_dist; /* W [n_classes][D]; head_dist NULL when not distilled */
    float *store;              /* the allocation every pointer above points into (64-byte aligned) */
} deit_packed;

/* One linear weight lowered by pack_lp.c: bf16 panels, or int8 panels with per-output-channel
 * scales and column sums (gemm_lp.h). */
typedef struct {
    const void *w;             /* uint16_t (bf16) or int8_t panels */
    const float *scale;        /* [n] int8 only */
    const int32_t *colsum;     /* [n] int8 only */
    int n, k;
} lp_weight;

typedef struct {
    lp_weight qkv, proj, fc1, fc2;
} deit_lp_block;

typedef struct {
    int kind;                  /* 0: f32 (nothing lowered), LP_BF16 or LP_INT8 */
    lp_weight patch;           /* patch embedding */
    deit_lp_block *blocks;     /* [depth] */
    void *arena;               /* the one allocation the panels live in */
} deit_lp;

struct deit_model {
    deit_config cfg;           /* resolved hyper-parameters, preprocessing, labels */
    deit_weights w;            /* float32 biases, norms, tokens, positions (no linear weights) */
    deit_precision precision;  /* deit_params.precision at open */
    gemm_isa isa;              /* kernel set chosen at open (deit_params.isa, $DEIT_ISA, the CPU) */
    deit_packed pk;            /* the linear weights, packed for isa */
    deit_lp lp;                /* the blocks' and patch embedding's weights lowered to bf16 / int8
                                * (pack_lp.c; kind 0 at f32) */
    int attn_f32;              /* attention's products in f32 even where the CPU has BF16: how a CPU
                                * with VNNI but no BF16 runs int8. 0 from open; tests set it (before
                                * any state is made) to check that path on a CPU that has both */
};

/* Moves m->w's linear weights into m->pk, packed for m->isa (set before); called once by
 * deit_model_open. Returns DEIT_OK or DEIT_ENOMEM (deit_model_unpack then frees whatever was
 * taken). */
int deit_model_pack(deit_model *m);
void deit_model_unpack(deit_model *m);

/* Lowers the packed linear weights to `kind` (0: none, LP_BF16, LP_INT8) after deit_model_pack,
 * so deit_forward runs the blocks' products (and the patch embedding) at that precision. Fails
 * with DEIT_EUNSUPPORTED and a message naming the instruction set when this CPU (or DEIT_ISA)
 * cannot run it natively, DEIT_ENOMEM on allocation failure. */
int deit_model_lower(deit_model *m, int kind, char *err, size_t errlen);
void deit_model_unlower(deit_model *m);
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
    int width;                 /* members of the team that run a pass (deit_state_set_width) */
    atomic_int *claims;        /* [depth+1] next row chunk of each phase (forward.c) */
    /* scratch, sized once for max_batch images of T tokens; threads own disjoint token rows */
    float *x;                  /* [B*T][D] residual stream */
    float *xn;                 /* [B*T][D] normalised input of a sub-layer */
    float *qkv;                /* [B*T][3D] */
    float *scores;             /* [threads][T][T] attention rows of one (image, head) */
    float *kv;                 /* [2][B][H][kT | v] packed K^T and V, double-buffered by block
                                * parity so the one barrier per block suffices */
    size_t kv_head;            /* floats of one (image, head) pair of packs */
    int attn_bf16;             /* attention's two products in bf16: packs and the rows below are
                                * bf16 (forward.c says when) */
    uint16_t *attn_rows;       /* [threads][T][attn_ld] Q, then P, of one (image, head) as bf16 */
    size_t attn_ld;
    float *attn_out;           /* [B*T][D] heads concatenated */
    float *hidden;             /* [B*T][M] mlp hidden */
    float *patches;            /* [B*N][C*P*P] im2col of the input */
    float *prefix;             /* [B*n_prefix][D] the class/dist tokens after the final norm */
    /* bf16 / int8 models only: a linear layer's input rows rounded or quantized (forward.c) */
    void *aq;                  /* [B*T][aq_ld] bytes: uint16_t (bf16) or uint8_t (int8) rows */
    size_t aq_ld;              /* elements per row: the widest k of any lowered layer, padded */
    float *aq_scale;           /* [B*T] int8 row scales */
    int32_t *aq_zp;            /* [B*T] int8 row zero points */
    /* attention capture for explanations (explain.c): attn lives for one explaining pass only,
     * sized by the images that explain in it; slot and roll are small and kept */
    float *attn;               /* [explaining images][depth][T][T] sum over heads of softmax attention */
    int *attn_slot;            /* [max_batch] image b's place in attn; -1: b does not explain */
    double *roll;              /* [2][T] rollout vectors */
    size_t explain_budget;     /* bytes of attn one pass may hold: DEIT_MAX_EXPLAIN_PASS_BYTES (tests
                                * lower it to make a batch split) */
    size_t attn_peak;          /* largest capture so far, in bytes (tests check the budget holds) */
    /* optional trace of image 0: patch_embed [N][D], block<i> [T][D], final_norm [T][D] */
    int trace_on;
    float *trace;              /* [(depth + 2)][T][D] */
};

#endif
