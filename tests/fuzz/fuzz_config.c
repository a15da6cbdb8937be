/* fuzz_config.c — libFuzzer target: config.json / preprocessor_config.json resolution (deit_config_resolve). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "preprocess.h"
#include "weights.h"

/* Input layout: byte 0 picks the checkpoint (low 6 bits mod 3) and drops config.json (0x40) or
 * preprocessor_config.json (0x80); then config.json, a NUL byte, preprocessor_config.json. JSON
 * text never needs a raw NUL, so the separator costs the fuzzer nothing. */
#define N_MODELS 3
static const char *const model_dirs[N_MODELS] = {
    "models/timm-deit-reduced",        /* timm, distilled */
    "models/timm-deit-nodist-reduced", /* timm, plain */
    "models/hf-deit-reduced",          /* transformers, distilled */
};
static st_file *models[N_MODELS];
static uint8_t *model_bytes[N_MODELS];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Checkpoints are parsed once: only the JSON documents vary. They are real fixtures so that the
 * tensor facts are those of a model the server can load. DEIT_FIXTURES overrides the directory
 * (default: tests/fixtures, relative to the repository root where make runs the fuzzers). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *root = getenv("DEIT_FIXTURES");
    if (!root) root = "tests/fixtures";
    for (int i = 0; i < N_MODELS; i++) {
        char path[1024], err[256];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s/model.safetensors", root, model_dirs[i]);
        model_bytes[i] = read_file(path, &len);
        if (!model_bytes[i] || st_parse(model_bytes[i], len, path, &models[i], err, sizeof err) != DEIT_OK) {
            fprintf(stderr, "fuzz_config: cannot load %s (set DEIT_FIXTURES)\n", path);
            exit(2);
        }
    }
    return 0;
}

/* A resolved config must be usable: the invariants forward() and preprocessing rely on. */
static void check_resolved(const deit_config *c)
{
    if (c->heads < 1 || c->dim % c->heads || c->patch < 1 || c->image_h % c->patch ||
        c->image_w % c->patch || c->n_tokens != c->n_prefix + (c->image_h / c->patch) * (c->image_w / c->patch) ||
        c->pre.crop_h != c->image_h || c->pre.crop_w != c->image_w || c->pre.channels != c->in_chans ||
        !c->labels || !(c->ln_eps > 0))
        abort();
    for (int i = 0; i < c->n_classes; i++)
        if (!c->labels[i]) abort();
    /* The normalisation divides by std (times the rescale divisor) in float32: every factor must
     * survive the narrowing from the JSON's double as a finite, non-zero float. */
    const deit_preproc *pp = &c->pre;
    if (!(pp->rescale > 0) || !isfinite(pp->rescale) || !isfinite(pp->rescale_inv) || pp->rescale_inv < 0)
        abort();
    for (int ch = 0; ch < c->in_chans; ch++)
        if (!isfinite(pp->mean[ch]) || !(pp->std[ch] > 0) || !isfinite(pp->std[ch])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int which = (data[0] & 0x3f) % N_MODELS;
    int no_config = data[0] & 0x40, no_preproc = data[0] & 0x80;
    const char *cj = (const char *)data + 1;
    size_t rest = size - 1;
    const char *sep = memchr(cj, '\0', rest);
    size_t clen = sep ? (size_t)(sep - cj) : rest;
    /* Copies of exactly the part's length, so ASan sees any read past a document's end. */
    char *c = malloc(clen ? clen : 1), *p = NULL;
    size_t plen = sep ? rest - clen - 1 : 0;
    if (!c) return 0;
    memcpy(c, cj, clen);
    if (sep && (p = malloc(plen ? plen : 1))) memcpy(p, sep + 1, plen);

    deit_config cfg;
    char err[512];
    int rc = deit_config_resolve(no_config ? NULL : c, clen, (no_preproc || !sep) ? NULL : p, plen,
                                 models[which], "fuzz", &cfg, err, sizeof err);
#ifdef FUZZ_VERBOSE /* triage: -DFUZZ_VERBOSE prints each input's outcome */
    fprintf(stderr, "model %d: %s\n", which, rc == DEIT_OK ? "resolved" : err);
#endif
    if (rc == DEIT_OK) {
        check_resolved(&cfg);
        /* The weights loader is the config's next consumer in deit_model_open. */
        deit_weights w;
        if (deit_weights_load(models[which], &cfg, &w, err, sizeof err) == DEIT_OK) deit_weights_free(&w);
        /* And every request's preprocessing: a small image through the resolved transform, when
         * the resize it asks for is small enough to stay fast. */
        const deit_preproc *pp = &cfg.pre;
        int big = pp->resize == RESIZE_SHORTEST_SIDE ? pp->resize_short > 1024
                                                     : pp->resize_w > 1024 || pp->resize_h > 1024;
        if (!big) {
            uint8_t px[7 * 5 * 3];
            for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37);
            deit_image img = {7, 5, cfg.in_chans, px};
            float *out = malloc((size_t)cfg.in_chans * cfg.image_h * cfg.image_w * sizeof *out);
            if (out) (void)preprocess_image(pp, &img, out, NULL, err, sizeof err);
            free(out);
        }
        deit_config_free(&cfg);
    } else if (cfg.labels || !memchr(err, '\0', sizeof err) || !err[0]) {
        abort(); /* failure contract: zeroed config and a message */
    }
    free(c);
    free(p);
    return 0;
}
