/* forward.c — per-worker scratch state and the batched DeiT forward pass (timm's VisionTransformer
 * / DistilledVisionTransformer in eval mode), shared by a small team of threads.
 *
 * Parallel plan: every stage but attention is row-local (LayerNorm, the four linear layers, GELU,
 * residuals), so the batch's B*T token rows are cut into chunks that the team's threads claim one
 * at a time and run with no synchronisation. Attention needs every token's keys and values, so
 * there is one barrier per block, after each chunk's K^T and V are packed; the packs are
 * double-buffered by block parity (see forward_rows). Chunks are claimed dynamically because the
 * cores are shared: a thread that loses its core leaves its chunks to the others.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "kernels.h"
#include "model_internal.h"

static int n_patches(const deit_config *c)
{
    return (c->image_h / c->patch) * (c->image_w / c->patch);
}

/* Allocation rounded up to a multiple of 64 bytes, 64-byte aligned (vector panels), zeroed and so
 * resident from the start: a batch of k images first touches its k-th slice of every buffer, so
 * untouched scratch made RSS creep up for minutes as larger batches first happened under load,
 * which looks like a leak. Touching it all here makes RSS flat from the first request. */
static float *alloc_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes ? bytes : 64);
    return p;
}

/* Attention's two products (q k^T and p v) run in bf16 for a bf16 or int8 model on a CPU with
 * AVX512_BF16: f32 accumulation, softmax in f32, the scores and probabilities rounded as they enter
 * the products. At bf16 they were 14% of DeiT-tiny's time in f32 (bench/README.md); int8 uses bf16
 * there too because a u8 probability row would lose the small weights that attention sums. A CPU
 * with VNNI but no BF16 keeps f32 attention at int8. */
static int attention_in_bf16(const deit_model *m)
{
    return m->lp.kind != 0 && !m->attn_f32 && lp_isa_missing(m->isa, LP_BF16) == NULL;
}

deit_state *deit_state_new_with(const deit_model *m, const deit_params *p)
{
    deit_params defaults = deit_default_params();
    if (!p)
        p = &defaults;
    int max_batch = p->max_batch, n_threads = p->threads;
    if (!m || max_batch < 1 || max_batch > DEIT_MAX_BATCH || n_threads < 1 ||
        n_threads > DEIT_MAX_THREADS)
        return NULL;
    const deit_config *c = &m->cfg;
    size_t B = (size_t)max_batch, T = (size_t)c->n_tokens, D = (size_t)c->dim;
    size_t M = (size_t)c->mlp_hidden, N = (size_t)n_patches(c), H = (size_t)c->heads;
    size_t K = (size_t)c->in_chans * c->patch * c->patch, hd = D / H;

    deit_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    s->max_batch = max_batch;
    s->explain_budget = DEIT_MAX_EXPLAIN_PASS_BYTES;
    s->attn_bf16 = attention_in_bf16(m);
    if (s->attn_bf16) {
        size_t elems = lp_packed_elems(LP_BF16, (int)T, (int)hd) + lp_packed_elems(LP_BF16, (int)hd, (int)T);
        s->kv_head = (elems + 31) / 32 * 16; /* floats, 64-byte multiples */
        size_t tp = (size_t)lp_kpad(LP_BF16, (int)T), hp = (size_t)lp_kpad(LP_BF16, (int)hd);
        s->attn_ld = tp > hp ? tp : hp;
        s->attn_rows = (uint16_t *)alloc_floats((size_t)n_threads * T * s->attn_ld / 2 + 1);
    } else {
        s->kv_head = gemm_packed_floats((int)T, (int)hd) + gemm_packed_floats((int)hd, (int)T);
    }
    s->team = pool_new(n_threads);
    s->width = n_threads;
    s->x = alloc_floats(B * T * D);
    s->xn = alloc_floats(B * T * D);
    s->qkv = alloc_floats(B * T * 3 * D);
    s->scores = alloc_floats((size_t)n_threads * T * T);
    s->kv = alloc_floats(2 * B * H * s->kv_head);
    s->attn_out = alloc_floats(B * T * D);
    s->hidden = alloc_floats(B * T * M);
    s->patches = alloc_floats(B * N * K);
    s->prefix = alloc_floats(B * (size_t)c->n_prefix * D);
    s->claims = calloc((size_t)c->depth + 1, sizeof *s->claims);
    int lp_failed = 0;
    if (m->lp.kind) {
        /* the widest k of a lowered layer, padded to the kernel's step; 2 bytes covers bf16. With
         * an odd head dim, bf16 attention writes each head's k pad one past its columns: the last
         * head's lands at column D, which must be inside the row even when D is even. */
        size_t kmax = D + (size_t)(hd & 1) > M ? D + (size_t)(hd & 1) : M;
        kmax = K > kmax ? K : kmax;
        s->aq_ld = (size_t)lp_kpad((lp_kind)m->lp.kind, (int)kmax);
        s->aq = alloc_floats(B * T * s->aq_ld / 2 + 1);
        s->aq_scale = alloc_floats(B * T);
        s->aq_zp = (int32_t *)alloc_floats(B * T);
        lp_failed = !s->aq || !s->aq_scale || !s->aq_zp;
    }
    if (lp_failed || (s->attn_bf16 && !s->attn_rows) || !s->claims || !s->team || !s->x || !s->xn || !s->qkv || !s->scores || !s->kv || !s->attn_out ||
        !s->hidden || !s->patches || !s->prefix) {
        deit_state_free(s);
        return NULL;
    }
    return s;  /* zeroed by alloc_floats, which also keeps the packs' unwritten padding defined */
}

