/* image_bench.c — decode + timm 224 preprocessing time per encoded image (bench/image_bench.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image.h"
#include "preprocess.h"

/* deit_*_224 at crop_pct 0.9: the shorter side to 248 (bicubic), centre crop 224, ImageNet stats. */
static const deit_preproc timm_pp = {
    .channels = 3, .resize = RESIZE_SHORTEST_SIDE, .resize_short = 248, .crop_w = 224,
    .crop_h = 224, .do_resize = 1, .do_crop = 1, .interp = INTERP_BICUBIC,
    .rescale = 1.0f / 255.0f, .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f},
    .norm = NORM_TORCHVISION,
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* usage: image-bench ITERS FILE...  prints "FILE median_ms min_ms" per file; the files are
 * interleaved (one decode of each per round) so that machine noise hits them alike. */
int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: image-bench ITERS FILE...\n"), 2;
    int iters = atoi(argv[1]), n = argc - 2;
    unsigned char **data = calloc(n, sizeof *data);
    size_t *len = calloc(n, sizeof *len);
    double *t = calloc((size_t)n * iters, sizeof *t);
    static float px[3 * 224 * 224];
    for (int f = 0; f < n; f++) {
        FILE *fp = fopen(argv[2 + f], "rb");
        if (!fp)
            return fprintf(stderr, "cannot open %s\n", argv[2 + f]), 2;
        fseek(fp, 0, SEEK_END);
        len[f] = (size_t)ftell(fp);
        fseek(fp, 0, SEEK_SET);
        data[f] = malloc(len[f]);
        if (fread(data[f], 1, len[f], fp) != len[f])
            return 2;
        fclose(fp);
    }
    for (int i = -3; i < iters; i++)  /* 3 warm-up rounds */
        for (int f = 0; f < n; f++) {
            char err[256];
            double t0 = now_ms();
            if (preprocess_encoded(&timm_pp, data[f], len[f], 40000000, px, NULL, err, sizeof err))
                return fprintf(stderr, "%s: %s\n", argv[2 + f], err), 1;
            if (i >= 0)
                t[(size_t)f * iters + i] = now_ms() - t0;
        }
    for (int f = 0; f < n; f++) {
        qsort(t + (size_t)f * iters, iters, sizeof *t, cmp);
        printf("%s %.3f %.3f\n", argv[2 + f], t[(size_t)f * iters + iters / 2], t[(size_t)f * iters]);
    }
    return 0;
}
