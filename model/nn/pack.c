/* pack.c — takes a loaded model's linear weights and lays them out for its GEMM kernels, once, at open. */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static size_t round64(size_t floats)
{
    return (floats + 15) / 16 * 16;
}

/* Calls fn on every linear weight of the model: its slot in pk, and its shape [out][in]. */
typedef void (*each_fn)(const float **slot, int out, int in, void *ctx);

static void each_linear(deit_model *m, each_fn fn, void *ctx)
{
    const deit_config *c = &m->cfg;
    int D = c->dim, M = c->mlp_hidden, K = c->in_chans * c->patch * c->patch;
    fn(&m->pk.patch, D, K, ctx);
    for (int l = 0; l < c->depth; l++) {
        deit_packed_block *pb = &m->pk.blocks[l];
        fn(&pb->qkv, 3 * D, D, ctx);
        fn(&pb->proj, D, D, ctx);
        fn(&pb->fc1, M, D, ctx);
        fn(&pb->fc2, D, M, ctx);
    }
    fn(&m->pk.head, c->n_classes, D, ctx);
    if (c->distilled)
        fn(&m->pk.head_dist, c->n_classes, D, ctx);
}

static void count_one(const float **slot, int out, int in, void *ctx)
{
    (void)slot;
    *(size_t *)ctx += round64(gemm_packed_floats(out, in));
}

typedef struct {
    gemm_isa isa;
    float *cursor;             /* next free place of the store */
} packer;

/* Packs W[out][in] at *slot into the next free place of the store and points *slot there. */
static void pack_one(const float **slot, int out, int in, void *ctx)
{
    packer *p = ctx;
    size_t n = round64(gemm_packed_floats(out, in));
    memset(p->cursor, 0, n * sizeof(float)); /* panel padding: never stored, but defined */
    gemm_pack_t(p->isa, *slot, (size_t)in, out, in, 0, out, p->cursor);
    *slot = p->cursor;
    p->cursor += n;
}

int deit_model_pack(deit_model *m)
{
    const deit_config *c = &m->cfg;
    deit_weights *w = &m->w;
    m->pk.blocks = calloc((size_t)c->depth, sizeof *m->pk.blocks);
    if (!m->pk.blocks)
        return DEIT_ENOMEM;
    /* the loaded [out][in] matrices, which become the only copy */
    m->pk.patch = w->patch_w;
    for (int l = 0; l < c->depth; l++) {
        const deit_block_weights *bw = &w->blocks[l];
        m->pk.blocks[l] = (deit_packed_block){bw->qkv_w, bw->proj_w, bw->fc1_w, bw->fc2_w};
    }
    m->pk.head = w->head_w;
    m->pk.head_dist = c->distilled ? w->head_dist_w : NULL;
    m->pk.store = deit_weights_take_linear(w);
    if (gemm_isa_packs(m->isa)) {
        /* the own kernels read W^T in panels: pack out of place, then drop the loaded copy */
        size_t need = 0;
        each_linear(m, count_one, &need);
        float *store = aligned_alloc(64, need * sizeof(float));
        if (!store)
            return DEIT_ENOMEM; /* deit_model_unpack frees the loaded copy */
        packer p = {m->isa, store};
        each_linear(m, pack_one, &p);
        free(m->pk.store);
        m->pk.store = store;
    } else {
        gemm_blas_single_thread(); /* the team owns the threading (gemm_blas.c) */
    }
    return DEIT_OK;
}

void deit_model_unpack(deit_model *m)
{
    deit_model_unlower(m);
    free(m->pk.blocks);
    free(m->pk.store);
    memset(&m->pk, 0, sizeof m->pk);
}
