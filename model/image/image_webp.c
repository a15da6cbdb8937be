/* image_webp.c — WebP decoding with libwebp's animation decoder, as Pillow's WebPImagePlugin. */
#include "image.h"
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

int image_webp_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                    size_t errlen)
{
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(data, len, &f) != VP8_STATUS_OK || f.width <= 0 || f.height <= 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "WebP: bad or truncated header");
    *width = f.width;
    *height = f.height;
    return DEIT_OK;
}

/* Pillow 9.4 (built with libwebpdemux) opens every WebP through WebPAnimDecoder in MODE_RGBA,
 * still images included, and shows the first frame as the animation decoder composes it: the
 * frame blended onto a transparent-black canvas of the file's canvas size. A file without alpha
 * is mode RGB (the decoder's RGBX with X dropped); with alpha it is RGBA and convert('RGB')
 * drops the alpha, so fully transparent pixels come out as the blend leaves them. The canvas
 * size was checked against the pixel limit by the caller (WebPGetFeatures reports the canvas
 * for extended files), so libwebp's canvas allocation is bounded. */
int image_webp_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                      deit_image *out, char *err, size_t errlen)
{
    WebPAnimDecoderOptions opt;
    WebPData wd = {data, len};
    WebPAnimDecoder *dec;
    WebPAnimInfo info;
    uint8_t *frame = NULL;
    int ts;

    memset(out, 0, sizeof *out);
    if (!WebPAnimDecoderOptionsInit(&opt))
        return deit_fail(err, errlen, DEIT_EINVAL, "WebP: libwebp version mismatch");
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    dec = WebPAnimDecoderNew(&wd, &opt);
    if (!dec)
        return deit_fail(err, errlen, DEIT_EINVAL, "WebP: cannot parse the file");
    if (!WebPAnimDecoderGetInfo(dec, &info) || (int)info.canvas_width != width ||
        (int)info.canvas_height != height) {
        WebPAnimDecoderDelete(dec);
        return deit_fail(err, errlen, DEIT_EINVAL, "WebP: image header is inconsistent");
    }
    if (!WebPAnimDecoderGetNext(dec, &frame, &ts) || !frame) {
        WebPAnimDecoderDelete(dec);
        return deit_fail(err, errlen, DEIT_EINVAL, "WebP: cannot decode the first frame "
                                                   "(truncated or corrupt data)");
    }
    size_t npix = (size_t)width * height;
    uint8_t *px = malloc(npix * channels);
    if (!px) {
        WebPAnimDecoderDelete(dec);
        return deit_fail(err, errlen, DEIT_ENOMEM, "WebP: out of memory");
    }
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *s = frame + 4 * i;
        if (channels == 3) {
            px[3 * i] = s[0];
            px[3 * i + 1] = s[1];
            px[3 * i + 2] = s[2];
        } else {
            px[i] = image_luma(s[0], s[1], s[2]);
        }
    }
    WebPAnimDecoderDelete(dec);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->pixels = px;
    return DEIT_OK;
}