void deit_state_free(deit_state *s)
{
    if (!s)
        return;
    pool_free(s->team);
    free(s->x);
    free(s->xn);
    free(s->qkv);
    free(s->scores);
    free(s->kv);
    free(s->attn_out);
    free(s->hidden);
    free(s->patches);
    free(s->prefix);
    free(s->claims);
    free(s->trace);
    free(s->aq);
    free(s->aq_scale);
    free(s->aq_zp);
    free(s->attn_rows);
    free(s->attn);
    free(s->attn_slot);
    free(s->roll);
    free(s);
}

int deit_state_threads(const deit_state *s)
{
    return s ? pool_size(s->team) : 0;
}

void deit_state_set_width(deit_state *s, int n)
{
    if (!s)
        return;
    int team = pool_size(s->team);
    s->width = n < 1 ? 1 : n > team ? team : n;
}

void deit_state_trace(deit_state *s, int enable)
{
    if (!s)
        return;
    if (enable && !s->trace) {
        const deit_config *c = &s->m->cfg;
        s->trace = calloc((size_t)(c->depth + 2) * c->n_tokens * c->dim, sizeof(float));
    }
    s->trace_on = enable && s->trace;
}

const float *deit_state_trace_get(const deit_state *s, const char *name, int *rows, int *cols)
{
    if (!s || !s->trace || !name)
        return NULL;
    const deit_config *c = &s->m->cfg;
    size_t slab = (size_t)c->n_tokens * c->dim;
    int slot;
    *cols = c->dim;
    *rows = c->n_tokens;
    if (strcmp(name, "patch_embed") == 0) {
        *rows = n_patches(c);
        slot = 0;
    } else if (strcmp(name, "final_norm") == 0) {
        slot = c->depth + 1;
    } else if (strncmp(name, "block", 5) == 0) {
        char *end;
        long i = strtol(name + 5, &end, 10);
        if (end == name + 5 || *end || i < 0 || i >= c->depth)
            return NULL;
        slot = 1 + (int)i;
    } else {
        return NULL;
    }
    return s->trace + (size_t)slot * slab;
}

/* y[i, :] = epi(x[i, :] @ W^T + b) for nr rows, at the model's precision: f32 on the packed f32
 * weights, or the rows rounded to bf16 / quantized to u8 into the state's scratch rows row0..
 * (the caller's own token rows, so threads never share them) and the lowered product. */
