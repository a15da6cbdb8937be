/* test_config.c — config resolution and weight loading: fixture models, hostile configs, synthetic
 * checkpoints with missing, misshapen and unexpected tensors. */
#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "fixture_io.h"
#include "synth_model.h"
#include "config.h"
#include "safetensors.h"
#include "weights.h"

#define FIX "tests/fixtures/models/"

/* ---- synthetic checkpoints -------------------------------------------------------------------- */

typedef struct {
    char name[96];
    char dtype[8];
    int nd;
    long long shape[4];
    long long poison_at;       /* element whose stored bits are poison_bits (0: none; index + 1) */
    uint32_t poison_bits;      /* raw F32, or F16/BF16 in the low half */
} tspec;

typedef struct {
    tspec t[160];
    int n;
} mspec;

#define SH(...) ((const long long[]){__VA_ARGS__})

/* Appends a tensor spec; the name is printf-formatted from fmt_name and the arguments after it. */
static void add(mspec *m, const char *dtype, int nd, const long long *shape, const char *fmt_name, ...)
{
    tspec *t = &m->t[m->n++];
    va_list ap;
    va_start(ap, fmt_name);
    vsnprintf(t->name, sizeof t->name, fmt_name, ap);
    va_end(ap);
    for (int i = 0; i < nd; i++) t->shape[i] = shape[i];
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->nd = nd;
    t->poison_at = 0;
}


/* Removes the tensor `name`; returns 1 if it was there. */
static int drop(mspec *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0) {
            m->t[i] = m->t[--m->n];
            return 1;
        }
    return 0;
}

static tspec *find(mspec *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0) return &m->t[i];
    return NULL;
}

/* Value stored at element j of tensor i: distinct per tensor and element, exact in F32. */
static float val(int i, size_t j)
{
    return (float)(i + 1) + (float)j / 4096.0f;
}

/* Stores `bits` (F32 bits, or F16/BF16 in the low half) as element `at` of tensor `name`. */
static void poison(mspec *m, const char *name, long long at, uint32_t bits)
{
    tspec *t = find(m, name);
    t->poison_at = at + 1;
    t->poison_bits = bits;
}

/* Serialises m as a safetensors buffer; F32 tensors hold val(i, j), other dtypes zero bytes, then
 * each tensor's poison element (if any) its poison bits. */
static uint8_t *build(const mspec *m, size_t *len)
{
    char *hdr = NULL;
    size_t hlen = 0;
    FILE *h = open_memstream(&hdr, &hlen);
    size_t off = 0, sizes[160];
    fputc('{', h);
    for (int i = 0; i < m->n; i++) {
        const tspec *t = &m->t[i];
        size_t numel = 1, es = strcmp(t->dtype, "F64") == 0 ? 8 : strstr(t->dtype, "16") ? 2 :
                              strcmp(t->dtype, "U8") == 0 ? 1 : 4;
        fprintf(h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name, t->dtype);
        for (int d = 0; d < t->nd; d++) {
            fprintf(h, "%s%lld", d ? "," : "", t->shape[d]);
            numel *= (size_t)t->shape[d];
        }
        sizes[i] = numel * es;
        fprintf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + sizes[i]);
        off += sizes[i];
    }
    fputc('}', h);
    fclose(h);
    *len = 8 + hlen + off;
    uint8_t *b = calloc(1, *len);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, hdr, hlen);
    free(hdr);
    uint8_t *p = b + 8 + hlen;
    for (int i = 0; i < m->n; i++) {
        if (strcmp(m->t[i].dtype, "F32") == 0)
            for (size_t j = 0; j < sizes[i] / 4; j++) {
                float v = val(i, j);
                memcpy(p + 4 * j, &v, 4); /* little-endian host, as safetensors */
            }
        const tspec *t = &m->t[i];
        if (t->poison_at) {
            size_t es = strcmp(t->dtype, "F32") == 0 ? 4 : 2;
            memcpy(p + es * (size_t)(t->poison_at - 1), &t->poison_bits, es);
        }
        p += sizes[i];
    }
    return b;
}

enum { D = 4, C = 3, P = 2, M = 8, K = 3 }; /* 4x4 image: 4 patches */

/* The head count, which no tensor shape gives, for the tests about everything else: timm reads
 * model_args.num_heads, transformers num_attention_heads (each ignores the other's key). */
#define HEADS1 "{\"model_args\": {\"num_heads\": 1}, \"num_attention_heads\": 1}"

/* A tiny timm DeiT of width `dim` and mlp width `mlp`: patch 2, in_chans 3, 3 classes, `depth` blocks. */
static void timm_sized(mspec *m, int depth, int distilled, long long dim, long long mlp)
{
    m->n = 0;
    add(m, "F32", 4, SH(dim, C, P, P), "patch_embed.proj.weight");
    add(m, "F32", 1, SH(dim), "patch_embed.proj.bias");
    add(m, "F32", 3, SH(1, 1, dim), "cls_token");
    if (distilled) add(m, "F32", 3, SH(1, 1, dim), "dist_token");
    add(m, "F32", 3, SH(1, 4 + 1 + distilled, dim), "pos_embed");
    for (int b = 0; b < depth; b++) {
        add(m, "F32", 1, SH(dim), "blocks.%d.norm1.weight", b);
        add(m, "F32", 1, SH(dim), "blocks.%d.norm1.bias", b);
        add(m, "F32", 2, SH(3 * dim, dim), "blocks.%d.attn.qkv.weight", b);
        add(m, "F32", 1, SH(3 * dim), "blocks.%d.attn.qkv.bias", b);
        add(m, "F32", 2, SH(dim, dim), "blocks.%d.attn.proj.weight", b);
        add(m, "F32", 1, SH(dim), "blocks.%d.attn.proj.bias", b);
        add(m, "F32", 1, SH(dim), "blocks.%d.norm2.weight", b);
        add(m, "F32", 1, SH(dim), "blocks.%d.norm2.bias", b);
        add(m, "F32", 2, SH(mlp, dim), "blocks.%d.mlp.fc1.weight", b);
        add(m, "F32", 1, SH(mlp), "blocks.%d.mlp.fc1.bias", b);
        add(m, "F32", 2, SH(dim, mlp), "blocks.%d.mlp.fc2.weight", b);
        add(m, "F32", 1, SH(dim), "blocks.%d.mlp.fc2.bias", b);
    }
    add(m, "F32", 1, SH(dim), "norm.weight");
    add(m, "F32", 1, SH(dim), "norm.bias");
    add(m, "F32", 2, SH(K, dim), "head.weight");
    add(m, "F32", 1, SH(K), "head.bias");
    if (distilled) {
        add(m, "F32", 2, SH(K, dim), "head_dist.weight");
        add(m, "F32", 1, SH(K), "head_dist.bias");
    }
}

/* A tiny timm DeiT: dim 4, patch 2, in_chans 3, mlp 8, 3 classes, `depth` blocks. */
static void timm_model(mspec *m, int depth, int distilled)
{
    timm_sized(m, depth, distilled, D, M);
}

/* The same network with transformers names under `pre` ("deit." or "vit."). */
static void hf_model(mspec *m, const char *pre, int depth, int distilled)
{
    m->n = 0;
    add(m, "F32", 4, SH(D, C, P, P), "%sembeddings.patch_embeddings.projection.weight", pre);
    add(m, "F32", 1, SH(D), "%sembeddings.patch_embeddings.projection.bias", pre);
    add(m, "F32", 3, SH(1, 1, D), "%sembeddings.cls_token", pre);
    if (distilled) add(m, "F32", 3, SH(1, 1, D), "%sembeddings.distillation_token", pre);
    add(m, "F32", 3, SH(1, 4 + 1 + distilled, D), "%sembeddings.position_embeddings", pre);
    static const char *const lin[] = {"attention.attention.query", "attention.attention.key",
                                      "attention.attention.value", "attention.output.dense"};
    for (int b = 0; b < depth; b++) {
        for (int j = 0; j < 4; j++) {
            add(m, "F32", 2, SH(D, D), "%sencoder.layer.%d.%s.weight", pre, b, lin[j]);
            add(m, "F32", 1, SH(D), "%sencoder.layer.%d.%s.bias", pre, b, lin[j]);
        }
        add(m, "F32", 1, SH(D), "%sencoder.layer.%d.layernorm_before.weight", pre, b);
        add(m, "F32", 1, SH(D), "%sencoder.layer.%d.layernorm_before.bias", pre, b);
        add(m, "F32", 1, SH(D), "%sencoder.layer.%d.layernorm_after.weight", pre, b);
        add(m, "F32", 1, SH(D), "%sencoder.layer.%d.layernorm_after.bias", pre, b);
        add(m, "F32", 2, SH(M, D), "%sencoder.layer.%d.intermediate.dense.weight", pre, b);
        add(m, "F32", 1, SH(M), "%sencoder.layer.%d.intermediate.dense.bias", pre, b);
        add(m, "F32", 2, SH(D, M), "%sencoder.layer.%d.output.dense.weight", pre, b);
        add(m, "F32", 1, SH(D), "%sencoder.layer.%d.output.dense.bias", pre, b);
    }
    add(m, "F32", 1, SH(D), "%slayernorm.weight", pre);
    add(m, "F32", 1, SH(D), "%slayernorm.bias", pre);
    const char *head = distilled ? "cls_classifier" : "classifier";
    add(m, "F32", 2, SH(K, D), "%s.weight", head);
    add(m, "F32", 1, SH(K), "%s.bias", head);
    if (distilled) {
        add(m, "F32", 2, SH(K, D), "distillation_classifier.weight");
        add(m, "F32", 1, SH(K), "distillation_classifier.bias");
    }
}

/* Index of `name` in m (its val() seed), or -1. */
static int idx_of(const mspec *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0) return i;
    return -1;
}

typedef struct {
    uint8_t *buf;
    st_file *st;
    deit_config cfg;
    deit_weights w;
    int rc_cfg, rc_w;
    char err[512];
} loaded;

/* Builds m, resolves it with the given JSON (may be NULL), and loads the weights if that worked. */
static void load_synthetic(const mspec *m, const char *config, const char *preproc, loaded *L)
{
    memset(L, 0, sizeof *L);
    size_t len;
    L->buf = build(m, &len);
    int rc = st_parse(L->buf, len, "synthetic", &L->st, L->err, sizeof L->err);
    CHECK_MSG(rc == DEIT_OK, "synthetic checkpoint: %s", L->err);
    if (rc) { L->rc_cfg = rc; return; }
    L->rc_cfg = deit_config_resolve(config, config ? strlen(config) : 0, preproc, preproc ? strlen(preproc) : 0,
                                    L->st, "synthetic", &L->cfg, L->err, sizeof L->err);
    L->rc_w = L->rc_cfg ? L->rc_cfg : deit_weights_load(L->st, &L->cfg, &L->w, L->err, sizeof L->err);
}

static void unload(loaded *L)
{
    deit_weights_free(&L->w);
    deit_config_free(&L->cfg);
    st_close(L->st);
    free(L->buf);
}

/* Expects resolve-or-load of m to fail with `status` and a message containing each of want[]. */
static void expect_fail(const mspec *m, const char *config, const char *preproc, int status,
                        const char *want1, const char *want2, int line)
{
    loaded L;
    load_synthetic(m, config, preproc, &L);
    int rc = L.rc_cfg ? L.rc_cfg : L.rc_w;
    CHECK_MSG(rc == status, "line %d: status %d, expected %d (%s)", line, rc, status, L.err);
    CHECK_MSG(!want1 || strstr(L.err, want1), "line %d: \"%s\" lacks \"%s\"", line, L.err, want1);
    CHECK_MSG(!want2 || strstr(L.err, want2), "line %d: \"%s\" lacks \"%s\"", line, L.err, want2);
    if (L.rc_cfg) CHECK_MSG(L.cfg.labels == NULL && L.cfg.dim == 0, "line %d: config not cleared", line);
    if (L.rc_w) CHECK_MSG(L.w.arena == NULL && L.w.blocks == NULL, "line %d: weights not cleared", line);
    unload(&L);
}
#define EXPECT_FAIL(m, cfgj, pre, st, w1, w2) expect_fail((m), (cfgj), (pre), (st), (w1), (w2), __LINE__)

/* One row of a failure table: config.json, preprocessor_config.json, the status and up to two
 * strings the message must contain; `line` is the row's own source line, for the report. */
typedef struct {
    int line;
    const char *config, *preproc;
    int status;
    const char *want1, *want2;
} fail_case;
#define FAIL_CASE(cfgj, pre, st, w1, w2) {__LINE__, (cfgj), (pre), (st), (w1), (w2)}

