/* pack_lp.c — lowers an opened model's linear weights to bf16 or int8 panels (gemm_lp.h), once, at open.
 *
 * Which layers: the four linear layers of every block, and the patch embedding (a linear layer over
 * im2col rows). The classifier heads stay f32: they run on one row per image (negligible time) and
 * are the last word on the answer. The source is the f32 pack (pack.c), so F32, F16 and BF16
 * checkpoints all arrive here as exact f32 values; a BF16 checkpoint loses nothing in bf16.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* Bytes of one lowered weight, each part 64-byte aligned. */
static size_t round64(size_t b) { return (b + 63) / 64 * 64; }

static size_t lp_bytes(lp_kind kind, int n, int k)
{
    size_t npad = ((size_t)n + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL;
    if (kind == LP_BF16)
        return round64(lp_packed_elems(kind, n, k) * sizeof(uint16_t));
    return round64(lp_packed_elems(kind, n, k)) + 2 * round64(npad * sizeof(float));
}

/* W[n][k] back out of gemm.h's packed W^T (packed[p][kk][j] = W[p*16+j][kk]). */
static void unpack_f32(const float *pk, int n, int k, float *w)
{
    for (int j = 0; j < n; j++)
        for (int kk = 0; kk < k; kk++)
            w[(size_t)j * k + kk] = pk[((size_t)(j / GEMM_PANEL) * k + kk) * GEMM_PANEL + j % GEMM_PANEL];
}

/* Lowers one weight into *cursor (advancing it); with cursor NULL only counts into *need. */
static void lower_one(lp_kind kind, const float *pk, int n, int k, float *tmp, char **cursor,
                      size_t *need, lp_weight *out)
{
    out->n = n;
    out->k = k;
    if (!cursor) {
        *need += lp_bytes(kind, n, k);
        return;
    }
    unpack_f32(pk, n, k, tmp);
    char *p = *cursor;
    size_t npad = ((size_t)n + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL;
    if (kind == LP_BF16) {
        out->w = p;
        gemm_bf16_pack_t(tmp, (size_t)k, n, k, (uint16_t *)p);
    } else {
        size_t wb = round64(lp_packed_elems(kind, n, k));
        out->w = p;
        out->scale = (float *)(p + wb);
        out->colsum = (int32_t *)(p + wb + round64(npad * sizeof(float)));
        memset(p + wb, 0, 2 * round64(npad * sizeof(float)));
        gemm_s8_pack_t(tmp, (size_t)k, n, k, (int8_t *)p, (float *)out->scale, (int32_t *)out->colsum);
    }
    *cursor += lp_bytes(kind, n, k);
}

static void lower_all(deit_model *m, float *tmp, char **cursor, size_t *need)
{
    const deit_config *c = &m->cfg;
    int D = c->dim, M = c->mlp_hidden, K = c->in_chans * c->patch * c->patch;
    lp_kind kind = m->lp.kind;
    lower_one(kind, m->pk.patch, D, K, tmp, cursor, need, &m->lp.patch);
    for (int l = 0; l < c->depth; l++) {
        const deit_packed_block *pb = &m->pk.blocks[l];
        deit_lp_block *lb = &m->lp.blocks[l];
        lower_one(kind, pb->qkv, 3 * D, D, tmp, cursor, need, &lb->qkv);
        lower_one(kind, pb->proj, D, D, tmp, cursor, need, &lb->proj);
        lower_one(kind, pb->fc1, M, D, tmp, cursor, need, &lb->fc1);
        lower_one(kind, pb->fc2, D, M, tmp, cursor, need, &lb->fc2);
    }
}

/* One truth for the weights: once lowered, the f32 panels of the patch embedding and the blocks are
 * never read again (forward.c takes the lowered ones), so the f32 store shrinks to the two heads,
 * which stay f32. Where the pack is not the own kernels' (blas) nothing is lowered, so this is not
 * reached. Out of memory here only means the unused copy stays: the model is still right. */
static void keep_only_f32_heads(deit_model *m)
{
    const deit_config *c = &m->cfg;
    if (!gemm_isa_packs(m->isa))
        return;
    size_t head = round64(gemm_packed_floats(c->n_classes, c->dim) * sizeof(float));
    size_t both = m->pk.head_dist ? 2 * head : head;
    char *store = aligned_alloc(64, both);
    if (!store)
        return;
    memcpy(store, m->pk.head, head);
    m->pk.head = (const float *)store;
    if (m->pk.head_dist) {
        memcpy(store + head, m->pk.head_dist, head);
        m->pk.head_dist = (const float *)(store + head);
    }
    free(m->pk.store);
    m->pk.store = (float *)store;
    m->pk.patch = NULL;
    for (int l = 0; l < c->depth; l++)
        m->pk.blocks[l] = (deit_packed_block){0};
}

int deit_model_lower(deit_model *m, int kind, char *err, size_t errlen)
{
    if (kind == 0)
        return DEIT_OK;
    const char *name = kind == LP_BF16 ? "bf16" : "int8";
    if (kind != LP_BF16 && kind != LP_INT8)
        return deit_fail(err, errlen, DEIT_EINVAL, "unknown precision %d", kind);
    const char *missing = lp_isa_missing(m->isa, (lp_kind)kind);
    if (missing)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                         "precision %s needs %s, which this CPU (isa %s) lacks; use f32", name,
                         missing, gemm_isa_name(m->isa));
    const deit_config *c = &m->cfg;
    size_t D = (size_t)c->dim, M = (size_t)c->mlp_hidden, K = (size_t)c->in_chans * c->patch * c->patch;
    /* int8 sums u8 x s8 products in int32: exact while 255 * 127 * k fits, k <= 66311. The MLP's
     * (<= DEIT_MAX_MLP) always does; a patch embedding of 3 x 149 x 149 or more would not. */
    size_t kmax = K > D ? K : D;
    kmax = M > kmax ? M : kmax;
    if (kind == LP_INT8 && kmax > (size_t)INT32_MAX / (255 * 127))
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                         "precision int8: a layer of %zu inputs (the patch embedding is %d x %d x %d) is more than "
                         "int8's int32 sums hold exactly (%d); use f32 or bf16", kmax, c->in_chans, c->patch,
                         c->patch, INT32_MAX / (255 * 127));
    size_t tmp_n = 3 * D * D;
    if (M * D > tmp_n) tmp_n = M * D;
    if (K * D > tmp_n) tmp_n = K * D;
    m->lp.kind = kind;
    m->lp.blocks = calloc((size_t)c->depth, sizeof *m->lp.blocks);
    float *tmp = malloc(tmp_n * sizeof(float));
    size_t need = 0;
    if (!m->lp.blocks || !tmp)
        goto fail;
    lower_all(m, NULL, NULL, &need);
    m->lp.arena = aligned_alloc(64, need);
    if (!m->lp.arena)
        goto fail;
    char *cursor = m->lp.arena;
    lower_all(m, tmp, &cursor, &need);
    free(tmp);
    keep_only_f32_heads(m);
    return DEIT_OK;
fail:
    free(tmp);
    deit_model_unlower(m);
    return deit_fail(err, errlen, DEIT_ENOMEM, "out of memory lowering weights to %s", name);
}

void deit_model_unlower(deit_model *m)
{
    free(m->lp.blocks);
    free(m->lp.arena);
    memset(&m->lp, 0, sizeof m->lp);
}