static void linear(const deit_model *m, deit_state *s, const float *f32w, const lp_weight *lw,
                   int n, int k, int row0, int nr, const float *x, size_t ldx, const float *bias,
                   float *y, size_t ldy, gemm_epilogue epi)
{
    if (!lw) {
        gemm(m->isa, nr, n, k, 1.0f, x, ldx, f32w, bias, y, ldy, epi);
        return;
    }
    if (m->lp.kind == LP_BF16) {
        uint16_t *a = (uint16_t *)s->aq + (size_t)row0 * s->aq_ld;
        gemm_bf16_round_rows(x, ldx, nr, lw->k, a, s->aq_ld);
        gemm_bf16(nr, lw->n, lw->k, a, s->aq_ld, lw->w, bias, y, ldy, epi);
    } else {
        uint8_t *a = (uint8_t *)s->aq + (size_t)row0 * s->aq_ld;
        float *sc = s->aq_scale + row0;
        int32_t *zp = s->aq_zp + row0;
        gemm_u8_quant_rows(x, ldx, nr, lw->k, a, s->aq_ld, sc, zp);
        gemm_int8(nr, lw->n, lw->k, a, s->aq_ld, sc, zp, lw->w, lw->scale, lw->colsum, bias, y, ldy,
                  epi);
    }
}

/* bf16 models: a linear layer's input rows as bf16, written by their producer (the LayerNorm, the
 * attention, fc1's epilogue) so the f32 rows are never stored and read back for rounding. */
static uint16_t *bf16_in(deit_state *s, int row0)
{
    return (uint16_t *)s->aq + (size_t)row0 * s->aq_ld;
}

/* LayerNorm of nr rows straight to bf16 input rows: each group of rows is normalised into the
 * thread's own xn rows and rounded while they are still in L1. */
static void layernorm_bf16(const deit_model *m, deit_state *s, int row0, int nr, const float *x,
                           const float *g, const float *b, uint16_t *dst)
{
    const deit_config *c = &m->cfg;
    int D = c->dim;
    float *xn = s->xn + (size_t)row0 * D;
    for (int r = 0; r < nr; r += 8) {
        int n = nr - r < 8 ? nr - r : 8;
        k_layernorm(m->isa, x + (size_t)r * D, n, D, g, b, c->ln_eps, xn + (size_t)r * D);
        gemm_bf16_round_rows(xn + (size_t)r * D, (size_t)D, n, D, dst + (size_t)r * s->aq_ld, s->aq_ld);
    }
}

/* patches[p - p0][ch*P*P + ky*P + kx] = pixels[ch][gy*P + ky][gx*P + kx] for patches p0..p1-1 of
 * one image (p = gy*GW + gx): the input of a stride-P, kernel-P convolution as GEMM rows. */
static void im2col(const deit_config *c, const float *pixels, int p0, int p1, float *patches)
{
    int P = c->patch, H = c->image_h, W = c->image_w, C = c->in_chans;
    int GW = W / P;
    size_t K = (size_t)C * P * P;
    for (int p = p0; p < p1; p++) {
        int gy = p / GW, gx = p % GW;
        float *row = patches + (size_t)(p - p0) * K;
        for (int ch = 0; ch < C; ch++)
            for (int ky = 0; ky < P; ky++) {
                const float *src = pixels + ((size_t)ch * H + (size_t)gy * P + ky) * W + (size_t)gx * P;
                memcpy(row + ((size_t)ch * P + ky) * P, src, (size_t)P * sizeof(float));
            }
    }
}

/* Everything one thread needs for its share of a forward pass. */
typedef struct {
    const deit_model *m;
    deit_state *s;
    const float *pixels;
    int batch;
    deit_explain *ex;          /* [batch] or NULL: images whose attention is captured */
} fwd_job;

/* Token rows [r0, r1) of the batch visit each image b they touch with its token range [t0, t1). */
#define FOR_IMAGES(r0, r1, T)                                                                      \
    for (int b = (r0) / (T); b * (T) < (r1); b++)                                                  \
        for (int t0 = (r0) > b * (T) ? (r0) - b * (T) : 0,                                         \
                 t1 = (r1) < (b + 1) * (T) ? (r1) - b * (T) : (T), once_ = 1;                      \
             once_; once_ = 0)