static void expect_case(const mspec *m, const fail_case *c)
{
    expect_fail(m, c->config, c->preproc, c->status, c->want1, c->want2, c->line);
}

static void test_synthetic_timm(void)
{
    mspec m;
    timm_model(&m, 2, 1);
    loaded L;
    load_synthetic(&m, HEADS1, NULL, &L);
    CHECK_MSG(L.rc_cfg == DEIT_OK && L.rc_w == DEIT_OK, "%s", L.err);
    if (L.rc_cfg == DEIT_OK && L.rc_w == DEIT_OK) {
        const deit_config *c = &L.cfg;
        CHECK(c->naming.layout == LAYOUT_TIMM && c->dtype == ST_F32);
        CHECK_INT_EQ(c->dim, D);
        CHECK_INT_EQ(c->heads, 1); /* HEADS1: the only thing the config gives */
        CHECK_INT_EQ(c->depth, 2);
        CHECK_INT_EQ(c->patch, P);
        CHECK_INT_EQ(c->in_chans, C);
        CHECK_INT_EQ(c->mlp_hidden, M);
        CHECK_INT_EQ(c->n_classes, K);
        CHECK_INT_EQ(c->distilled, 1);
        CHECK_INT_EQ(c->n_prefix, 2);
        CHECK_INT_EQ(c->n_tokens, 6);
        CHECK_INT_EQ(c->image_h, 4); /* inferred: 4 patches = 2x2 grid of 2-pixel patches */
        CHECK_INT_EQ(c->image_w, 4);
        CHECK_INT_EQ(c->qkv_bias, 1);
        CHECK_NEAR(c->ln_eps, 1e-6, 1e-12);
        CHECK_STR_EQ(c->name, "synthetic");
        CHECK_STR_EQ(c->architecture, "");
        CHECK(c->pre.resize == RESIZE_SHORTEST_SIDE && c->pre.resize_short == 4); /* floor(4 / 0.875) */
        CHECK(c->pre.crop_h == 4 && c->pre.crop_w == 4 && c->pre.interp == INTERP_BICUBIC);
        CHECK_STR_EQ(c->labels[0], "class_0");
        CHECK_STR_EQ(c->labels[2], "class_2");

        const deit_weights *w = &L.w;
        int qi = idx_of(&m, "blocks.1.attn.qkv.weight");
        CHECK(w->blocks[1].qkv_w[0] == val(qi, 0) && w->blocks[1].qkv_w[3 * D * D - 1] == val(qi, 3 * D * D - 1));
        int pi = idx_of(&m, "patch_embed.proj.weight");
        CHECK(w->patch_w[C * P * P + 1] == val(pi, C * P * P + 1)); /* row 1, (c0, ky0, kx1) */
        CHECK(w->pos_embed[5 * D + 3] == val(idx_of(&m, "pos_embed"), 5 * D + 3));
        CHECK(w->dist_token[2] == val(idx_of(&m, "dist_token"), 2));
        CHECK(w->head_dist_b[2] == val(idx_of(&m, "head_dist.bias"), 2));
        CHECK(w->blocks[0].fc2_w[D * M - 1] == val(idx_of(&m, "blocks.0.mlp.fc2.weight"), D * M - 1));
        CHECK(((uintptr_t)w->blocks[1].fc1_w & 63) == 0 && ((uintptr_t)w->head_w & 63) == 0);
        CHECK(w->arena_floats >= (size_t)(2 * (3 * D * D + 2 * M * D)));
    }
    unload(&L);

    /* Without qkv biases: flag off and zeros in qkv_b. */
    drop(&m, "blocks.0.attn.qkv.bias");
    drop(&m, "blocks.1.attn.qkv.bias");
    load_synthetic(&m, HEADS1, NULL, &L);
    CHECK_MSG(L.rc_cfg == DEIT_OK && L.rc_w == DEIT_OK, "%s", L.err);
    if (!L.rc_w) {
        CHECK_INT_EQ(L.cfg.qkv_bias, 0);
        CHECK(L.w.blocks[1].qkv_b[0] == 0.0f && L.w.blocks[1].qkv_b[3 * D - 1] == 0.0f);
    }
    unload(&L);
    /* qkv bias in block 0 only: block 1's absence is a missing tensor. */
    timm_model(&m, 2, 1);
    drop(&m, "blocks.1.attn.qkv.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'blocks.1.attn.qkv.bias' is missing", NULL);
    /* ...and in block 1 only: an unexpected extra tensor. */
    timm_model(&m, 2, 1);
    drop(&m, "blocks.0.attn.qkv.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EUNSUPPORTED, "'blocks.1.attn.qkv.bias'", NULL);

    /* Non-distilled. */
    timm_model(&m, 1, 0);
    load_synthetic(&m, HEADS1, NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.rc_cfg == DEIT_OK, "%s", L.err);
    CHECK(L.cfg.distilled == 0 && L.cfg.n_prefix == 1 && L.cfg.n_tokens == 5 && L.cfg.depth == 1);
    CHECK(L.w.dist_token == NULL && L.w.head_dist_w == NULL && L.w.head_dist_b == NULL);
    unload(&L);

    /* A second class token (the paper's control): the distilled layout, marked by the config. */
    timm_model(&m, 1, 1);
    load_synthetic(&m, "{\"second_token\": \"class\", \"model_args\": {\"num_heads\": 1}}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.rc_cfg == DEIT_OK, "%s", L.err);
    CHECK(L.cfg.distilled == 1 && L.cfg.second_class == 1 && L.cfg.n_prefix == 2);
    unload(&L);
    load_synthetic(&m, "{\"second_token\": \"distillation\", \"model_args\": {\"num_heads\": 1}}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.distilled == 1 && L.cfg.second_class == 0, "%s", L.err);
    unload(&L);
    load_synthetic(&m, HEADS1, NULL, &L);
    CHECK(L.rc_w == DEIT_OK && L.cfg.second_class == 0); /* the default: a distillation token */
    unload(&L);
    EXPECT_FAIL(&m, "{\"second_token\": \"register\"}", NULL, DEIT_EINVAL, "second_token 'register' unsupported",
                NULL);
    EXPECT_FAIL(&m, "{\"second_token\": 2}", NULL, DEIT_EINVAL, "second_token", NULL);
    timm_model(&m, 1, 0);
    EXPECT_FAIL(&m, "{\"second_token\": \"class\"}", NULL, DEIT_EINVAL, "no second token", NULL);

    /* Missing / misshapen tensors, each named. */
    timm_model(&m, 2, 1);
    drop(&m, "blocks.1.mlp.fc2.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "checkpoint: tensor 'blocks.1.mlp.fc2.bias' is missing", NULL);
    timm_model(&m, 2, 1);
    find(&m, "blocks.1.attn.proj.weight")->shape[1] = 3;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL,
                "tensor 'blocks.1.attn.proj.weight': shape [4, 3], expected [4, 4]", NULL);
    timm_model(&m, 2, 1);
    find(&m, "head.bias")->nd = 2;
    find(&m, "head.bias")->shape[1] = 1;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "tensor 'head.bias': shape [3, 1], expected [3]", NULL);
    timm_model(&m, 2, 1);
    find(&m, "blocks.0.mlp.fc1.bias")->shape[0] = 7;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'blocks.0.mlp.fc1.bias': shape [7], expected [8]", NULL);
    timm_model(&m, 2, 1);
    drop(&m, "cls_token");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'cls_token' is missing", NULL);
    timm_model(&m, 2, 1);
    drop(&m, "head_dist.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'head_dist.weight' is missing", NULL);
    timm_model(&m, 2, 1);
    drop(&m, "head.weight");
    drop(&m, "head.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EUNSUPPORTED, "'head.weight' is missing", NULL);
    timm_model(&m, 2, 0);
    add(&m, "F32", 2, SH(K, D), "head_dist.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'head_dist.weight' present without", NULL);
    timm_model(&m, 2, 1);
    find(&m, "patch_embed.proj.weight")->shape[3] = 3;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "patch 2x3 is not square", NULL);
    timm_model(&m, 2, 1);
    find(&m, "patch_embed.proj.weight")->shape[1] = 2;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "2 input channels", NULL);
    timm_model(&m, 2, 1);
    find(&m, "pos_embed")->shape[1] = 7; /* 5 patch tokens: not a square grid */
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "not a square grid", NULL);
    timm_model(&m, 2, 1);
    find(&m, "pos_embed")->shape[2] = 5;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'pos_embed': width is 5, expected 4", NULL);

    /* Absurd sizes are refused before anything is multiplied. */
    timm_model(&m, 1, 1);
    find(&m, "cls_token")->shape[2] = 100000;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'cls_token': width 100000 is outside [1, 8192]", NULL);

    /* Block indices: a gap, a leading zero, an absurd index, no blocks at all. */
    timm_model(&m, 3, 1);
    for (int i = m.n - 1; i >= 0; i--)
        if (strncmp(m.t[i].name, "blocks.1.", 9) == 0) m.t[i] = m.t[--m.n];
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "block 1 is missing", "block 2 exists");
    timm_model(&m, 1, 1);
    add(&m, "F32", 1, SH(D), "blocks.01.norm1.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'blocks.01.norm1.weight': malformed block index", NULL);
    timm_model(&m, 1, 1);
    add(&m, "F32", 1, SH(D), "blocks.99999999999.norm1.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "block index over the limit", NULL);
    timm_model(&m, 1, 1);
    add(&m, "F32", 1, SH(D), "blocks.x.norm1.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "malformed block index", NULL);
    timm_model(&m, 0, 1);
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "no transformer blocks", NULL);

    /* Extra tensors that would change the computation. */
    static const char *const extras[][2] = {
        {"blocks.1.ls2.gamma", "layer scale"},
        {"fc_norm.weight", "fc_norm"},           {"norm_pre.weight", "pre-norm"},
        {"reg_token", "register"},               {"blocks.0.attn.q_norm.weight", "query/key"},
        {"blocks.1.attn.k_norm.bias", "query/key"}, {"something_else", "'something_else'"},
    };
    for (size_t i = 0; i < sizeof extras / sizeof *extras; i++) {
        timm_model(&m, 2, 1);
        add(&m, "F32", 1, SH(D), "%s", extras[i][0]);
        /* "something_else" is no timm name, yet the rest are: still timm, still rejected. */
        EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EUNSUPPORTED, extras[i][0], extras[i][1]);
    }
    /* block 0's first gamma makes it a layer-scale checkpoint, which the config must say */
    timm_model(&m, 2, 1);
    add(&m, "F32", 1, SH(D), "blocks.0.ls1.gamma");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "the checkpoint has layer scale ('blocks.0.ls1.gamma')",
                "init_values null");
    /* Non-finite weights, whatever the dtype: refused by tensor and element (each would make every
     * prediction NaN); the largest finite values pass. */
    timm_model(&m, 2, 1);
    poison(&m, "head.bias", 1, 0x7fc00000u);
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "tensor 'head.bias': element 1 of 3 is NaN", "must be finite");
    timm_model(&m, 2, 1);
    snprintf(find(&m, "blocks.1.mlp.fc1.weight")->dtype, 8, "F16");
    poison(&m, "blocks.1.mlp.fc1.weight", 31, 0xfc00u);
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "tensor 'blocks.1.mlp.fc1.weight': element 31 of 32 is -inf", NULL);
    timm_model(&m, 2, 1);
    snprintf(find(&m, "pos_embed")->dtype, 8, "BF16");
    poison(&m, "pos_embed", 0, 0x7f80u);
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "tensor 'pos_embed': element 0 of 24 is +inf", NULL);
    timm_model(&m, 2, 1);
    poison(&m, "blocks.0.attn.qkv.weight", 0, 0x7f7fffffu);  /* FLT_MAX */
    poison(&m, "head_dist.weight", 2, 0x7bffu);             /* the largest F16 */
    snprintf(find(&m, "head_dist.weight")->dtype, 8, "F16");
    load_synthetic(&m, HEADS1, NULL, &L);
    CHECK_MSG(L.rc_cfg == DEIT_OK && L.rc_w == DEIT_OK, "%s", L.err);
    if (!L.rc_w) CHECK(L.w.blocks[0].qkv_w[0] == FLT_MAX && L.w.head_dist_w[2] == 65504.0f);
    unload(&L);

    /* A small file whose config asks for a huge model (dim 8192 from cls_token, 150 blocks from
     * names alone): the first missing tensor is named before anything is sized from the config
     * (each block would need 3 GB; under ASan the allocation itself aborts). */
    m.n = 0;
    add(&m, "F32", 3, SH(1, 1, 8192), "cls_token");
    add(&m, "F32", 3, SH(1, 2, 8192), "pos_embed");
    add(&m, "F32", 4, SH(8192, 1, 1, 1), "patch_embed.proj.weight");
    add(&m, "F32", 2, SH(2, 8192), "head.weight");
    add(&m, "F32", 2, SH(1, 8192), "blocks.0.mlp.fc1.weight");
    for (int b = 1; b < 150; b++) add(&m, "F32", 1, SH(0), "blocks.%d.x", b);
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "checkpoint: tensor 'patch_embed.proj.bias' is missing", NULL);
    add(&m, "F32", 1, SH(8192), "patch_embed.proj.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "checkpoint: tensor 'blocks.0.attn.qkv.weight' is missing", NULL);

    /* A small file whose sizes are each within bounds but whose activations are not: width 8, MLP
     * 65536, 128x128 patches of 2 pixels (16385 tokens) is a 2 MB checkpoint asking for 5.5 GiB per
     * image. With an MLP of 8 it still asks for 1.5 GiB: a thread's T x T attention scores. 64x64
     * patches (4097 tokens) with an MLP of 8192 (225 MiB per image) load. */
    timm_sized(&m, 1, 0, 8, 65536);
    find(&m, "pos_embed")->shape[1] = 1 + 128 * 128;
    EXPECT_FAIL(&m, "{\"model_args\": {\"num_heads\": 1, \"img_size\": 256}}", NULL, DEIT_EINVAL,
                "16385 tokens of width 8 with an MLP of 65536 need 5640 MiB of activations per image, over the "
                "limit of 1024 MiB", NULL);
    timm_sized(&m, 1, 0, 8, 8);
    find(&m, "pos_embed")->shape[1] = 1 + 128 * 128;
    EXPECT_FAIL(&m, "{\"model_args\": {\"num_heads\": 1, \"img_size\": 256}}", NULL, DEIT_EINVAL,
                "16385 tokens of width 8 with an MLP of 8 need 1544 MiB of activations per image", NULL);
    /* heads of one dim: each head's K^T and V packs pad it to the kernels' 16-column panels, so
     * width 256 in 256 heads over 11665 tokens needs 1.3 GiB, 0.4 of it padding */
    timm_sized(&m, 1, 0, 256, 8);
    find(&m, "pos_embed")->shape[1] = 1 + 108 * 108;
    EXPECT_FAIL(&m, "{\"model_args\": {\"num_heads\": 256, \"img_size\": 216}}", NULL, DEIT_EINVAL,
                "11665 tokens of width 256 with an MLP of 8 need", "MiB of activations per image, over the limit");
    timm_sized(&m, 1, 0, 8, 8192);
    find(&m, "pos_embed")->shape[1] = 1 + 64 * 64;
    load_synthetic(&m, "{\"model_args\": {\"num_heads\": 1, \"img_size\": 128}}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.n_tokens == 4097, "%s", L.err);
    unload(&L);

    /* Dtypes: F64 and integer tensors are refused by name; F16/BF16 accepted. */
    timm_model(&m, 2, 1);
    snprintf(find(&m, "blocks.1.norm2.bias")->dtype, 8, "F64");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EUNSUPPORTED, "'blocks.1.norm2.bias': dtype F64 unsupported", NULL);
    timm_model(&m, 2, 1);
    snprintf(find(&m, "patch_embed.proj.weight")->dtype, 8, "I32");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EUNSUPPORTED, "'patch_embed.proj.weight': dtype I32", NULL);
    timm_model(&m, 2, 1);
    snprintf(find(&m, "patch_embed.proj.weight")->dtype, 8, "BF16");
    snprintf(find(&m, "head.weight")->dtype, 8, "F16");
    load_synthetic(&m, HEADS1, NULL, &L);
    CHECK_MSG(L.rc_cfg == DEIT_OK && L.rc_w == DEIT_OK, "%s", L.err);
    CHECK(L.cfg.dtype == ST_BF16);
    unload(&L);

    /* Layout detection. */
    timm_model(&m, 2, 1);
    add(&m, "F32", 1, SH(D), "deit.layernorm.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "mixes timm names", "deit.layernorm.weight");
    m.n = 0;
    add(&m, "F32", 1, SH(4), "model.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "no DeiT tensors", NULL);
    m.n = 0;
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "no DeiT tensors", NULL);
}

