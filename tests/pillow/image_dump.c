/* image_dump.c — decodes image files with the engine and writes what the Pillow comparison
 * (tests/pillow/compare.py) checks: the full converted image, or the timm / 1-channel crop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "preprocess.h"

/* timm deit_*_224 (crop_pct 0.875 -> 0.9 in the fixtures): Resize(248) bicubic, CenterCrop(224). */
static const deit_preproc timm_pp = {
    .channels = 3, .resize = RESIZE_SHORTEST_SIDE, .resize_short = 248, .crop_w = 224,
    .crop_h = 224, .do_resize = 1, .do_crop = 1, .interp = INTERP_BICUBIC,
    .rescale = 1.0f / 255.0f, .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f},
    .norm = NORM_TORCHVISION,
};
/* models/fashion-deit: 1 channel, Resize(28) bilinear, CenterCrop(28). */
static const deit_preproc grey_pp = {
    .channels = 1, .resize = RESIZE_SHORTEST_SIDE, .resize_short = 28, .crop_w = 28, .crop_h = 28,
    .do_resize = 1, .do_crop = 1, .interp = INTERP_BILINEAR, .rescale = 1.0f / 255.0f,
    .mean = {0.286f}, .std = {0.353f}, .norm = NORM_TORCHVISION,
};

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); fclose(f); return NULL; }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return b;
}

/* usage: image_dump MODE OUTDIR FILE...   MODE: rgb | l | timm | grey, each optionally followed by
 * "+exif" (Pillow's ImageOps.exif_transpose after decoding)
 * For file i prints "i\tOK\tW\tH" and writes OUTDIR/i.raw, or "i\tERR\tmessage". */
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: image_dump rgb|l|timm|grey OUTDIR FILE...\n");
        return 2;
    }
    char mode[32];
    const char *outdir = argv[2];
    snprintf(mode, sizeof mode, "%s", argv[1]);
    char *plus = strchr(mode, '+');
    int exif = plus && !strcmp(plus, "+exif");
    if (plus)
        *plus = 0;
    for (int i = 3; i < argc; i++) {
        char err[512] = "";
        size_t len = 0;
        unsigned char *data = slurp(argv[i], &len);
        deit_image img = {0};
        int rc;
        if (!data) {
            printf("%d\tERR\tcannot read file\n", i - 3);
            continue;
        }
        if (!strcmp(mode, "rgb") || !strcmp(mode, "l")) {
            rc = image_decode(data, len, mode[0] == 'r' ? 3 : 1, 40000000, &img, err, sizeof err);
            if (rc == DEIT_OK && exif)
                rc = image_exif_transpose(data, len, &img, err, sizeof err);
        } else {
            deit_preproc pp = !strcmp(mode, "timm") ? timm_pp : grey_pp;
            pp.exif_transpose = exif;
            rc = preprocess_encoded(&pp, data, len, 40000000, NULL, &img, err, sizeof err);
        }
        free(data);
        if (rc != DEIT_OK) {
            printf("%d\tERR\t%s\n", i - 3, err);
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%d.raw", outdir, i - 3);
        FILE *f = fopen(path, "wb");
        size_t n = (size_t)img.width * img.height * img.channels;
        if (!f || fwrite(img.pixels, 1, n, f) != n) {
            fprintf(stderr, "image_dump: cannot write %s\n", path);
            return 2;
        }
        fclose(f);
        printf("%d\tOK\t%d\t%d\n", i - 3, img.width, img.height);
        image_free(&img);
    }
    return 0;
}