/* The patch embedding's lowered weight, or NULL at f32. It runs at the model's precision: in f32
 * instead, DeiT-tiny's logits moved from 2.34% to 2.17% relative L2 of the reference at int8 (0.55%
 * to 0.53% at bf16), mixed on the reduced fixtures, for about 5% more time at int8. */
static const lp_weight *lp_patch(const deit_model *m)
{
    return m->lp.kind ? &m->lp.patch : NULL;
}

/* tokens: x[b][t] = (t < NP ? cls/dist : patch_embed(patch t - NP)) + pos[t], for own rows. */
static void embed_rows(const fwd_job *j, int r0, int r1)
{
    const deit_config *c = &j->m->cfg;
    const deit_weights *w = &j->m->w;
    deit_state *s = j->s;
    int T = c->n_tokens, D = c->dim, NP = c->n_prefix, N = n_patches(c);
    int K = c->in_chans * c->patch * c->patch;
    size_t in_floats = (size_t)c->in_chans * c->image_h * c->image_w;
    FOR_IMAGES(r0, r1, T) {
        float *xb = s->x + (size_t)b * T * D;
        for (int t = t0; t < t1 && t < NP; t++)
            memcpy(xb + (size_t)t * D, t == 0 ? w->cls_token : w->dist_token, (size_t)D * sizeof(float));
        int p0 = (t0 > NP ? t0 : NP) - NP, p1 = t1 - NP;
        if (p1 > p0) {
            /* patch embedding: a stride-P convolution as one GEMM over this thread's patches */
            float *pt = s->patches + ((size_t)b * N + p0) * K;
            im2col(c, j->pixels + (size_t)b * in_floats, p0, p1, pt);
            float *dst = xb + (size_t)(NP + p0) * D;
            linear(j->m, s, j->m->pk.patch, lp_patch(j->m), D, K, r0, p1 - p0, pt, (size_t)K,
                   w->patch_b, dst, (size_t)D, GEMM_STORE);
            if (s->trace_on && b == 0)
                memcpy(s->trace + (size_t)p0 * D, dst, (size_t)(p1 - p0) * D * sizeof(float));
        }
        k_add(xb + (size_t)t0 * D, w->pos_embed + (size_t)t0 * D, (size_t)(t1 - t0) * D);
    }
}

/* Packs K^T and V of own rows (all heads) into the block's buffer. */
static void pack_kv(const fwd_job *j, float *kv, int r0, int r1)
{
    const deit_config *c = &j->m->cfg;
    int T = c->n_tokens, D = c->dim, H = c->heads, hd = D / H;
    if (j->s->attn_bf16) {
        size_t kt_elems = lp_packed_elems(LP_BF16, T, hd);
        FOR_IMAGES(r0, r1, T) {
            const float *qkv = j->s->qkv + (size_t)b * T * 3 * D;
            for (int h = 0; h < H; h++) {
                uint16_t *kt = (uint16_t *)(kv + ((size_t)b * H + h) * j->s->kv_head), *v = kt + kt_elems;
                gemm_bf16_pack_t_rows(qkv + D + (size_t)h * hd, 3 * (size_t)D, hd, t0, t1, kt);
                gemm_bf16_pack_n_rows(qkv + 2 * (size_t)D + (size_t)h * hd, 3 * (size_t)D, hd, T, t0, t1, v);
            }
        }
        return;
    }
    size_t kt_floats = gemm_packed_floats(T, hd);
    FOR_IMAGES(r0, r1, T) {
        const float *qkv = j->s->qkv + (size_t)b * T * 3 * D;
        for (int h = 0; h < H; h++) {
            float *kt = kv + ((size_t)b * H + h) * j->s->kv_head, *v = kt + kt_floats;
            gemm_pack_t(j->m->isa, qkv + D + (size_t)h * hd, 3 * (size_t)D, T, hd, t0, t1, kt);
            gemm_pack_n(j->m->isa, qkv + 2 * (size_t)D + (size_t)h * hd, 3 * (size_t)D, hd, T, t0, t1, v);
        }
    }
}