/* A tiny DeiT III as timm saves it: layer scale gammas in every block, and a position embedding
 * of the 4 patches only (no_embed_class), no distillation token. */
static void deit3_sized(mspec *m, int depth, long long dim, long long mlp, int class_pos)
{
    timm_sized(m, depth, 0, dim, mlp);
    find(m, "pos_embed")->shape[1] = 4 + class_pos;
    for (int b = 0; b < depth; b++) {
        add(m, "F32", 1, SH(dim), "blocks.%d.ls1.gamma", b);
        add(m, "F32", 1, SH(dim), "blocks.%d.ls2.gamma", b);
    }
}

/* Layer scale folded into proj and fc2 (row o times gamma[o], as stored), the prefix position
 * rows zero and the patch rows the checkpoint's, bit for bit. */
static void check_deit3_load(const mspec *m, const loaded *L, int line)
{
    const deit_config *c = &L->cfg;
    CHECK_MSG(c->layer_scale == 1 && c->no_embed_class == 1 && c->n_prefix == 1 && c->n_tokens == 5 &&
                  c->image_h == 4, "line %d: ls %d nec %d tokens %d", line, c->layer_scale, c->no_embed_class,
              c->n_tokens);
    int bad = 0;
    size_t Dm = (size_t)c->dim, Mm = (size_t)c->mlp_hidden;
    for (size_t j = 0; j < Dm; j++) bad += L->w.pos_embed[j] != 0.0f;
    int ip = idx_of(m, "pos_embed");
    for (size_t j = 0; j < 4 * Dm; j++) bad += L->w.pos_embed[Dm + j] != val(ip, j);
    for (int b = 0; b < c->depth; b++) {
        char n[64];
        snprintf(n, sizeof n, "blocks.%d.ls1.gamma", b);
        int g1 = idx_of(m, n);
        snprintf(n, sizeof n, "blocks.%d.ls2.gamma", b);
        int g2 = idx_of(m, n);
        snprintf(n, sizeof n, "blocks.%d.attn.proj.weight", b);
        int pw = idx_of(m, n);
        snprintf(n, sizeof n, "blocks.%d.attn.proj.bias", b);
        int pb = idx_of(m, n);
        snprintf(n, sizeof n, "blocks.%d.mlp.fc2.weight", b);
        int fw = idx_of(m, n);
        snprintf(n, sizeof n, "blocks.%d.mlp.fc2.bias", b);
        int fb = idx_of(m, n);
        const deit_block_weights *bw = &L->w.blocks[b];
        for (size_t o = 0; o < Dm; o++) {
            for (size_t i = 0; i < Dm; i++) bad += bw->proj_w[o * Dm + i] != val(pw, o * Dm + i) * val(g1, o);
            for (size_t i = 0; i < Mm; i++) bad += bw->fc2_w[o * Mm + i] != val(fw, o * Mm + i) * val(g2, o);
            bad += bw->proj_b[o] != val(pb, o) * val(g1, o);
            bad += bw->fc2_b[o] != val(fb, o) * val(g2, o);
        }
        snprintf(n, sizeof n, "blocks.%d.mlp.fc1.weight", b); /* the other layers untouched */
        bad += bw->fc1_w[5] != val(idx_of(m, n), 5);
    }
    CHECK_MSG(bad == 0, "line %d: %d values differ from the folded checkpoint", line, bad);
}

static void fixture_deit3(void);

static void test_deit3(void)
{
    mspec m;
    loaded L;
    char cfg[512];
    static const char *const ARGS = "\"embed_dim\": 4, \"depth\": 2, \"patch_size\": 2, \"img_size\": 4, "
                                    "\"mlp_ratio\": 2, \"num_heads\": 1";
    /* the architecture implies both switches; model_args may say them too */
    deit3_sized(&m, 2, D, M, 0);
    const char *ok[][2] = {{"{\"architecture\": \"deit3_small_patch16_224\", \"model_args\": {", "}}"},
                           {"{\"architecture\": \"deit3_huge_patch14_224.fb_in1k\", \"model_args\": {",
                            ", \"init_values\": 1e-6, \"no_embed_class\": true}}"},
                           {"{\"model_args\": {", ", \"init_values\": 0.5, \"no_embed_class\": true}}"}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        snprintf(cfg, sizeof cfg, "%s%s%s", ok[i][0], ARGS, ok[i][1]);
        load_synthetic(&m, cfg, NULL, &L);
        CHECK_MSG(L.rc_w == DEIT_OK, "%s: %s", cfg, L.err);
        if (!L.rc_w) check_deit3_load(&m, &L, __LINE__);
        unload(&L);
    }
    /* no config.json: both read off the tensors (a standard width, for the head count) */
    deit3_sized(&m, 1, 192, 768, 0);
    load_synthetic(&m, NULL, NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.heads == 3, "bare DeiT III: %s", L.err);
    if (!L.rc_w) check_deit3_load(&m, &L, __LINE__);
    unload(&L);
    /* ...layer scale alone (position rows for the class token too) is timm's init_values ViT */
    deit3_sized(&m, 1, 192, 768, 1);
    load_synthetic(&m, NULL, NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.layer_scale == 1 && L.cfg.no_embed_class == 0 && L.cfg.n_tokens == 5 &&
                  L.w.pos_embed[0] == val(idx_of(&m, "pos_embed"), 0), "bare, layer scale only: %s", L.err);
    unload(&L);
    /* ...and neither: DeiT-1 as before */
    timm_sized(&m, 1, 0, 192, 768);
    load_synthetic(&m, NULL, NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.layer_scale == 0 && L.cfg.no_embed_class == 0 && L.cfg.n_tokens == 5,
              "bare DeiT: %s", L.err);
    unload(&L);

    /* the config against the gammas */
    deit3_sized(&m, 2, D, M, 0);
    EXPECT_FAIL(&m, "{\"model_args\": {\"num_heads\": 1, \"init_values\": null, \"no_embed_class\": true}}",
                NULL, DEIT_EINVAL, "the checkpoint has layer scale ('blocks.0.ls1.gamma') but the config gives none",
                "model_args.init_values is null");
    EXPECT_FAIL(&m, "{\"architecture\": \"deit3_base_patch16_224\", \"model_args\": {\"embed_dim\": 4, "
                    "\"depth\": 2, \"patch_size\": 2, \"mlp_ratio\": 2, \"init_values\": null}}",
                NULL, DEIT_EINVAL, "has layer scale", "model_args.init_values is null");
    EXPECT_FAIL(&m, "{\"architecture\": \"deit_tiny_patch16_224\", \"model_args\": {\"embed_dim\": 4, "
                    "\"depth\": 2, \"patch_size\": 2, \"mlp_ratio\": 2}}",
                NULL, DEIT_EINVAL, "has layer scale", "architecture 'deit_tiny_patch16_224'");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "has layer scale", "timm's default, init_values null");
    /* the config against the position rows: one per patch needs no_embed_class, and the reverse */
    EXPECT_FAIL(&m, "{\"model_args\": {\"num_heads\": 1, \"init_values\": 1e-6}}", NULL, DEIT_EINVAL,
                "3 patch tokens are not a square grid", "set model_args.no_embed_class true");
    EXPECT_FAIL(&m, "{\"model_args\": {\"num_heads\": 1, \"init_values\": 1e-6, \"img_size\": 4}}", NULL,
                DEIT_EINVAL, "needs 5 tokens but tensor 'pos_embed' has 4",
                "one row per patch and none for the class token");
    deit3_sized(&m, 2, D, M, 1);
    snprintf(cfg, sizeof cfg, "{\"architecture\": \"deit3_small_patch16_224\", \"model_args\": {%s}}", ARGS);
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "needs 4 tokens but tensor 'pos_embed' has 5",
                "it has rows for the prefix tokens too, but the config says no_embed_class");
    /* a deit3 architecture without gammas */
    timm_model(&m, 2, 0);
    find(&m, "pos_embed")->shape[1] = 4;
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "the checkpoint lacks layer scale",
                "architecture 'deit3_small_patch16_224'");
    /* init_values as timm's Block reads it ("LayerScale(...) if init_values else Identity"): 0 is
     * no layer scale, any other number (a negative one too: only an initialisation) is layer scale */
    deit3_sized(&m, 2, D, M, 0);
    snprintf(cfg, sizeof cfg, "{\"model_args\": {%s, \"init_values\": -1e-6, \"no_embed_class\": true}}", ARGS);
    load_synthetic(&m, cfg, NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK, "%s: %s", cfg, L.err);
    if (!L.rc_w) check_deit3_load(&m, &L, __LINE__);
    unload(&L);
    snprintf(cfg, sizeof cfg, "{\"model_args\": {%s, \"init_values\": 0, \"no_embed_class\": true}}", ARGS);
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "has layer scale", "model_args.init_values is 0");
    timm_model(&m, 2, 0);
    snprintf(cfg, sizeof cfg, "{\"model_args\": {%s, \"init_values\": 0.0}}", ARGS);
    load_synthetic(&m, cfg, NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.layer_scale == 0, "%s: %s", cfg, L.err);
    unload(&L);
    /* bad values, a missing or mis-shaped gamma */
    deit3_sized(&m, 2, D, M, 0);
    const char *bad_iv[] = {"\"1e-6\"", "true", "[1]"};
    for (size_t i = 0; i < sizeof bad_iv / sizeof *bad_iv; i++) {
        snprintf(cfg, sizeof cfg, "{\"model_args\": {%s, \"init_values\": %s}}", ARGS, bad_iv[i]);
        EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "model_args.init_values must be a number", NULL);
    }
    snprintf(cfg, sizeof cfg, "{\"model_args\": {%s, \"init_values\": 1, \"no_embed_class\": 1}}", ARGS);
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "model_args.no_embed_class", NULL);
    snprintf(cfg, sizeof cfg, "{\"architecture\": \"deit3_small_patch16_224\", \"model_args\": {%s}}", ARGS);
    drop(&m, "blocks.1.ls2.gamma");
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "tensor 'blocks.1.ls2.gamma' is missing", NULL);
    deit3_sized(&m, 2, D, M, 0);
    find(&m, "blocks.0.ls2.gamma")->shape[0] = 3;
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "tensor 'blocks.0.ls2.gamma': shape [3], expected [4]", NULL);
    deit3_sized(&m, 2, D, M, 0);
    poison(&m, "blocks.1.ls1.gamma", 2, 0x7f800000u);
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "tensor 'blocks.1.ls1.gamma': element 2 of 4 is +inf", NULL);
    /* finite gammas whose product with the weights overflows float32: the folded layer would hold
     * infinities (every logit NaN), which the finiteness check on each tensor alone cannot see */
    deit3_sized(&m, 2, D, M, 0);
    poison(&m, "blocks.1.ls2.gamma", 1, 0x7f000000u); /* 2^127 */
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "'blocks.1.mlp.fc2.weight' times 'blocks.1.ls2.gamma'",
                "element 8 of 32 is +inf");
    deit3_sized(&m, 2, D, M, 0);
    poison(&m, "blocks.0.ls1.gamma", 3, 0xff000000u); /* -2^127 */
    EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, "'blocks.0.attn.proj.weight' times 'blocks.0.ls1.gamma'", "-inf");
    /* the prefix tokens come on top of the position rows under no_embed_class: a full-size table
     * (a 128x128 grid) with two prefix tokens is over the token limit, said as such at resolve */
    timm_model(&m, 1, 1);
    find(&m, "pos_embed")->shape[1] = 16384;
    EXPECT_FAIL(&m, "{\"model_args\": {\"num_heads\": 1, \"no_embed_class\": true}}", NULL, DEIT_EINVAL,
                "16384 patches and 2 prefix tokens", "over the limit 16385");
    /* the fixture: deit3_small_patch16_224 with reduced model_args, as timm writes it */
    fixture_deit3();
}

