/* preprocess.h — encoded image bytes → normalised float tensor, reproducing timm's and
 * transformers' eval transforms bit for bit up to the float32 normalisation.
 *
 * timm:          Resize(shorter side → resize_short, longer side int(short' * long / short)),
 *                with Pillow's resampler, then CenterCrop(crop_h, crop_w) (CROP_TORCHVISION).
 * transformers:  Resize to exactly (resize_h, resize_w), then CenterCrop(crop_h, crop_w). The
 *                library's default "fast" processors resize a uint8 tensor with torchvision
 *                (RESAMPLE_TORCHVISION) and crop with CROP_HF_FAST; the slow ones use Pillow
 *                and CROP_HF_SLOW.
 * An image already at the target size is not resampled.
 * Then x = (pixel * rescale - mean[c]) / std[c] in float32, laid out [channels][crop_h][crop_w],
 * rounded as the reference library does (see norm_mode).
 *
 * Thread-safe: no global state.
 */
#ifndef DEIT_PREPROCESS_H
#define DEIT_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "status.h"

/* Largest intermediate (resized, not yet cropped) image preprocessing makes; a bigger one fails
 * with DEIT_ETOOBIG. Resizing the shorter side keeps the aspect ratio, so a thin strip that passes
 * any input pixel limit (1 x 40000, a few hundred bytes of PNG) would otherwise ask for billions
 * of pixels. 16 Mpx (48 MiB RGB) still admits a 270:1 strip at a 248-pixel short side. */
#define PREPROCESS_MAX_RESIZE_PIXELS ((int64_t)1 << 24)

/* How the image is resized before the centre crop:
 *   RESIZE_SHORTEST_SIDE  the shorter side to resize_short, the longer in proportion (torchvision
 *                         Resize(int); timm's square inputs, transformers' shortest_edge)
 *   RESIZE_EXACT          to resize_w x resize_h (torchvision Resize((h, w)); timm's 'squash')
 *   RESIZE_KEEP_RATIO     aspect kept, just covering resize_w x resize_h (timm's ResizeKeepRatio,
 *                         the non-square inputs of its 'center' mode): each side divided by
 *                         min(h / resize_h, w / resize_w), rounded half to even as Python's round */
typedef enum { RESIZE_SHORTEST_SIDE, RESIZE_EXACT, RESIZE_KEEP_RATIO } resize_mode;

/* Where the centre crop starts along an axis of `size` pixels cut to `crop`, and how a side
 * smaller than the crop is zero-padded (before the image; the rest goes after).
 *   CROP_TORCHVISION  torchvision CenterCrop (timm): int(round((size - crop) / 2)), round half
 *                     to even; pads (crop - size) // 2 before.
 *   CROP_HF_SLOW      transformers' image_transforms.center_crop (slow processors):
 *                     (size - crop) // 2; pads ceil((crop - size) / 2) before.
 *   CROP_HF_FAST      transformers' BaseImageProcessorFast.center_crop: pads (crop - size) // 2
 *                     before, then int((size - crop) / 2.0), i.e. (size - crop) // 2. */
typedef enum { CROP_TORCHVISION = 0, CROP_HF_SLOW, CROP_HF_FAST } center_crop_rule;

/* How the float32 normalisation is rounded; the two differ in the last bit on about half the
 * values, so each reference needs its own.
 * d is the float32 inverse of the rescale factor: rescale_inv if set, else 1 / rescale snapped
 * to an integer when within 1e-4 of one (float32(1/255) inverts to 254.99998f, not 255).
 *   NORM_TORCHVISION  timm (ToTensor + Normalize): ((float)p / d - mean[c]) / std[c], d = 255.
 *   NORM_HF_FUSED     transformers 5 image processors (the default "fast" ones) fold the
 *                     rescale into the normalisation: (p - mean[c] * d) / (std[c] * d), each
 *                     product rounded to float32 first. Bit-exact with the processor's
 *                     pixel_values. */
typedef enum { NORM_TORCHVISION = 0, NORM_HF_FUSED } norm_mode;

typedef struct {
    int channels;              /* 1 or 3: the model's in_chans */
    resize_mode resize;
    int resize_short;          /* RESIZE_SHORTEST_SIDE: target of the shorter side */
    int resize_w, resize_h;    /* RESIZE_EXACT: target size; RESIZE_KEEP_RATIO: the box to cover */
    int crop_w, crop_h;        /* centre crop; equals the model's input size */
    int do_resize, do_crop;    /* transformers' do_resize / do_center_crop (timm: both 1);
                                  without a crop the resized image must be crop_w x crop_h */
    interp_mode interp;
    resample_impl resampler;   /* RESAMPLE_PILLOW for timm, RESAMPLE_TORCHVISION for transformers */
    center_crop_rule crop_rule; /* CROP_TORCHVISION for timm, CROP_HF_FAST for transformers */
    float rescale;             /* 1/255 */
    float rescale_inv;         /* float32(1 / rescale_factor), the division done in double on the
                                  config's value (255.0f); 0: derived from rescale (see above) */
    float mean[3], std[3];
    norm_mode norm;            /* NORM_TORCHVISION for timm, NORM_HF_FUSED for transformers */
    int exif_transpose;        /* 1: Pillow's ImageOps.exif_transpose after decoding (timm does not:
                                  0 by default; ?exif_transpose=1 / --exif-transpose) */
} deit_preproc;

/* Decodes, converts, resizes and crops `data[len]`. If crop_out is non-NULL, it receives the
 * cropped 8-bit image (the `crop/...` reference; free with image_free); if pixels_out is
 * non-NULL it receives channels*crop_h*crop_w floats. Errors as image_decode; DEIT_EINVAL for
 * an inconsistent deit_preproc; DEIT_ETOOBIG for a resize over PREPROCESS_MAX_RESIZE_PIXELS.
 * On failure *crop_out is zeroed. */
int preprocess_encoded(const deit_preproc *pp, const uint8_t *data, size_t len, size_t max_pixels,
                       float *pixels_out, deit_image *crop_out, char *err, size_t errlen);

/* The same from already-decoded pixels (img->channels must equal pp->channels). */
int preprocess_image(const deit_preproc *pp, const deit_image *img, float *pixels_out,
                     deit_image *crop_out, char *err, size_t errlen);

#endif