/* Multi-head self-attention for own query rows: out[t, h*hd:(h+1)*hd] = softmax(q_h k_h^T * scale) v_h. */
static void attention_rows_bf16(const fwd_job *j, int l, const float *kv, float *scores,
                                uint16_t *rows, int r0, int r1)
{
    const deit_config *c = &j->m->cfg;
    int T = c->n_tokens, D = c->dim, H = c->heads, hd = D / H;
    size_t ld = j->s->attn_ld, kt_elems = lp_packed_elems(LP_BF16, T, hd);
    float scale = (float)(1.0 / sqrt((double)hd));
    FOR_IMAGES(r0, r1, T) {
        const float *q = j->s->qkv + ((size_t)b * T + t0) * 3 * D;
        float *out = j->s->attn_out + ((size_t)b * T + t0) * D;
        /* a bf16 model's projection reads the heads' output as bf16: stored so, in its input rows */
        uint16_t *out16 = j->m->lp.kind == LP_BF16 ? (uint16_t *)j->s->aq + ((size_t)b * T + t0) * j->s->aq_ld : NULL;
        int nq = t1 - t0;
        for (int h = 0; h < H; h++) {
            const uint16_t *kt = (const uint16_t *)(kv + ((size_t)b * H + h) * j->s->kv_head), *v = kt + kt_elems;
            gemm_bf16_round_rows_scaled(q + (size_t)h * hd, 3 * (size_t)D, nq, hd, scale, rows, ld);
            gemm_bf16(nq, T, hd, rows, ld, kt, NULL, scores, (size_t)T, GEMM_STORE);
            k_softmax_rows(j->m->isa, scores, nq, T);
            if (j->ex && j->ex[b].class_map)
                explain_capture(j->s, b, l, h, t0, nq, scores);
            gemm_bf16_round_rows(scores, (size_t)T, nq, T, rows, ld);
            if (out16)
                gemm_bf16_out16(nq, hd, T, rows, ld, v, NULL, out16 + (size_t)h * hd, j->s->aq_ld, GEMM_STORE);
            else
                gemm_bf16(nq, hd, T, rows, ld, v, NULL, out + (size_t)h * hd, (size_t)D, GEMM_STORE);
        }
    }
}

static void attention_rows(const fwd_job *j, int l, const float *kv, float *scores, int r0, int r1)
{
    const deit_config *c = &j->m->cfg;
    gemm_isa isa = j->m->isa;
    int T = c->n_tokens, D = c->dim, H = c->heads, hd = D / H;
    float scale = (float)(1.0 / sqrt((double)hd));
    size_t kt_floats = gemm_packed_floats(T, hd);
    FOR_IMAGES(r0, r1, T) {
        const float *q = j->s->qkv + ((size_t)b * T + t0) * 3 * D;
        float *out = j->s->attn_out + ((size_t)b * T + t0) * D;
        int nq = t1 - t0;
        for (int h = 0; h < H; h++) {
            const float *kt = kv + ((size_t)b * H + h) * j->s->kv_head, *v = kt + kt_floats;
            /* scores[i,j] = scale * q[i,:] . k[j,:] */
            gemm(isa, nq, T, hd, scale, q + (size_t)h * hd, 3 * (size_t)D, kt, NULL, scores, (size_t)T,
                 GEMM_STORE);
            k_softmax_rows(isa, scores, nq, T);
            if (j->ex && j->ex[b].class_map)
                explain_capture(j->s, b, l, h, t0, nq, scores);
            /* out[i, h] = scores[i,:] @ v */
            gemm(isa, nq, hd, T, 1.0f, scores, (size_t)T, v, NULL, out + (size_t)h * hd, (size_t)D,
                 GEMM_STORE);
        }
    }
}

