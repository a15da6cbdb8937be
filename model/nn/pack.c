/* pack.c — turns a loaded model's linear weights into gemm.h's packed panels, once, at open. */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static size_t round64(size_t floats)
{
    return (floats + 15) / 16 * 16;
}

/* Packs W[out][in] in place when out is a panel multiple (same size), else into *extra (advancing
 * it; with extra NULL only counts into *need). Returns the packed pointer. */
static const float *pack_one(float *w, int out, int in, float *tmp, float **extra, size_t *need)
{
    if (out % GEMM_PANEL == 0) {
        if (extra)
            gemm_pack_weight_inplace(w, out, in, tmp);
        return w;
    }
    size_t n = round64(gemm_packed_floats(out, in));
    if (!extra) {
        *need += n;
        return NULL;
    }
    float *dst = *extra;
    memset(dst, 0, n * sizeof(float));
    gemm_pack_t(w, (size_t)in, out, in, 0, out, dst);
    *extra += n;
    return dst;
}

/* Walks every linear weight: a counting pass (extra NULL) then the packing pass. */
static void pack_all(deit_model *m, float *tmp, float **extra, size_t *need)
{
    const deit_config *c = &m->cfg;
    deit_weights *w = &m->w;
    int D = c->dim, M = c->mlp_hidden, K = c->in_chans * c->patch * c->patch;
    m->pk.patch = pack_one(w->patch_w, D, K, tmp, extra, need);
    for (int l = 0; l < c->depth; l++) {
        deit_block_weights *bw = &w->blocks[l];
        deit_packed_block *pb = &m->pk.blocks[l];
        pb->qkv = pack_one(bw->qkv_w, 3 * D, D, tmp, extra, need);
        pb->proj = pack_one(bw->proj_w, D, D, tmp, extra, need);
        pb->fc1 = pack_one(bw->fc1_w, M, D, tmp, extra, need);
        pb->fc2 = pack_one(bw->fc2_w, D, M, tmp, extra, need);
    }
    m->pk.head = pack_one(w->head_w, c->n_classes, D, tmp, extra, need);
    m->pk.head_dist = c->distilled ? pack_one(w->head_dist_w, c->n_classes, D, tmp, extra, need) : NULL;
}

int deit_model_pack(deit_model *m)
{
    const deit_config *c = &m->cfg;
    size_t D = (size_t)c->dim, M = (size_t)c->mlp_hidden, K = (size_t)c->in_chans * c->patch * c->patch;
    size_t tmp_n = 3 * D * D;
    if (M * D > tmp_n) tmp_n = M * D;
    if (K * D > tmp_n) tmp_n = K * D;
    m->pk.blocks = calloc((size_t)c->depth, sizeof *m->pk.blocks);
    float *tmp = malloc(tmp_n * sizeof(float));
    size_t need = 0;
    if (!m->pk.blocks || !tmp)
        goto fail;
    pack_all(m, NULL, NULL, &need);
    if (need) {
        m->pk.extra = aligned_alloc(64, need * sizeof(float));
        if (!m->pk.extra)
            goto fail;
    }
    float *cursor = m->pk.extra;
    pack_all(m, tmp, &cursor, &need);
    free(tmp);
    return DEIT_OK;
fail:
    free(tmp);
    deit_model_unpack(m);
    return DEIT_ENOMEM;
}

void deit_model_unpack(deit_model *m)
{
    free(m->pk.blocks);
    free(m->pk.extra);
    memset(&m->pk, 0, sizeof m->pk);
}
