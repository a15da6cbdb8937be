/* preprocess.h — encoded image bytes → normalised float tensor, reproducing timm's and
 * transformers' eval transforms bit for bit up to the float32 normalisation.
 *
 * timm:          Resize(shorter side → resize_short, longer side int(short' * long / short)),
 *                CenterCrop(crop_h, crop_w) with torchvision rounding int(round((W - w) / 2)).
 * transformers:  Resize to exactly (resize_h, resize_w), then CenterCrop(crop_h, crop_w).
 * Then x = (pixel * rescale - mean[c]) / std[c] in float32, laid out [channels][crop_h][crop_w].
 *
 * Thread-safe: no global state.
 */
#ifndef DEIT_PREPROCESS_H
#define DEIT_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "status.h"

typedef enum { RESIZE_SHORTEST_SIDE, RESIZE_EXACT } resize_mode;

typedef struct {
    int channels;              /* 1 or 3: the model's in_chans */
    resize_mode resize;
    int resize_short;          /* RESIZE_SHORTEST_SIDE: target of the shorter side */
    int resize_w, resize_h;    /* RESIZE_EXACT: target size */
    int crop_w, crop_h;        /* centre crop; equals the model's input size */
    int do_resize, do_crop;    /* transformers' do_resize / do_center_crop (timm: both 1) */
    interp_mode interp;
    float rescale;             /* 1/255 */
    float mean[3], std[3];
} deit_preproc;

/* Decodes, converts, resizes and crops `data[len]`. If crop_out is non-NULL, it receives the
 * cropped 8-bit image (the `crop/...` reference); if pixels_out is non-NULL it receives
 * channels*crop_h*crop_w floats. Errors as image_decode. */
int preprocess_encoded(const deit_preproc *pp, const uint8_t *data, size_t len, size_t max_pixels,
                       float *pixels_out, deit_image *crop_out, char *err, size_t errlen);

/* The same from already-decoded pixels (img->channels must equal pp->channels). */
int preprocess_image(const deit_preproc *pp, const deit_image *img, float *pixels_out,
                     deit_image *crop_out, char *err, size_t errlen);

#endif