/* Chunk of token rows claimed at a time, a multiple of 6 rows (the int8 tile; the 12-row f32 and
 * bf16 tiles lose at most one half tile per chunk). Every chunk streams all of a block's weights
 * through the cache (28 MB for DeiT-base at f32), so small chunks make the matrix products wait for
 * memory: measured at batch 1 on two cores, 12-row chunks made DeiT-base 1.5x slower than two
 * halves. So: two chunks per thread when that keeps them at 96 rows or more (a thread that loses
 * its core to another process still leaves half its share to the others), else one even share per
 * thread: batch 1 of DeiT-base on two threads is 102 + 96 rows, where 96-row chunks made it
 * 96 + 96 + 6 (a third chunk that streams every weight for 6 rows, after one thread's 96). */
static int round6(int r) { return (r + 5) / 6 * 6; }

static int chunk_rows(int rows, int n)
{
    if (n == 1)
        return rows; /* one chunk: each weight panel stays in L1 across all of its row tiles */
    int two_each = round6((rows + 2 * n - 1) / (2 * n)), even = round6((rows + n - 1) / n);
    return two_each >= 96 ? two_each : even;
}

/* Rows [r0, r1), second half of block l: attention, projection + residual, mlp + residual. */
static void block_tail(const fwd_job *j, int l, int tid, int r0, int r1)
{
    const deit_model *m = j->m;
    const deit_config *c = &m->cfg;
    const deit_block_weights *bw = &m->w.blocks[l];
    const deit_packed_block *pb = &m->pk.blocks[l];
    deit_state *s = j->s;
    const deit_lp_block *lb = m->lp.kind ? &m->lp.blocks[l] : NULL;
    int T = c->n_tokens, D = c->dim, M = c->mlp_hidden, nr = r1 - r0;
    float *x = s->x + (size_t)r0 * D;
    size_t kv_block = (size_t)j->batch * c->heads * s->kv_head;
    /* attention for these query rows */
    const float *kv = s->kv + (size_t)(l & 1) * kv_block;
    float *scores = s->scores + (size_t)tid * T * T;
    if (s->attn_bf16)
        attention_rows_bf16(j, l, kv, scores, s->attn_rows + (size_t)tid * T * s->attn_ld, r0, r1);
    else
        attention_rows(j, l, kv, scores, r0, r1);
    if (m->lp.kind == LP_BF16) {
        /* every product's input arrives as bf16 (attention and fc1 store it so, the LayerNorm
         * rounds as it goes); fc1's output lives in the hidden buffer as bf16 rows */
        size_t mp = (size_t)lp_kpad(LP_BF16, M);
        uint16_t *in = bf16_in(s, r0), *hid16 = (uint16_t *)s->hidden + (size_t)r0 * mp;
        gemm_bf16(nr, D, D, in, s->aq_ld, lb->proj.w, bw->proj_b, x, (size_t)D, GEMM_ADD);
        layernorm_bf16(m, s, r0, nr, x, bw->norm2_w, bw->norm2_b, in);
        gemm_bf16_out16(nr, M, D, in, s->aq_ld, lb->fc1.w, bw->fc1_b, hid16, mp, GEMM_GELU);
        gemm_bf16(nr, D, M, hid16, mp, lb->fc2.w, bw->fc2_b, x, (size_t)D, GEMM_ADD);
    } else {
        float *xn = s->xn + (size_t)r0 * D, *ao = s->attn_out + (size_t)r0 * D;
        float *hid = s->hidden + (size_t)r0 * M;
        /* projection + residual */
        linear(m, s, pb->proj, lb ? &lb->proj : NULL, D, D, r0, nr, ao, (size_t)D, bw->proj_b, x,
               (size_t)D, GEMM_ADD);
        /* pre-norm mlp: fc1 + exact GELU, fc2 + residual */
        k_layernorm(m->isa, x, nr, D, bw->norm2_w, bw->norm2_b, c->ln_eps, xn);
        linear(m, s, pb->fc1, lb ? &lb->fc1 : NULL, M, D, r0, nr, xn, (size_t)D, bw->fc1_b, hid,
               (size_t)M, GEMM_GELU);
        linear(m, s, pb->fc2, lb ? &lb->fc2 : NULL, D, M, r0, nr, hid, (size_t)M, bw->fc2_b, x,
               (size_t)D, GEMM_ADD);
    }
    if (s->trace_on && r0 < T) {
        int e = r1 < T ? r1 : T;
        memcpy(s->trace + (size_t)(1 + l) * T * D + (size_t)r0 * D, x, (size_t)(e - r0) * D * sizeof(float));
    }
}