static void test_synthetic_hf(void)
{
    mspec m;
    hf_model(&m, "deit.", 2, 1);
    add(&m, "F32", 2, SH(D, D), "deit.pooler.dense.weight");
    add(&m, "F32", 1, SH(D), "deit.pooler.dense.bias");
    loaded L;
    load_synthetic(&m, HEADS1, NULL, &L);
    CHECK_MSG(L.rc_cfg == DEIT_OK && L.rc_w == DEIT_OK, "%s", L.err);
    if (!L.rc_w) {
        const deit_config *c = &L.cfg;
        CHECK(c->naming.layout == LAYOUT_TRANSFORMERS && c->distilled == 1 && c->depth == 2 && c->dim == D);
        CHECK_NEAR(c->ln_eps, 1e-12, 1e-18);
        /* DeiTImageProcessor defaults, scaled to this 4x4 input: resize floor(4/0.875), crop 4. */
        CHECK(c->pre.resize == RESIZE_EXACT && c->pre.resize_h == 4 && c->pre.do_crop == 1);
        CHECK(c->pre.interp == INTERP_BICUBIC);
        CHECK_NEAR(c->pre.mean[0], 0.485, 1e-7);
        const deit_block_weights *b = &L.w.blocks[1];
        int q = idx_of(&m, "deit.encoder.layer.1.attention.attention.query.weight");
        int k = idx_of(&m, "deit.encoder.layer.1.attention.attention.key.weight");
        int v = idx_of(&m, "deit.encoder.layer.1.attention.attention.value.weight");
        int kb = idx_of(&m, "deit.encoder.layer.1.attention.attention.key.bias");
        int vb = idx_of(&m, "deit.encoder.layer.1.attention.attention.value.bias");
        CHECK(b->qkv_w[0] == val(q, 0));
        CHECK(b->qkv_w[D * D + 0] == val(k, 0));        /* row dim + 0 = key row 0 */
        CHECK(b->qkv_w[D * D + D + 1] == val(k, D + 1)); /* row dim + 1, column 1 */
        CHECK(b->qkv_w[2 * D * D + D * D - 1] == val(v, D * D - 1));
        CHECK(b->qkv_b[D] == val(kb, 0) && b->qkv_b[3 * D - 1] == val(vb, D - 1));
        CHECK(b->fc1_w[0] == val(idx_of(&m, "deit.encoder.layer.1.intermediate.dense.weight"), 0));
        CHECK(b->norm2_b[1] == val(idx_of(&m, "deit.encoder.layer.1.layernorm_after.bias"), 1));
        CHECK(L.w.head_w[1] == val(idx_of(&m, "cls_classifier.weight"), 1));
        CHECK(L.w.head_dist_b[0] == val(idx_of(&m, "distillation_classifier.bias"), 0));
        CHECK(L.w.norm_w[0] == val(idx_of(&m, "deit.layernorm.weight"), 0));
    }
    unload(&L);

    /* Without biases on q/k/v: zeros, qkv_bias 0. */
    hf_model(&m, "deit.", 1, 1);
    drop(&m, "deit.encoder.layer.0.attention.attention.query.bias");
    drop(&m, "deit.encoder.layer.0.attention.attention.key.bias");
    drop(&m, "deit.encoder.layer.0.attention.attention.value.bias");
    load_synthetic(&m, "{\"qkv_bias\": false, \"num_attention_heads\": 1}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.qkv_bias == 0, "%s", L.err);
    unload(&L);
    /* Only the key bias missing. */
    hf_model(&m, "deit.", 1, 1);
    drop(&m, "deit.encoder.layer.0.attention.attention.key.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'deit.encoder.layer.0.attention.attention.key.bias' is missing", NULL);
    /* An unmapped tensor in a block. */
    hf_model(&m, "deit.", 1, 1);
    add(&m, "F32", 1, SH(D), "deit.encoder.layer.0.attention.attention.q_norm.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EUNSUPPORTED, "q_norm", "unexpected tensor");
    /* DeiTForImageClassification, as transformers saves it: the distillation token (two prefix
     * tokens, both in attention) and one 'classifier' on token 0; served as a one-head model. */
    hf_model(&m, "deit.", 2, 1);
    for (int i = 0; i < 2; i++) {
        drop(&m, i ? "cls_classifier.bias" : "cls_classifier.weight");
        drop(&m, i ? "distillation_classifier.bias" : "distillation_classifier.weight");
    }
    add(&m, "F32", 2, SH(K, D), "classifier.weight");
    add(&m, "F32", 1, SH(K), "classifier.bias");
    load_synthetic(&m, "{\"architectures\": [\"DeiTForImageClassification\"], \"num_attention_heads\": 2}", NULL, &L);
    CHECK_MSG(L.rc_cfg == DEIT_OK && L.rc_w == DEIT_OK, "%s", L.err);
    if (!L.rc_w) {
        CHECK(L.cfg.distilled == 0 && L.cfg.n_prefix == 2 && L.cfg.n_tokens == 6 && L.cfg.second_class == 0);
        CHECK_STR_EQ(L.cfg.architecture, "DeiTForImageClassification");
        CHECK(L.w.dist_token && L.w.dist_token[3] == val(idx_of(&m, "deit.embeddings.distillation_token"), 3));
        CHECK(L.w.pos_embed[5 * D] == val(idx_of(&m, "deit.embeddings.position_embeddings"), 5 * D));
        CHECK(L.w.head_w[K * D - 1] == val(idx_of(&m, "classifier.weight"), K * D - 1));
        CHECK(L.w.head_b[0] == val(idx_of(&m, "classifier.bias"), 0));
        CHECK(L.w.head_dist_w == NULL && L.w.head_dist_b == NULL);
    }
    unload(&L);
    /* ...with a distillation head beside 'classifier': neither of transformers' layouts. */
    add(&m, "F32", 2, SH(K, D), "distillation_classifier.weight");
    add(&m, "F32", 1, SH(K), "distillation_classifier.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'classifier.weight' beside a distillation head", NULL);
    /* A two-head model's class head without the distillation head it implies. */
    hf_model(&m, "deit.", 1, 1);
    drop(&m, "distillation_classifier.weight");
    drop(&m, "distillation_classifier.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'distillation_classifier.weight' is missing",
                "'cls_classifier' or 'distillation_classifier' tensors");
    hf_model(&m, "deit.", 1, 1);
    drop(&m, "distillation_classifier.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "'distillation_classifier.weight' is missing", NULL);
    hf_model(&m, "deit.", 1, 1);
    add(&m, "F32", 1, SH(D), "vit.layernorm.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "mixes 'deit.'", NULL);

    /* 'deit.' names without a distillation token: transformers' DeiTEmbeddings always has one (its
     * position embedding two prefix rows), so no checkpoint it wrote or could load looks like this;
     * refused rather than run as a ViT under DeiT's preprocessing. */
    hf_model(&m, "deit.", 1, 0);
    EXPECT_FAIL(&m, "{\"architectures\": [\"DeiTForImageClassification\"], \"hidden_size\": 4}", NULL,
                DEIT_EINVAL, "tensor 'deit.embeddings.distillation_token' is missing", "'vit.' names");
    /* HF ViT (classifier.*, no distillation token): one prefix token, one head. */
    hf_model(&m, "vit.", 2, 0);
    add(&m, "F32", 1, SH(D), "vit.pooler.dense.bias");
    load_synthetic(&m, "{\"image_size\": 4, \"layer_norm_eps\": 1e-6, \"num_attention_heads\": 4}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK, "%s", L.err);
    if (!L.rc_w) {
        CHECK(L.cfg.naming.layout == LAYOUT_TRANSFORMERS && L.cfg.depth == 2 && L.cfg.image_h == 4);
        CHECK_NEAR(L.cfg.ln_eps, 1e-6, 1e-12);
        /* ViTImageProcessor defaults: resize to the input, no crop, bilinear, 0.5 statistics. */
        CHECK(L.cfg.pre.resize == RESIZE_EXACT && L.cfg.pre.resize_h == 4 && L.cfg.pre.do_crop == 0);
        CHECK(L.cfg.pre.interp == INTERP_BILINEAR && L.cfg.pre.mean[1] == 0.5f && L.cfg.pre.std[2] == 0.5f);
        CHECK(L.cfg.pre.resampler == RESAMPLE_TORCHVISION && L.cfg.pre.crop_rule == CROP_HF_FAST);
        int q = idx_of(&m, "vit.encoder.layer.1.attention.attention.value.bias");
        CHECK(L.w.blocks[1].qkv_b[2 * D] == val(q, 0));
    }
    unload(&L);
    /* The mirror case: 'vit.' names with a distillation token, with one head or two. transformers'
     * ViTEmbeddings has no such token, so this is no file it wrote or could load. */
    hf_model(&m, "vit.", 1, 1);
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "tensor 'vit.embeddings.distillation_token' is not part of",
                "'deit.' names");
    hf_model(&m, "vit.", 1, 1);
    drop(&m, "distillation_classifier.weight");
    drop(&m, "distillation_classifier.bias");
    snprintf(find(&m, "cls_classifier.weight")->name, sizeof m.t[0].name, "classifier.weight");
    snprintf(find(&m, "cls_classifier.bias")->name, sizeof m.t[0].name, "classifier.bias");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "tensor 'vit.embeddings.distillation_token' is not part of",
                NULL);
    /* ViT checkpoint with a distillation classifier but no token. */
    hf_model(&m, "vit.", 1, 0);
    add(&m, "F32", 2, SH(K, D), "distillation_classifier.weight");
    EXPECT_FAIL(&m, HEADS1, NULL, DEIT_EINVAL, "present without a distillation token", NULL);
}

/* Config JSON that must fail against the synthetic timm checkpoint (2 blocks, distilled). */
static const fail_case TIMM_JSON_FAILS[] = {
    FAIL_CASE("{", NULL, DEIT_EINVAL, "config.json: invalid JSON", NULL),
    FAIL_CASE("", NULL, DEIT_EINVAL, "config.json: invalid JSON", NULL),
    FAIL_CASE("[1]", NULL, DEIT_EINVAL, "config.json: expected a JSON object", NULL),
    FAIL_CASE("{\"architecture\": \"deit\xff\"}", NULL, DEIT_EINVAL, "config.json: invalid JSON", NULL),
    FAIL_CASE("{\"num_classes\": 3, \"num_classes\": 3}", NULL, DEIT_EINVAL, "duplicate", NULL),
    FAIL_CASE("{\"model_args\": 5}", NULL, DEIT_EINVAL, "config.json: model_args: expected an object", NULL),
    FAIL_CASE("{\"model_args\": {\"num_heads\": \"2\"}}", NULL, DEIT_EINVAL,
              "config.json: model_args.num_heads: expected an integer", NULL),
    FAIL_CASE("{\"model_args\": {\"num_heads\": 2.0}}", NULL, DEIT_EINVAL, "expected an integer", NULL),
    FAIL_CASE("{\"model_args\": {\"num_heads\": 3}}", NULL, DEIT_EINVAL, "3 heads do not divide embed_dim 4",
              NULL),
    FAIL_CASE("{\"model_args\": {\"num_heads\": 0}}", NULL, DEIT_EINVAL, "model_args.num_heads: 0 is outside",
              NULL),
    FAIL_CASE("{\"model_args\": {\"num_heads\": 100000}}", NULL, DEIT_EINVAL, "num_heads", NULL),
    FAIL_CASE("{\"model_args\": {\"embed_dim\": 192}}", NULL, DEIT_EINVAL,
              "model_args.embed_dim is 192 but the tensors give embed_dim 4", NULL),
    FAIL_CASE("{\"model_args\": {\"embed_dim\": 1e9}}", NULL, DEIT_EINVAL,
              "model_args.embed_dim: expected an integer", NULL),
    FAIL_CASE("{\"model_args\": {\"embed_dim\": 1000000000000}}", NULL, DEIT_EINVAL, "embed_dim", NULL),
    FAIL_CASE("{\"model_args\": {\"embed_dim\": 99999999999999999999999}}", NULL, DEIT_EINVAL,
              "invalid JSON", NULL),
    FAIL_CASE("{\"model_args\": {\"depth\": 12}}", NULL, DEIT_EINVAL, "depth is 12", "depth 2"),
    FAIL_CASE("{\"num_classes\": 1000}", NULL, DEIT_EINVAL, "num_classes is 1000", "3"),
    FAIL_CASE("{\"model_args\": {\"patch_size\": 16}}", NULL, DEIT_EINVAL, "patch_size is 16", NULL),
    FAIL_CASE("{\"model_args\": {\"in_chans\": 1}}", NULL, DEIT_EINVAL, "in_chans is 1", NULL),
    FAIL_CASE("{\"model_args\": {\"mlp_ratio\": 3}}", NULL, DEIT_EINVAL, "mlp_ratio 3", NULL),
    FAIL_CASE("{\"model_args\": {\"mlp_ratio\": 1e300}}", NULL, DEIT_EINVAL, "mlp_ratio", NULL),
    FAIL_CASE("{\"model_args\": {\"qkv_bias\": false}}", NULL, DEIT_EINVAL, "qkv_bias is false", NULL),
    FAIL_CASE("{\"model_args\": {\"img_size\": 8}}", NULL, DEIT_EINVAL, "needs 18 tokens", "has 6"),
    FAIL_CASE("{\"model_args\": {\"img_size\": 5}}", NULL, DEIT_EINVAL, "not a multiple of the patch", NULL),
    FAIL_CASE("{\"model_args\": {\"img_size\": 100000}}", NULL, DEIT_EINVAL, "img_size", NULL),
    FAIL_CASE("{\"model_args\": {\"img_size\": [4]}}", NULL, DEIT_EINVAL, "img_size", NULL),
    FAIL_CASE("{\"model_args\": {\"img_size\": 4}, \"pretrained_cfg\": {\"input_size\": [3, 8, 8]}}", NULL,
              DEIT_EINVAL, "input_size 8x8 differs", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"input_size\": [1, 4, 4]}}", NULL, DEIT_EINVAL, "1 channels", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"input_size\": [3, 4]}}", NULL, DEIT_EINVAL,
              "pretrained_cfg.input_size: expected [channels, height, width]", NULL),
    FAIL_CASE("{\"global_pool\": \"avg\"}", NULL, DEIT_EINVAL, "global_pool 'avg'", NULL),
    /* a control character from the file reaches the message escaped */
    FAIL_CASE("{\"global_pool\": \"avg\\u001b[2J\\n\"}", NULL, DEIT_EINVAL, "global_pool 'avg\\x1b[2J\\x0a'", NULL),
    FAIL_CASE("{\"architecture\": \"deit_base_distilled_patch16_224\"}", NULL, DEIT_EINVAL,
              "implies embed_dim 768 but the tensors give 4", NULL),
    FAIL_CASE("{\"architecture\": \"deit_tiny_patch16_224\", \"model_args\": {\"embed_dim\": 4, "
              "\"depth\": 2, \"patch_size\": 2, \"mlp_ratio\": 2}}", NULL, DEIT_EINVAL,
              "is not distilled but the checkpoint has", NULL),
    FAIL_CASE("{\"architecture\": 7}", NULL, DEIT_EINVAL, "config.json: architecture: expected a string", NULL),
    /* model_args the engine does not implement: timm would compute something else. */
    FAIL_CASE("{\"model_args\": {\"act_layer\": \"quick_gelu\"}}", NULL, DEIT_EUNSUPPORTED,
              "config.json: model_args.act_layer \"quick_gelu\" unsupported (only \"gelu\")", NULL),
    FAIL_CASE("{\"model_args\": {\"norm_layer\": \"rmsnorm\"}}", NULL, DEIT_EUNSUPPORTED,
              "model_args.norm_layer \"rmsnorm\" unsupported (only \"layernorm\")", NULL),
    /* DeiT III switches the tensors contradict (test_deit3 has the rest) */
    FAIL_CASE("{\"model_args\": {\"no_embed_class\": true}}", NULL, DEIT_EINVAL,
              "it has rows for the prefix tokens too", "no_embed_class"),
    FAIL_CASE("{\"model_args\": {\"reg_tokens\": 4}}", NULL, DEIT_EUNSUPPORTED, "model_args.reg_tokens 4", NULL),
    FAIL_CASE("{\"model_args\": {\"init_values\": 1e-5}}", NULL, DEIT_EINVAL,
              "the checkpoint lacks layer scale ('blocks.0.ls1.gamma')", "model_args.init_values is set"),
    FAIL_CASE("{\"model_args\": {\"class_token\": false}}", NULL, DEIT_EUNSUPPORTED, "model_args.class_token", NULL),
    FAIL_CASE("{\"model_args\": {\"qk_norm\": true}}", NULL, DEIT_EUNSUPPORTED, "model_args.qk_norm", NULL),
    FAIL_CASE("{\"model_args\": {\"pre_norm\": true}}", NULL, DEIT_EUNSUPPORTED, "model_args.pre_norm", NULL),
    FAIL_CASE("{\"model_args\": {\"fc_norm\": true}}", NULL, DEIT_EUNSUPPORTED, "model_args.fc_norm", NULL),
    FAIL_CASE("{\"model_args\": {\"final_norm\": false}}", NULL, DEIT_EUNSUPPORTED, "model_args.final_norm", NULL),
    FAIL_CASE("{\"model_args\": {\"pos_embed\": \"none\"}}", NULL, DEIT_EUNSUPPORTED, "model_args.pos_embed", NULL),
    FAIL_CASE("{\"model_args\": {\"proj_bias\": false}}", NULL, DEIT_EUNSUPPORTED, "model_args.proj_bias", NULL),
    FAIL_CASE("{\"model_args\": {\"dynamic_img_size\": true}}", NULL, DEIT_EUNSUPPORTED, "dynamic_img_size", NULL),
    FAIL_CASE("{\"model_args\": {\"act_layer\": 5}}", NULL, DEIT_EUNSUPPORTED, "act_layer 5 unsupported", NULL),
    FAIL_CASE("{\"model_args\": {\"block_fn\": \"ParallelScalingBlock\"}}", NULL, DEIT_EUNSUPPORTED,
              "config.json: model_args.block_fn is not an argument this engine implements", NULL),
    FAIL_CASE("{\"model_args\": {\"mlp_layer\": \"SwiGLU\", \"num_heads\": 1}}", NULL, DEIT_EUNSUPPORTED,
              "model_args.mlp_layer", NULL),
    /* Preprocessing fields. */
    FAIL_CASE("{\"pretrained_cfg\": {\"crop_mode\": \"border\"}}", NULL, DEIT_EINVAL,
              "crop_mode 'border' unsupported ('center' or 'squash')", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"crop_mode\": \"Center\"}}", NULL, DEIT_EINVAL, "crop_mode 'Center'", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"interpolation\": \"lanczos\"}}", NULL, DEIT_EINVAL,
              "interpolation 'lanczos'", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"crop_pct\": 0}}", NULL, DEIT_EINVAL, "crop_pct: 0 is outside", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"crop_pct\": 1.5}}", NULL, DEIT_EINVAL, "crop_pct", NULL),
    FAIL_CASE("{\"crop_pct\": \"0.9\"}", NULL, DEIT_EINVAL, "config.json: crop_pct: expected a number", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"crop_pct\": 0.0001}}", NULL, DEIT_EINVAL, "resize over", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"mean\": [0.5, 0.5]}}", NULL, DEIT_EINVAL,
              "pretrained_cfg.mean: 2 values for a 3-channel model", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"std\": [0.5, 0, 0.5]}}", NULL, DEIT_EINVAL, "pretrained_cfg.std", NULL),
    FAIL_CASE("{\"pretrained_cfg\": {\"std\": [0.5, \"a\", 0.5]}}", NULL, DEIT_EINVAL, "std[1]", NULL),
    /* Labels. */
    FAIL_CASE("{\"label_names\": [\"a\", \"b\"]}", NULL, DEIT_EINVAL,
              "label_names: 2 labels but the head has 3 classes", NULL),
    FAIL_CASE("{\"label_names\": [\"a\", 2, \"c\"]}", NULL, DEIT_EINVAL, "label_names[1]: expected a string",
              NULL),
    FAIL_CASE("{\"label_names\": \"abc\"}", NULL, DEIT_EINVAL, "label_names", NULL),
};

/* Config and preprocessor JSON that must fail against the synthetic transformers checkpoint (prefix
 * "deit.", 1 block, distilled). */
static const fail_case HF_JSON_FAILS[] = {
    FAIL_CASE("{\"hidden_size\": 32}", NULL, DEIT_EINVAL, "hidden_size is 32 but the tensors give embed_dim 4",
              NULL),
    FAIL_CASE("{\"num_hidden_layers\": 12}", NULL, DEIT_EINVAL, "num_hidden_layers is 12", NULL),
    FAIL_CASE("{\"intermediate_size\": 16}", NULL, DEIT_EINVAL, "intermediate_size is 16", NULL),
    FAIL_CASE("{\"num_attention_heads\": 3}", NULL, DEIT_EINVAL, "3 heads do not divide", NULL),
    FAIL_CASE("{\"layer_norm_eps\": -1}", NULL, DEIT_EINVAL, "layer_norm_eps", NULL),
    FAIL_CASE("{\"layer_norm_eps\": 1e-90}", NULL, DEIT_EINVAL, "layer_norm_eps: 1e-90 is outside (0, 1) as a float32", NULL),
    FAIL_CASE("{\"layer_norm_eps\": \"1e-12\"}", NULL, DEIT_EINVAL, "layer_norm_eps: expected a number", NULL),
    FAIL_CASE("{\"hidden_act\": \"gelu_new\"}", NULL, DEIT_EINVAL, "hidden_act 'gelu_new'", NULL),
    FAIL_CASE("{\"image_size\": 8}", NULL, DEIT_EINVAL, "needs 18 tokens", NULL),
    FAIL_CASE("{\"architectures\": \"DeiT\"}", NULL, DEIT_EINVAL, "architectures", NULL),
    FAIL_CASE("{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}}", NULL, DEIT_EINVAL,
              "id2label: 2 labels but the head has 3 classes", NULL),
    FAIL_CASE("{\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"3\": \"c\"}}", NULL, DEIT_EINVAL,
              "key '3' is not a class index", NULL),
    FAIL_CASE("{\"id2label\": {\"0\": \"a\", \"01\": \"b\", \"2\": \"c\"}}", NULL, DEIT_EINVAL, "'01'", NULL),
    FAIL_CASE("{\"id2label\": {\"0\": \"a\", \"x\": \"b\", \"2\": \"c\"}}", NULL, DEIT_EINVAL, "'x'", NULL),
    FAIL_CASE("{\"id2label\": {\"0\": \"a\", \"1\": null, \"2\": \"c\"}}", NULL, DEIT_EINVAL,
              "id2label[1]: expected a string", NULL),
    FAIL_CASE("{\"id2label\": [\"a\", \"b\", \"c\"]}", NULL, DEIT_EINVAL, "id2label: expected an object", NULL),
    FAIL_CASE(NULL, "{", DEIT_EINVAL, "preprocessor_config.json: invalid JSON", NULL),
    FAIL_CASE(NULL, "{\"resample\": 1}", DEIT_EINVAL, "preprocessor_config.json: resample 1 unsupported", NULL),
    FAIL_CASE(NULL, "{\"resample\": 9}", DEIT_EINVAL, "resample", NULL),
    FAIL_CASE(NULL, "{\"crop_size\": {\"height\": 3, \"width\": 4}}", DEIT_EINVAL,
              "crop_size 3x4 differs from the model input 4x4", NULL),
    FAIL_CASE(NULL, "{\"crop_size\": {\"height\": 4}}", DEIT_EINVAL, "crop_size", NULL),
    FAIL_CASE(NULL, "{\"size\": {\"shortest_edge\": 8, \"longest_edge\": 10}}", DEIT_EINVAL, "longest_edge",
              NULL),
    FAIL_CASE(NULL, "{\"size\": {\"height\": 8, \"width\": 8}, \"do_center_crop\": false}", DEIT_EINVAL,
              "size 8x8 without a centre crop differs", NULL),
    FAIL_CASE(NULL, "{\"do_resize\": 1}", DEIT_EINVAL, "do_resize: expected true or false", NULL),
    FAIL_CASE(NULL, "{\"image_mean\": [0.5, 0.5, 0.5, 0.5]}", DEIT_EINVAL, "image_mean: 4 values", NULL),
    FAIL_CASE(NULL, "{\"rescale_factor\": 0}", DEIT_EINVAL, "rescale_factor", NULL),
    /* Positive in double but 0.0f (or inf once inverted) in float32: found by fuzz_config. */
    FAIL_CASE(NULL, "{\"rescale_factor\": 1e-300}", DEIT_EINVAL, "rescale_factor", NULL),
    FAIL_CASE(NULL, "{\"image_std\": 1e-300}", DEIT_EINVAL, "image_std", NULL),
    FAIL_CASE(NULL, "{\"image_std\": [0.5, 1e-50, 0.5]}", DEIT_EINVAL, "image_std", NULL),
};

/* Hostile or contradictory JSON against a valid synthetic checkpoint. */
static void test_hostile_json(void)
{
    mspec m;
    timm_model(&m, 2, 1);
    for (size_t i = 0; i < sizeof TIMM_JSON_FAILS / sizeof TIMM_JSON_FAILS[0]; i++)
        expect_case(&m, &TIMM_JSON_FAILS[i]);
    {
        char big[1200 + 64];
        int n = snprintf(big, sizeof big, "{\"label_names\": [\"a\", \"b\", \"");
        memset(big + n, 'x', 1100);
        snprintf(big + n + 1100, sizeof big - (size_t)n - 1100, "\"]}");
        EXPECT_FAIL(&m, big, NULL, DEIT_EINVAL, "label_names[2]: label longer than 1024 bytes", NULL);
    }

    loaded L;
    load_synthetic(&m, "{\"label_descriptions\": {\"n1\": \"first\", \"n0\": \"second\", \"n2\": \"third\"}, "
                       "\"pretrained_cfg\": {\"mean\": [0.5], \"std\": 0.25, \"interpolation\": \"\", "
                       "\"crop_pct\": 1}, \"model_args\": {\"num_heads\": 2, \"img_size\": [4, 4]}}",
                   NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK, "%s", L.err);
    if (!L.rc_w) {
        CHECK_STR_EQ(L.cfg.labels[0], "first");
        CHECK_STR_EQ(L.cfg.labels[2], "third");
        CHECK(L.cfg.pre.mean[0] == 0.5f && L.cfg.pre.mean[2] == 0.5f && L.cfg.pre.std[1] == 0.25f);
        CHECK(L.cfg.pre.interp == INTERP_BICUBIC && L.cfg.pre.resize_short == 4 && L.cfg.heads == 2);
    }
    unload(&L);
    /* Non-square input: timm's ResizeKeepRatio covers each side over crop_pct, always bilinear
     * (RESIZE_KEEP_RATIO), then crops H x W; with crop_mode 'squash' each side is resized to it
     * exactly, with the config's interpolation. */
    {
        mspec ns;
        timm_model(&ns, 1, 1);
        find(&ns, "pos_embed")->shape[1] = 2 + (4 / P) * (8 / P);
        load_synthetic(&ns, "{\"model_args\": {\"img_size\": [4, 8], \"num_heads\": 1}, "
                            "\"pretrained_cfg\": {\"crop_pct\": 0.5, \"interpolation\": \"bicubic\"}}",
                       NULL, &L);
        CHECK_MSG(L.rc_w == DEIT_OK, "%s", L.err);
        CHECK(L.cfg.image_h == 4 && L.cfg.image_w == 8 && L.cfg.n_tokens == 10);
        CHECK(L.cfg.pre.resize == RESIZE_KEEP_RATIO && L.cfg.pre.resize_h == 8 && L.cfg.pre.resize_w == 16);
        CHECK(L.cfg.pre.interp == INTERP_BILINEAR);
        CHECK(L.cfg.pre.crop_h == 4 && L.cfg.pre.crop_w == 8);
        unload(&L);
        load_synthetic(&ns, "{\"model_args\": {\"img_size\": [4, 8], \"num_heads\": 1}, "
                            "\"pretrained_cfg\": {\"crop_pct\": 0.5, \"crop_mode\": \"squash\"}}",
                       NULL, &L);
        CHECK_MSG(L.rc_w == DEIT_OK, "%s", L.err);
        CHECK(L.cfg.pre.resize == RESIZE_EXACT && L.cfg.pre.resize_h == 8 && L.cfg.pre.resize_w == 16);
        CHECK(L.cfg.pre.interp == INTERP_BICUBIC && L.cfg.pre.crop_h == 4 && L.cfg.pre.crop_w == 8);
        unload(&L);
        /* Without an image size in the config the grid is assumed square, which 8 patches are not. */
        EXPECT_FAIL(&ns, HEADS1, NULL, DEIT_EINVAL, "8 patch tokens are not a square grid", NULL);
    }
    /* model_args that do not change inference, and others at the values the engine implements. */
    load_synthetic(&m, "{\"model_args\": {\"num_heads\": 2, \"drop_rate\": 0.1, \"pos_drop_rate\": 0.1, "
                       "\"patch_drop_rate\": 0.5, \"proj_drop_rate\": 0.1, \"attn_drop_rate\": 0.1, "
                       "\"drop_path_rate\": 0.2, \"weight_init\": \"jax\", \"fix_init\": true, "
                       "\"act_layer\": \"gelu\", \"norm_layer\": \"layernorm\", \"init_values\": null, "
                       "\"class_token\": true, \"no_embed_class\": false, \"reg_tokens\": 0, \"fc_norm\": null, "
                       "\"pre_norm\": false, \"final_norm\": true, \"qk_norm\": false, \"proj_bias\": true, "
                       "\"pos_embed\": \"learn\", \"dynamic_img_size\": false, \"global_pool\": \"token\"}}",
                   NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.heads == 2, "%s", L.err);
    unload(&L);

    /* 'squash' on a square input: both sides resized exactly, not the shorter one. */
    load_synthetic(&m, "{\"pretrained_cfg\": {\"crop_mode\": \"squash\", \"crop_pct\": 0.5}, "
                       "\"model_args\": {\"num_heads\": 1}}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK, "%s", L.err);
    CHECK(L.cfg.pre.resize == RESIZE_EXACT && L.cfg.pre.resize_h == 8 && L.cfg.pre.resize_w == 8);
    unload(&L);

    /* Older hub files keep the data config at the top level. */
    load_synthetic(&m, "{\"interpolation\": \"bilinear\", \"crop_pct\": 0.5, \"mean\": [0.1, 0.2, 0.3], "
                       "\"model_args\": {\"num_heads\": 1}}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK, "%s", L.err);
    CHECK(L.cfg.pre.interp == INTERP_BILINEAR && L.cfg.pre.resize_short == 8 && L.cfg.pre.mean[1] == 0.2f);
    CHECK_NEAR(L.cfg.pre.std[0], 0.229, 1e-7);
    unload(&L);

    /* Transformers configs against a transformers checkpoint. */
    hf_model(&m, "deit.", 1, 1);
    for (size_t i = 0; i < sizeof HF_JSON_FAILS / sizeof HF_JSON_FAILS[0]; i++)
        expect_case(&m, &HF_JSON_FAILS[i]);

    load_synthetic(&m, "{\"id2label\": {\"2\": \"two\", \"0\": \"zero\", \"1\": \"one\"}, \"layer_norm_eps\": 1e-5, "
                       "\"num_attention_heads\": 2}",
                   "{\"size\": {\"shortest_edge\": 6}, \"crop_size\": 4, \"resample\": 0, \"image_mean\": 0.5, "
                   "\"do_normalize\": false, \"do_rescale\": false}", &L);
    CHECK_MSG(L.rc_w == DEIT_OK, "%s", L.err);
    if (!L.rc_w) {
        CHECK_STR_EQ(L.cfg.labels[0], "zero");
        CHECK_STR_EQ(L.cfg.labels[2], "two");
        CHECK(L.cfg.pre.resize == RESIZE_SHORTEST_SIDE && L.cfg.pre.resize_short == 6);
        CHECK(L.cfg.pre.crop_h == 4 && L.cfg.pre.interp == INTERP_NEAREST);
        CHECK(L.cfg.pre.mean[0] == 0.0f && L.cfg.pre.std[2] == 1.0f && L.cfg.pre.rescale == 1.0f);
        CHECK_NEAR(L.cfg.ln_eps, 1e-5, 1e-12);
    }
    unload(&L);
}

/* The head count: no tensor shape gives it (q, k and v are [D, D] whatever it is), so it comes from
 * model_args.num_heads, else from the architecture whatever embed_dim model_args set (timm merges
 * model_args over the architecture's own arguments key by key), and is never guessed. */
static void test_heads(void)
{
    static const struct {
        const char *arch;
        int dim, mlp, heads;
    } known[] = {
        {"deit_tiny_patch16_224", 96, 384, 3}, /* the review's case: timm keeps 3, not 96 / 64 */
        {"deit_small_patch16_224.fb_in1k", 96, 384, 6},
        {"deit_base_patch16_384", 96, 384, 12},
        {"vit_tiny_patch16_224", 96, 384, 3},
        {"vit_small_patch32_384", 96, 384, 6},
        {"vit_medium_patch16_256", 96, 384, 8},
        {"vit_base_patch8_224.augreg2_in21k_ft_in1k", 96, 384, 12},
        {"vit_large_patch14_224", 96, 384, 16},
        {"vit_huge_patch14_224", 96, 384, 16},
        {"vit_giant_patch14_224", 176, 768, 16},     /* mlp_ratio 48/11: int(176 * 48/11) = 768 */
        {"vit_gigantic_patch14_224", 208, 1024, 16}, /* mlp_ratio 64/13 */
    };
    mspec m;
    loaded L;
    char cfg[512];
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        timm_sized(&m, 1, 0, known[i].dim, known[i].mlp);
        snprintf(cfg, sizeof cfg, "{\"architecture\": \"%s\", \"model_args\": {\"embed_dim\": %d, \"depth\": 1, "
                 "\"patch_size\": 2, \"img_size\": 4}}", known[i].arch, known[i].dim);
        load_synthetic(&m, cfg, NULL, &L);
        CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.heads == known[i].heads, "%s: %d heads, expected %d (%s)",
                  known[i].arch, L.cfg.heads, known[i].heads, L.err);
        unload(&L);
    }
    /* model_args.num_heads wins over the architecture's. */
    timm_sized(&m, 1, 0, 96, 384);
    load_synthetic(&m, "{\"architecture\": \"deit_tiny_patch16_224\", \"model_args\": {\"embed_dim\": 96, "
                       "\"depth\": 1, \"patch_size\": 2, \"img_size\": 4, \"num_heads\": 4}}", NULL, &L);
    CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.heads == 4, "%s", L.err);
    unload(&L);
    /* The architecture's mlp_ratio holds too, unless model_args set it. */
    timm_sized(&m, 1, 0, 176, 704);
    EXPECT_FAIL(&m, "{\"architecture\": \"vit_giant_patch14_224\", \"model_args\": {\"embed_dim\": 176, "
                    "\"depth\": 1, \"patch_size\": 2}}", NULL, DEIT_EINVAL,
                "implies mlp hidden width 768 but the tensors give 704", NULL);

    /* Nothing gives the count: refused, naming what to add. */
    timm_model(&m, 1, 1);
    static const char *const unknown[] = {"vit_base_patch16_clip_224", "vit_giant_patch14_dinov2",
                                          "deit3_small_patch16_224_in21ft1k", "vit_base_patch16_224_miil",
                                          "vit_base_patch16", "vit_base_patchX_224", "flexivit_small"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        snprintf(cfg, sizeof cfg, "{\"architecture\": \"%s\"}", unknown[i]);
        char want[128];
        snprintf(want, sizeof want, "architecture '%s' is not one whose head count this engine knows", unknown[i]);
        EXPECT_FAIL(&m, cfg, NULL, DEIT_EINVAL, want, "add model_args.num_heads");
        snprintf(cfg, sizeof cfg, "{\"architecture\": \"%s\", \"model_args\": {\"num_heads\": 2}}", unknown[i]);
        load_synthetic(&m, cfg, NULL, &L);
        CHECK_MSG(L.rc_w == DEIT_OK && L.cfg.heads == 2, "%s with num_heads: %s", unknown[i], L.err);
        unload(&L);
    }
    EXPECT_FAIL(&m, "{\"num_classes\": 3}", NULL, DEIT_EINVAL,
                "neither an architecture nor model_args.num_heads gives the number of attention heads", NULL);
    EXPECT_FAIL(&m, NULL, NULL, DEIT_EINVAL, "no config.json", "model_args.num_heads");
    /* ...unless it has one of timm's standard widths: a bare deit_tiny (192) has 3 heads, a bare
     * vit_huge (1280) 16, not 1280 / 64. */
    static const struct { long long dim; int heads; } widths[] = {{192, 3}, {384, 6}, {1280, 16}};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        timm_sized(&m, 1, 0, widths[i].dim, 64); /* a narrow MLP: the width is what counts */
        load_synthetic(&m, NULL, NULL, &L);
        CHECK_MSG(L.rc_cfg == DEIT_OK && L.cfg.heads == widths[i].heads, "bare width %lld: %d heads (%s)",
                  widths[i].dim, L.cfg.heads, L.err);
        unload(&L);
    }
    timm_sized(&m, 1, 0, 96, 384);
    EXPECT_FAIL(&m, NULL, NULL, DEIT_EINVAL, "no config.json", "and embed_dim is 96");
    timm_model(&m, 1, 1);
    /* transformers: num_attention_heads, else DeiTConfig's default 12 (which does not divide 4). */
    hf_model(&m, "deit.", 1, 1);
    EXPECT_FAIL(&m, "{\"hidden_size\": 4}", NULL, DEIT_EINVAL, "12 heads do not divide embed_dim 4", NULL);
    EXPECT_FAIL(&m, NULL, NULL, DEIT_EINVAL, "no config.json", "num_attention_heads");
}

/* ---- fixtures --------------------------------------------------------------------------------- */

typedef struct {
    st_file *st;
    deit_config cfg;
    deit_weights w;
    int rc;
    char err[512];
} fixture;

/* Opens dir/{model.safetensors,config.json,preprocessor_config.json}, resolves and loads. */
static int open_fixture(const char *dir, const char *name, fixture *F)
{
    memset(F, 0, sizeof *F);
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    F->rc = st_open(path, &F->st, F->err, sizeof F->err);
    if (F->rc) return F->rc;
    size_t clen = 0, plen = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *cj = (char *)slurp(path, &clen);
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    char *pj = (char *)slurp(path, &plen);
    F->rc = deit_config_resolve(cj, clen, pj, plen, F->st, name, &F->cfg, F->err, sizeof F->err);
    free(cj);
    free(pj);
    if (!F->rc) F->rc = deit_weights_load(F->st, &F->cfg, &F->w, F->err, sizeof F->err);
    return F->rc;
}

static void close_fixture(fixture *F)
{
    deit_weights_free(&F->w);
    deit_config_free(&F->cfg);
    st_close(F->st);
}

/* The first float of a tensor as stored (F32 only): what the loader must reproduce bit for bit. */
static float raw_f32(const st_file *st, const char *name, size_t i)
{
    const st_tensor *t = st_find(st, name);
    float v = NAN;
    if (t && t->dtype == ST_F32 && i < t->numel) memcpy(&v, t->data + 4 * i, 4);
    return v;
}

static void check_imagenet_pre(const deit_preproc *p)
{
    CHECK_NEAR(p->mean[0], 0.485, 1e-7);
    CHECK_NEAR(p->mean[1], 0.456, 1e-7);
    CHECK_NEAR(p->mean[2], 0.406, 1e-7);
    CHECK_NEAR(p->std[0], 0.229, 1e-7);
    CHECK_NEAR(p->std[2], 0.225, 1e-7);
    CHECK(p->rescale == 1.0f / 255.0f && p->channels == 3 && p->do_resize == 1 && p->do_crop == 1);
    CHECK(p->interp == INTERP_BICUBIC);
}

static void test_fixtures(void)
{
    fixture F;
    open_fixture(FIX "timm-deit-reduced", "timm-deit-reduced", &F);
    CHECK_MSG(F.rc == DEIT_OK, "%s", F.err);
    if (!F.rc) {
        const deit_config *c = &F.cfg;
        CHECK(c->naming.layout == LAYOUT_TIMM && c->dtype == ST_F32);
        CHECK_STR_EQ(c->name, "timm-deit-reduced");
        CHECK_STR_EQ(c->architecture, "deit_tiny_distilled_patch16_224");
        CHECK_INT_EQ(c->dim, 64);
        CHECK_INT_EQ(c->depth, 3);
        CHECK_INT_EQ(c->heads, 2);
        CHECK_INT_EQ(c->mlp_hidden, 256);
        CHECK_INT_EQ(c->n_classes, 10);
        CHECK_INT_EQ(c->distilled, 1);
        CHECK_INT_EQ(c->n_prefix, 2);
        CHECK_INT_EQ(c->n_tokens, 198);
        CHECK_INT_EQ(c->patch, 16);
        CHECK_INT_EQ(c->in_chans, 3);
        CHECK(c->image_h == 224 && c->image_w == 224 && c->qkv_bias == 1);
        CHECK(c->ln_eps == 1e-6f);
        CHECK(c->pre.resize == RESIZE_SHORTEST_SIDE);
        CHECK_INT_EQ(c->pre.resize_short, 248); /* floor(224 / 0.9) */
        CHECK(c->pre.crop_h == 224 && c->pre.crop_w == 224);
        check_imagenet_pre(&c->pre);
        CHECK(c->pre.resampler == RESAMPLE_PILLOW && c->pre.crop_rule == CROP_TORCHVISION); /* PIL */
        CHECK_STR_EQ(c->labels[0], "class_0");
        CHECK_STR_EQ(c->labels[9], "class_9");
        CHECK(F.w.blocks[0].qkv_w[0] == raw_f32(F.st, "blocks.0.attn.qkv.weight", 0));
        CHECK(F.w.blocks[2].fc2_b[63] == raw_f32(F.st, "blocks.2.mlp.fc2.bias", 63));
        CHECK(F.w.pos_embed[197 * 64 + 63] == raw_f32(F.st, "pos_embed", 197 * 64 + 63));
        CHECK(F.w.head_dist_w[10 * 64 - 1] == raw_f32(F.st, "head_dist.weight", 10 * 64 - 1));
        CHECK(F.w.patch_w[768 + 5] == raw_f32(F.st, "patch_embed.proj.weight", 768 + 5));
    }
    /* The F16 and BF16 copies hold the same weights rounded: compare every element of a few. */
    static const char *const names[] = {"blocks.0.attn.qkv.weight", "pos_embed", "head.weight"};
    for (int v = 0; v < 2; v++) {
        fixture H;
        open_fixture(v ? FIX "timm-deit-reduced-bf16" : FIX "timm-deit-reduced-f16", "x", &H);
        CHECK_MSG(H.rc == DEIT_OK, "%s", H.err);
        if (!H.rc && !F.rc) {
            CHECK(H.cfg.dtype == (v ? ST_BF16 : ST_F16));
            CHECK(H.cfg.dim == 64 && H.cfg.depth == 3 && H.cfg.heads == 2 && H.cfg.distilled == 1);
            double rel = v ? 0x1p-8 : 0x1p-11; /* half an ulp of the narrower format */
            int bad = 0;
            for (int k = 0; k < 3; k++) {
                const st_tensor *t = st_find(H.st, names[k]);
                float *got = malloc(t->numel * sizeof *got);
                st_to_f32(t, got);
                for (size_t i = 0; i < t->numel; i++) {
                    double ref = raw_f32(F.st, names[k], i);
                    if (fabs(got[i] - ref) > rel * fabs(ref) + 0x1p-24) bad++;
                }
                free(got);
            }
            CHECK_INT_EQ(bad, 0);
            CHECK(H.w.blocks[0].qkv_w[0] != 0.0f);
        }
        close_fixture(&H);
    }
    close_fixture(&F);

    open_fixture(FIX "hf-deit-reduced", "hf-deit-reduced", &F);
    CHECK_MSG(F.rc == DEIT_OK, "%s", F.err);
    if (!F.rc) {
        const deit_config *c = &F.cfg;
        CHECK(c->naming.layout == LAYOUT_TRANSFORMERS);
        CHECK_STR_EQ(c->architecture, "DeiTForImageClassificationWithTeacher");
        CHECK(c->dim == 64 && c->depth == 3 && c->heads == 2 && c->mlp_hidden == 256 && c->n_classes == 10);
        CHECK(c->distilled == 1 && c->n_tokens == 198 && c->image_h == 224 && c->qkv_bias == 1);
        CHECK(c->ln_eps == 1e-12f);
        CHECK(c->pre.resize == RESIZE_EXACT && c->pre.resize_h == 256 && c->pre.resize_w == 256);
        CHECK(c->pre.crop_h == 224 && c->pre.crop_w == 224 && c->pre.do_crop && c->pre.do_resize);
        CHECK(c->pre.interp == INTERP_BICUBIC);
        /* transformers 5's default (fast) processor: torchvision resize of a uint8 tensor */
        CHECK(c->pre.resampler == RESAMPLE_TORCHVISION && c->pre.crop_rule == CROP_HF_FAST);
        CHECK(c->pre.mean[0] == 0.5f && c->pre.mean[2] == 0.5f && c->pre.std[1] == 0.5f);
        CHECK(c->pre.rescale == (float)0.00392156862745098);
        CHECK_STR_EQ(c->labels[0], "hf_label_0");
        CHECK_STR_EQ(c->labels[9], "hf_label_9");
        const char *kw = "deit.encoder.layer.1.attention.attention.key.weight";
        CHECK(F.w.blocks[1].qkv_w[64 * 64] == raw_f32(F.st, kw, 0));            /* row dim: key row 0 */
        CHECK(F.w.blocks[1].qkv_w[64 * 64 + 64 + 7] == raw_f32(F.st, kw, 64 + 7));
        CHECK(F.w.blocks[1].qkv_w[2 * 64 * 64] ==
              raw_f32(F.st, "deit.encoder.layer.1.attention.attention.value.weight", 0));
        CHECK(F.w.blocks[0].qkv_b[64 + 3] ==
              raw_f32(F.st, "deit.encoder.layer.0.attention.attention.key.bias", 3));
        CHECK(F.w.head_w[0] == raw_f32(F.st, "cls_classifier.weight", 0));
        CHECK(F.w.norm_b[5] == raw_f32(F.st, "deit.layernorm.bias", 5));
    }
    close_fixture(&F);

    open_fixture(FIX "timm-deit-reduced-384", "r384", &F);
    CHECK_MSG(F.rc == DEIT_OK, "%s", F.err);
    if (!F.rc) {
        const deit_config *c = &F.cfg;
        CHECK(c->image_h == 384 && c->image_w == 384 && c->n_tokens == 578 && c->depth == 1);
        CHECK(c->dim == 64 && c->heads == 2 && c->distilled == 1);
        CHECK(c->pre.resize == RESIZE_SHORTEST_SIDE && c->pre.resize_short == 384);
        CHECK(c->pre.crop_h == 384 && c->pre.crop_w == 384);
        check_imagenet_pre(&c->pre);
        CHECK_STR_EQ(c->labels[3], "class_3");
        CHECK(F.w.pos_embed[577 * 64] == raw_f32(F.st, "pos_embed", 577 * 64));
    }
    close_fixture(&F);

    open_fixture(FIX "timm-deit-nodist-reduced", "nodist", &F);
    CHECK_MSG(F.rc == DEIT_OK, "%s", F.err);
    if (!F.rc) {
        const deit_config *c = &F.cfg;
        CHECK(c->distilled == 0 && c->n_prefix == 1 && c->n_tokens == 197 && c->depth == 2);
        CHECK(c->heads == 2 && c->n_classes == 10 && c->pre.resize_short == 248);
        CHECK(F.w.dist_token == NULL && F.w.head_dist_w == NULL);
        CHECK(F.w.head_b[9] == raw_f32(F.st, "head.bias", 9));
    }
    close_fixture(&F);

    /* No config at all and a width that is none of timm's standard ones: the head count is in no
     * tensor shape, so the checkpoint is refused (it used to get dim / 64 = 1 head, and this model
     * has 2: every logit wrong), either layout. */
    static const char *const bare[] = {"timm-deit-reduced", "timm-deit-reduced-384", "hf-deit-reduced"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        memset(&F, 0, sizeof F);
        snprintf(path, sizeof path, FIX "%s/model.safetensors", bare[i]);
        CHECK_INT_EQ(st_open(path, &F.st, F.err, sizeof F.err), DEIT_OK);
        CHECK_INT_EQ(deit_config_resolve(NULL, 0, NULL, 0, F.st, "bare", &F.cfg, F.err, sizeof F.err), DEIT_EINVAL);
        CHECK_MSG(strstr(F.err, "no config.json: the number of attention heads is in no tensor shape") &&
                  strstr(F.err, i < 2 ? "model_args.num_heads" : "num_attention_heads"), "%s", F.err);
        CHECK(F.cfg.labels == NULL && F.cfg.heads == 0);
        close_fixture(&F);
    }
    /* Only the head count given: everything else from the tensors plus timm's DeiT defaults. */
    const char *heads2 = "{\"model_args\": {\"num_heads\": 2}}";
    memset(&F, 0, sizeof F);
    CHECK_INT_EQ(st_open(FIX "timm-deit-reduced/model.safetensors", &F.st, F.err, sizeof F.err), DEIT_OK);
    CHECK_INT_EQ(deit_config_resolve(heads2, strlen(heads2), NULL, 0, F.st, "bare", &F.cfg, F.err, sizeof F.err),
                 DEIT_OK);
    CHECK(F.cfg.heads == 2 && F.cfg.image_h == 224 && F.cfg.pre.resize_short == 256); /* 224 / 0.875 */
    CHECK_STR_EQ(F.cfg.architecture, "");
    check_imagenet_pre(&F.cfg.pre);
    close_fixture(&F);
    memset(&F, 0, sizeof F);
    CHECK_INT_EQ(st_open(FIX "timm-deit-reduced-384/model.safetensors", &F.st, F.err, sizeof F.err), DEIT_OK);
    CHECK_INT_EQ(deit_config_resolve(heads2, strlen(heads2), NULL, 0, F.st, "bare", &F.cfg, F.err, sizeof F.err),
                 DEIT_OK);
    CHECK(F.cfg.image_h == 384 && F.cfg.pre.resize_short == 384); /* 384 models: crop_pct 1 */
    close_fixture(&F);
    /* HF checkpoint with only the head count: DeiTImageProcessor defaults 256 -> 224. */
    const char *hf2 = "{\"num_attention_heads\": 2}";
    memset(&F, 0, sizeof F);
    CHECK_INT_EQ(st_open(FIX "hf-deit-reduced/model.safetensors", &F.st, F.err, sizeof F.err), DEIT_OK);
    CHECK_INT_EQ(deit_config_resolve(hf2, strlen(hf2), NULL, 0, F.st, "bare", &F.cfg, F.err, sizeof F.err), DEIT_OK);
    CHECK(F.cfg.pre.resize == RESIZE_EXACT && F.cfg.pre.resize_h == 256 && F.cfg.pre.crop_w == 224);
    CHECK(F.cfg.ln_eps == 1e-12f && F.cfg.heads == 2);
    check_imagenet_pre(&F.cfg.pre);
    CHECK(F.cfg.pre.resampler == RESAMPLE_TORCHVISION && F.cfg.pre.crop_rule == CROP_HF_FAST);
    close_fixture(&F);

    /* A timm config against transformers tensors must not pass silently when it contradicts. */
    memset(&F, 0, sizeof F);
    CHECK_INT_EQ(st_open(FIX "timm-deit-reduced/model.safetensors", &F.st, F.err, sizeof F.err), DEIT_OK);
    const char *bad = "{\"architecture\": \"deit_tiny_distilled_patch16_224\", \"model_args\": {\"embed_dim\": 192}}";
    CHECK_INT_EQ(deit_config_resolve(bad, strlen(bad), NULL, 0, F.st, "x", &F.cfg, F.err, sizeof F.err),
                 DEIT_EINVAL);
    CHECK(strstr(F.err, "192") && strstr(F.err, "64"));
    close_fixture(&F);

    /* Full-size checkpoint, when the shared fixtures are there. */
    char full[512], full_st[600];
    snprintf(full, sizeof full, "%s/models/timm-deit-tiny-distilled", shared_fixtures());
    snprintf(full_st, sizeof full_st, "%s/model.safetensors", full);
    FILE *probe = fopen(full_st, "rb");
    if (probe) {
        fclose(probe);
        open_fixture(full, "timm-deit-tiny-distilled", &F);
        CHECK_MSG(F.rc == DEIT_OK, "%s", F.err);
        if (!F.rc) {
            const deit_config *c = &F.cfg;
            CHECK(c->dim == 192 && c->depth == 12 && c->heads == 3 && c->mlp_hidden == 768);
            CHECK(c->n_classes == 1000 && c->distilled == 1 && c->n_tokens == 198);
            CHECK_INT_EQ(c->pre.resize_short, 248);
            CHECK_STR_EQ(c->labels[0], "tench, Tinca tinca");
            CHECK_STR_EQ(c->labels[999], deit_imagenet_labels[999]);
            CHECK(F.w.blocks[11].qkv_w[0] == raw_f32(F.st, "blocks.11.attn.qkv.weight", 0));
            CHECK(F.w.head_b[999] == raw_f32(F.st, "head.bias", 999));
        }
        close_fixture(&F);
        /* The same file alone (a bare .safetensors): width 192 is deit_tiny's, so 3 heads. */
        memset(&F, 0, sizeof F);
        CHECK_INT_EQ(st_open(full_st, &F.st, F.err, sizeof F.err), DEIT_OK);
        CHECK_INT_EQ(deit_config_resolve(NULL, 0, NULL, 0, F.st, "bare", &F.cfg, F.err, sizeof F.err), DEIT_OK);
        CHECK(F.cfg.heads == 3 && F.cfg.distilled == 1 && F.cfg.n_tokens == 198);
        close_fixture(&F);
    } else {
        printf("test_config: %s not present, full-size checks skipped\n", full);
    }
}

/* A one-logit head (timm's num_classes=1, trained with a sigmoid) is refused at open, naming it:
 * served, every answer's softmax would be 1.0. Two classes open. */
static void test_single_logit_head(void)
{
    for (int classes = 1; classes <= 2; classes++) {
        const synth_shape sh = {16, 1, 2, 32, 4, 3, 8, classes, classes == 2};
        char dir[64], err[512] = "";
        CHECK(synth_model_write(&sh, dir, sizeof dir) == 0);
        deit_model *m = NULL;
        int rc = deit_model_open(dir, &m, err, sizeof err);
        if (classes == 1)
            CHECK_MSG(rc == DEIT_EUNSUPPORTED && m == NULL && strstr(err, "head.weight") && strstr(err, "one output"),
                      "one-logit head: %d (%s)", rc, err);
        else
            CHECK_MSG(rc == DEIT_OK, "two classes: %s", err);
        deit_model_free(m);
        synth_model_remove(dir);
    }
}

/* A FIFO (no writer) in place of config.json or model.safetensors: deit_model_open refuses it at
 * once instead of waiting for a writer (the alarm turns a hang into a failed run). */
static void test_special_files(void)
{
    char dir[] = "/tmp/test_config_XXXXXX", cwd[512], path[600], target[600], err[512];
    CHECK(mkdtemp(dir) != NULL && getcwd(cwd, sizeof cwd) != NULL);
    snprintf(target, sizeof target, "%s/" FIX "timm-deit-reduced/model.safetensors", cwd);
    static const char *const fifos[] = {"config.json", "preprocessor_config.json", "model.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        CHECK(i == 2 || symlink(target, path) == 0);
        snprintf(path, sizeof path, "%s/%s", dir, fifos[i]);
        CHECK(mkfifo(path, 0600) == 0);
        deit_model *m = NULL;
        alarm(10);
        int rc = deit_model_open(dir, &m, err, sizeof err);
        alarm(0);
        CHECK_MSG(rc != DEIT_OK && m == NULL, "%s as a FIFO: status %d", fifos[i], rc);
        CHECK_MSG(strstr(err, path) && strstr(err, "not a regular file"), "%s", err);
        unlink(path);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        unlink(path);
    }
    rmdir(dir);
}

/* tests/fixtures/models/timm-deit3-reduced (tools/make_random_deit3.py): what its config and tensors
 * make of it, and the load-time folding on real shapes (test_parity checks its logits). */
static void fixture_deit3(void)
{
    fixture F;
    open_fixture(FIX "timm-deit3-reduced", "timm-deit3-reduced", &F);
    CHECK_MSG(F.rc == DEIT_OK, "%s", F.err);
    if (!F.rc) {
        const deit_config *c = &F.cfg;
        CHECK_STR_EQ(c->architecture, "deit3_small_patch16_224");
        CHECK(c->layer_scale == 1 && c->no_embed_class == 1 && c->n_prefix == 1 && !c->distilled);
        CHECK(c->dim == 64 && c->depth == 2 && c->heads == 2 && c->n_classes == 10 && c->patch == 16);
        CHECK(c->image_h == 224 && c->n_tokens == 197);
        CHECK(F.w.pos_embed[0] == 0.0f && F.w.pos_embed[63] == 0.0f);
        CHECK(F.w.pos_embed[64] == raw_f32(F.st, "pos_embed", 0));
        CHECK(F.w.pos_embed[197 * 64 - 1] == raw_f32(F.st, "pos_embed", 196 * 64 - 1));
        CHECK(F.w.blocks[1].proj_w[64 * 5 + 7] ==
              raw_f32(F.st, "blocks.1.attn.proj.weight", 64 * 5 + 7) * raw_f32(F.st, "blocks.1.ls1.gamma", 5));
        CHECK(F.w.blocks[0].fc2_b[9] == raw_f32(F.st, "blocks.0.mlp.fc2.bias", 9) * raw_f32(F.st, "blocks.0.ls2.gamma", 9));
        float g = raw_f32(F.st, "blocks.0.ls1.gamma", 0);
        CHECK(g > 0.1f && g < 1.0f); /* not timm's 1e-6 init: the parity test could not miss it */
    }
    close_fixture(&F);
}

int main(void)
{
    test_special_files();
    test_synthetic_timm();
    test_synthetic_hf();
    test_hostile_json();
    test_heads();
    test_fixtures();
    test_deit3();
    test_single_logit_head();
    return check_summary("test_config");
}
