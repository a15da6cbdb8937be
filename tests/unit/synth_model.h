/* synth_model.h — writes a small timm DeiT/ViT checkpoint of any shape with random weights
 * (config.json + model.safetensors in a fresh temporary directory), for tests of shapes the
 * fixtures do not have. */
#ifndef DEIT_TEST_SYNTH_MODEL_H
#define DEIT_TEST_SYNTH_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int dim, depth, heads, mlp, patch, chans, img, classes, distilled;
} synth_shape;

/* Uniform in [-a, a) from a fixed xorshift stream: the same checkpoint on every run. */
static inline float synth_uniform(uint64_t *s, float a)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return a * (2.0f * (float)(*s >> 40) / (float)(1u << 24) - 1.0f);
}

typedef struct {
    FILE *hdr;
    float *data;
    size_t n, cap;
    uint64_t rng;
} synth_writer;

/* Appends one F32 tensor: every element `fill` when spread is 0, else uniform in +-spread. */
static inline void synth_tensor(synth_writer *w, const char *name, int nd, const long long *shape, float fill,
                                float spread)
{
    size_t numel = 1;
    fprintf(w->hdr, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", w->n ? "," : "", name);
    for (int d = 0; d < nd; d++) {
        fprintf(w->hdr, "%s%lld", d ? "," : "", shape[d]);
        numel *= (size_t)shape[d];
    }
    fprintf(w->hdr, "],\"data_offsets\":[%zu,%zu]}", w->n * 4, (w->n + numel) * 4);
    if (w->n + numel > w->cap) {
        w->cap = (w->n + numel) * 2;
        w->data = realloc(w->data, w->cap * sizeof(float));
    }
    for (size_t i = 0; i < numel; i++)
        w->data[w->n + i] = spread > 0 ? synth_uniform(&w->rng, spread) : fill;
    w->n += numel;
}

#define SYNTH_SH(...) ((const long long[]){__VA_ARGS__})

/* Writes the checkpoint into a new directory (its path into dir); 0, or -1 on an I/O failure. */
static inline int synth_model_write(const synth_shape *s, char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "/tmp/deit-synth-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char *hbuf = NULL, path[512], name[96];
    size_t hlen = 0;
    synth_writer w = {open_memstream(&hbuf, &hlen), NULL, 0, 0, 0x9e3779b97f4a7c15ull};
    const long long D = s->dim, M = s->mlp, P = s->patch, C = s->chans, K = s->classes;
    const long long T = (long long)(s->img / s->patch) * (s->img / s->patch) + 1 + s->distilled;
    fputc('{', w.hdr);
    synth_tensor(&w, "patch_embed.proj.weight", 4, SYNTH_SH(D, C, P, P), 0, 1.0f / (float)(P * 2));
    synth_tensor(&w, "patch_embed.proj.bias", 1, SYNTH_SH(D), 0, 0.02f);
    synth_tensor(&w, "cls_token", 3, SYNTH_SH(1, 1, D), 0, 0.5f);
    if (s->distilled) synth_tensor(&w, "dist_token", 3, SYNTH_SH(1, 1, D), 0, 0.5f);
    synth_tensor(&w, "pos_embed", 3, SYNTH_SH(1, T, D), 0, 0.1f);
    float wd = 1.0f / (float)D, wm = 1.0f / (float)M;
    for (int b = 0; b < s->depth; b++) {
#define BLK(leaf, nd, shape, fill, spread)                             \
        snprintf(name, sizeof name, "blocks.%d.%s", b, leaf);          \
        synth_tensor(&w, name, nd, shape, fill, spread)
        BLK("norm1.weight", 1, SYNTH_SH(D), 1.0f, 0);
        BLK("norm1.bias", 1, SYNTH_SH(D), 0, 0.02f);
        BLK("attn.qkv.weight", 2, SYNTH_SH(3 * D, D), 0, 2.0f * sqrtf(3.0f * wd));
        BLK("attn.qkv.bias", 1, SYNTH_SH(3 * D), 0, 0.02f);
        BLK("attn.proj.weight", 2, SYNTH_SH(D, D), 0, sqrtf(3.0f * wd));
        BLK("attn.proj.bias", 1, SYNTH_SH(D), 0, 0.02f);
        BLK("norm2.weight", 1, SYNTH_SH(D), 1.0f, 0);
        BLK("norm2.bias", 1, SYNTH_SH(D), 0, 0.02f);
        BLK("mlp.fc1.weight", 2, SYNTH_SH(M, D), 0, sqrtf(3.0f * wd));
        BLK("mlp.fc1.bias", 1, SYNTH_SH(M), 0, 0.02f);
        BLK("mlp.fc2.weight", 2, SYNTH_SH(D, M), 0, sqrtf(3.0f * wm));
        BLK("mlp.fc2.bias", 1, SYNTH_SH(D), 0, 0.02f);
#undef BLK
    }
    synth_tensor(&w, "norm.weight", 1, SYNTH_SH(D), 1.0f, 0);
    synth_tensor(&w, "norm.bias", 1, SYNTH_SH(D), 0, 0.02f);
    synth_tensor(&w, "head.weight", 2, SYNTH_SH(K, D), 0, sqrtf(3.0f * wd));
    synth_tensor(&w, "head.bias", 1, SYNTH_SH(K), 0, 0.02f);
    if (s->distilled) {
        synth_tensor(&w, "head_dist.weight", 2, SYNTH_SH(K, D), 0, sqrtf(3.0f * wd));
        synth_tensor(&w, "head_dist.bias", 1, SYNTH_SH(K), 0, 0.02f);
    }
    fputc('}', w.hdr);
    fclose(w.hdr);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    ok = ok && fwrite(len8, 1, 8, f) == 8 && fwrite(hbuf, 1, hlen, f) == hlen &&
         fwrite(w.data, sizeof(float), w.n, f) == w.n;
    if (f) ok = fclose(f) == 0 && ok;
    free(hbuf);
    free(w.data);
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    ok = ok && f != NULL;
    if (f) {
        fprintf(f,
                "{\"architecture\": \"%s\", \"num_classes\": %d, \"global_pool\": \"token\", \"model_args\": "
                "{\"patch_size\": %d, \"embed_dim\": %d, \"depth\": %d, \"num_heads\": %d, \"mlp_ratio\": %.17g, "
                "\"img_size\": %d, \"in_chans\": %d, \"num_classes\": %d}, \"pretrained_cfg\": {\"input_size\": "
                "[%d, %d, %d], \"interpolation\": \"bicubic\", \"crop_pct\": 1.0, \"mean\": [0.5, 0.5, 0.5], "
                "\"std\": [0.5, 0.5, 0.5]}}\n",
                s->distilled ? "deit_tiny_distilled_patch16_224" : "vit_tiny_patch16_224", s->classes, s->patch,
                s->dim, s->depth, s->heads, (double)s->mlp / s->dim, s->img, s->chans, s->classes, s->chans,
                s->img, s->img);
        ok = fclose(f) == 0 && ok;
    }
    return ok ? 0 : -1;
}

/* Removes what synth_model_write wrote. */
static inline void synth_model_remove(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    rmdir(dir);
}

#endif