/* Rows [r0, r1), first half of block l: pre-norm, fused qkv, keys and values packed for everyone. */
static void block_head(const fwd_job *j, int l, int r0, int r1)
{
    const deit_model *m = j->m;
    const deit_config *c = &m->cfg;
    const deit_block_weights *bw = &m->w.blocks[l];
    deit_state *s = j->s;
    int D = c->dim, nr = r1 - r0;
    float *xn = s->xn + (size_t)r0 * D;
    size_t kv_block = (size_t)j->batch * c->heads * s->kv_head;
    const deit_lp_block *lb = m->lp.kind ? &m->lp.blocks[l] : NULL;
    if (m->lp.kind == LP_BF16) {
        uint16_t *in = bf16_in(s, r0);
        layernorm_bf16(m, s, r0, nr, s->x + (size_t)r0 * D, bw->norm1_w, bw->norm1_b, in);
        gemm_bf16(nr, 3 * D, D, in, s->aq_ld, lb->qkv.w, bw->qkv_b, s->qkv + (size_t)r0 * 3 * D,
                  3 * (size_t)D, GEMM_STORE);
    } else {
        k_layernorm(m->isa, s->x + (size_t)r0 * D, nr, D, bw->norm1_w, bw->norm1_b, c->ln_eps, xn);
        linear(m, s, m->pk.blocks[l].qkv, lb ? &lb->qkv : NULL, 3 * D, D, r0, nr, xn, (size_t)D,
               bw->qkv_b, s->qkv + (size_t)r0 * 3 * D, 3 * (size_t)D, GEMM_STORE);
    }
    pack_kv(j, s->kv + (size_t)(l & 1) * kv_block, r0, r1);
}

/* One team member's part of the encoder. Phase p (0..depth) runs, for each chunk of rows a thread
 * claims, the tail of block p-1 and the head of block p, which are row-local; the barrier after
 * phase p publishes block p's keys and values. Phase p reads block p-1's packs and writes block
 * p's, in the other buffer; block p+1's writes (phase p+1) come after the barrier, so they never
 * overwrite packs still being read. Claims are dynamic (an atomic counter per phase): every row's
 * arithmetic is the same whichever thread runs it, so results do not depend on the schedule. */
static void forward_rows(void *ctx, int tid, int n)
{
    const fwd_job *j = ctx;
    const deit_config *c = &j->m->cfg;
    int rows = j->batch * c->n_tokens, ch = chunk_rows(rows, n), nchunks = (rows + ch - 1) / ch;
    for (int p = 0; p <= c->depth; p++) {
        int k;
        while ((k = atomic_fetch_add_explicit(&j->s->claims[p], 1, memory_order_relaxed)) < nchunks) {
            int r0 = k * ch, r1 = r0 + ch < rows ? r0 + ch : rows;
            if (p == 0)
                embed_rows(j, r0, r1);
            else
                block_tail(j, p - 1, tid, r0, r1);
            if (p < c->depth)
                block_head(j, p, r0, r1);
        }
        if (p < c->depth)
            pool_barrier(j->s->team);
    }
}

/* Whether all n logits are finite: weights that are finite (the loader checks) can still overflow
 * float32 on some image. */
static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

int deit_forward(const deit_model *m, deit_state *s, const float *pixels, int batch,
                 float *cls_logits, float *dist_logits)
{
    return deit_forward_explain(m, s, pixels, batch, cls_logits, dist_logits, NULL);
}

