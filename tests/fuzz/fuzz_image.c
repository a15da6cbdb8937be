/* fuzz_image.c — libFuzzer target: image probe/decode and the request preprocessing path (preprocess_encoded). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "preprocess.h"

/* Small enough that a hostile header cannot make one input slow, big enough for real images. */
#define FUZZ_MAX_PIXELS ((size_t)4 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* timm deit_*_224: Resize(248) on the shorter side, bicubic, CenterCrop(224), ImageNet stats. */
static const deit_preproc timm_pp = {
    .channels = 3, .resize = RESIZE_SHORTEST_SIDE, .resize_short = 248, .crop_w = 224, .crop_h = 224,
    .do_resize = 1, .do_crop = 1, .interp = INTERP_BICUBIC, .rescale = 1.0f / 255.0f,
    .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}, .norm = NORM_TORCHVISION,
};

/* transformers ViTImageProcessor: exact resize to the input, bilinear, no crop, 0.5 stats. */
static const deit_preproc hf_pp = {
    .channels = 3, .resize = RESIZE_EXACT, .resize_w = 224, .resize_h = 224, .crop_w = 224, .crop_h = 224,
    .do_resize = 1, .do_crop = 0, .interp = INTERP_BILINEAR, .rescale = 1.0f / 255.0f,
    .rescale_inv = 255.0f, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.5f, 0.5f, 0.5f}, .norm = NORM_HF_FUSED,
};

/* A greyscale model (Fashion-MNIST style): nearest resize to 28x28 on the shorter side, crop 28. */
static const deit_preproc grey_pp = {
    .channels = 1, .resize = RESIZE_SHORTEST_SIDE, .resize_short = 28, .crop_w = 28, .crop_h = 28,
    .do_resize = 1, .do_crop = 1, .interp = INTERP_NEAREST, .rescale = 1.0f / 255.0f,
    .mean = {0.5f}, .std = {0.5f}, .norm = NORM_TORCHVISION,
};

static float pixels[3 * 224 * 224];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    image_format fmt;
    int w, h;
    int prc = image_probe(data, size, &fmt, &w, &h, err, sizeof err);
    if (prc != DEIT_OK && (w || h)) abort();

    /* The server's path for an RGB model: decode, resize, crop, normalise. */
    deit_image crop;
    int rc = preprocess_encoded(&timm_pp, data, size, FUZZ_MAX_PIXELS, pixels, &crop, err, sizeof err);
    if (rc == DEIT_OK) {
        if (prc != DEIT_OK || crop.width != 224 || crop.height != 224 || crop.channels != 3) abort();
        image_free(&crop);
        (void)preprocess_encoded(&hf_pp, data, size, FUZZ_MAX_PIXELS, pixels, NULL, err, sizeof err);
    } else if (crop.pixels) {
        abort(); /* failure contract: *crop_out zeroed */
    }

    /* Greyscale decode (Pillow convert('L')), then a 1-channel model's transform. */
    deit_image img;
    if (image_decode(data, size, 1, FUZZ_MAX_PIXELS, &img, err, sizeof err) == DEIT_OK) {
        if (prc != DEIT_OK || img.width != w || img.height != h || img.channels != 1) abort();
        (void)preprocess_image(&grey_pp, &img, pixels, NULL, err, sizeof err);
        image_free(&img);
    } else if (img.pixels || img.width) {
        abort();
    }
    return 0;
}
