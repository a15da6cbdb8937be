/* fuzz_decode.h — the body shared by the per-format decoder targets (fuzz_webp, fuzz_tiff,
 * fuzz_gif, fuzz_bmp, fuzz_ico, fuzz_tga): probe, then decode to RGB and to L, checking what the
 * API promises. */
#ifndef FUZZ_DECODE_H
#define FUZZ_DECODE_H

#include <stdint.h>
#include <stdlib.h>

#include "image.h"

/* Small enough that a hostile header cannot make one input slow, big enough for real images. */
#define FUZZ_DECODE_MAX_PIXELS ((size_t)4 << 20)

static inline int fuzz_decode(const uint8_t *data, size_t size, image_format want)
{
    char err[256];
    image_format fmt;
    int w, h;
    if (image_probe(data, size, &fmt, &w, &h, err, sizeof err) != DEIT_OK || fmt != want)
        return 0;  /* another format's input: the other targets cover it */
    for (int channels = 1; channels <= 3; channels += 2) {
        deit_image img;
        int rc = image_decode(data, size, channels, FUZZ_DECODE_MAX_PIXELS, &img, err, sizeof err);
        if (rc != DEIT_OK) {
            if (img.pixels || img.width || !err[0])
                abort();  /* a failure zeroes the output and says why */
            continue;
        }
        /* TIFF orientations 5-8 swap the sides */
        int same = img.width == w && img.height == h, swapped = img.width == h && img.height == w;
        if (!img.pixels || img.channels != channels || !(same || (want == IMAGE_FMT_TIFF && swapped)))
            abort();
        unsigned sum = 0;  /* touch every byte, so MSan/valgrind-style reads are exercised */
        for (size_t i = 0; i < (size_t)img.width * img.height * channels; i++)
            sum += img.pixels[i];
        if (sum == 0xFFFFFFFFu)
            abort();
        image_free(&img);
    }
    return 0;
}

#endif