/* A batch whose explaining images need more attention capture than the state's budget, run as
 * two halves (each split again if need be) so that no pass keeps more than the budget. The trace
 * stays image 0's: only the first half writes it. */
static int forward_explain_halves(const deit_model *m, deit_state *s, const float *pixels, int batch,
                                  float *cls_logits, float *dist_logits, deit_explain *ex)
{
    int half = batch / 2, Kc = m->cfg.n_classes;
    size_t in = deit_input_floats(m), out = (size_t)half * Kc;
    int rc1 = deit_forward_explain(m, s, pixels, half, cls_logits, dist_logits, ex);
    if (rc1 != DEIT_OK && rc1 != DEIT_ENONFINITE)
        return rc1;
    int trace_on = s->trace_on;
    s->trace_on = 0;
    int rc2 = deit_forward_explain(m, s, pixels + (size_t)half * in, batch - half, cls_logits + out,
                                   dist_logits ? dist_logits + out : NULL, ex + half);
    s->trace_on = trace_on;
    return rc2 != DEIT_OK ? rc2 : rc1;
}

int deit_forward_explain(const deit_model *m, deit_state *s, const float *pixels, int batch,
                         float *cls_logits, float *dist_logits, deit_explain *ex)
{
    if (!m || !s || s->m != m || !pixels || !cls_logits || batch < 1 || batch > s->max_batch)
        return DEIT_EINVAL;
    size_t explaining = 0;
    for (int b = 0; ex && b < batch; b++)
        explaining += ex[b].class_map != NULL;
    size_t per_image = deit_explain_bytes(m);
    if (!explaining)
        ex = NULL;
    else if (per_image > s->explain_budget)
        return DEIT_ETOOBIG;
    else if (explaining * per_image > s->explain_budget)
        return forward_explain_halves(m, s, pixels, batch, cls_logits, dist_logits, ex);
    else if (explain_begin(s, batch, ex) != DEIT_OK)
        return DEIT_ENOMEM;
    const deit_config *c = &m->cfg;
    const deit_weights *w = &m->w;
    int T = c->n_tokens, D = c->dim, NP = c->n_prefix;
    size_t slab = (size_t)T * D;

    /* patch embedding and every block, on the whole team (claims reset before the hand-off) */
    fwd_job job = {m, s, pixels, batch, ex};
    for (int p = 0; p <= c->depth; p++)
        atomic_store_explicit(&s->claims[p], 0, memory_order_relaxed);
    pool_run_n(s->team, s->width, forward_rows, &job);

    /* final norm: the heads read only the prefix tokens, so only those are normalised */
    for (int b = 0; b < batch; b++)
        memcpy(s->prefix + (size_t)b * NP * D, s->x + (size_t)b * slab, (size_t)NP * D * sizeof(float));
    k_layernorm(m->isa, s->prefix, batch * NP, D, w->norm_w, w->norm_b, c->ln_eps, s->prefix);
    if (s->trace_on)
        k_layernorm(m->isa, s->x, T, D, w->norm_w, w->norm_b, c->ln_eps,
                    s->trace + (size_t)(1 + c->depth) * slab);

    if (ex)
        explain_finish(s, batch, ex);

    /* heads: class head reads token 0, distillation head token 1 (rows NP*D apart in prefix) */
    int Kc = c->n_classes;
    gemm(m->isa, batch, Kc, D, 1.0f, s->prefix, (size_t)NP * D, m->pk.head, w->head_b, cls_logits,
         (size_t)Kc, GEMM_STORE);
    if (dist_logits) {
        if (c->distilled)
            gemm(m->isa, batch, Kc, D, 1.0f, s->prefix + D, (size_t)NP * D, m->pk.head_dist,
                 w->head_dist_b, dist_logits, (size_t)Kc, GEMM_STORE);
        else
            memcpy(dist_logits, cls_logits, (size_t)batch * Kc * sizeof(float));
    }
    size_t n = (size_t)batch * Kc;
    return all_finite(cls_logits, n) && (!dist_logits || all_finite(dist_logits, n)) ? DEIT_OK
                                                                                     : DEIT_ENONFINITE;
}
