/* preprocess.c — decoded image → resized, centre-cropped, normalised float tensor (timm / HF). */
#include "preprocess.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Target size of the resize step (the modes are in preprocess.h). torchvision Resize(int): the
 * shorter side becomes resize_short and the longer int(resize_short * long / short), the integer
 * product divided in double exactly as Python's true division does. Quotients are range-checked in
 * double before they are narrowed: a 1 x 40000000 strip would otherwise overflow int. Returns DEIT_OK, or
 * DEIT_ETOOBIG when a resize would make more than PREPROCESS_MAX_RESIZE_PIXELS pixels. */
static int resize_target(const deit_preproc *pp, int w, int h, int *tw, int *th, char *err,
                         size_t errlen)
{
    if (!pp->do_resize) {
        *tw = w;
        *th = h;
        return DEIT_OK;  /* no intermediate image: the input is already bounded by max_pixels */
    }
    if (pp->resize == RESIZE_SHORTEST_SIDE) {
        int s = pp->resize_short;
        double l = w <= h ? (double)((int64_t)s * h) / (double)w : (double)((int64_t)s * w) / (double)h;
        if (!(l < (double)PREPROCESS_MAX_RESIZE_PIXELS))
            goto too_big;
        *tw = w <= h ? s : (int)l;
        *th = w <= h ? (int)l : s;
    } else if (pp->resize == RESIZE_KEEP_RATIO) {
        /* timm's ResizeKeepRatio.get_params in the same double operations: ratio = the smaller of
         * h / resize_h and w / resize_w, each side round(side / ratio); nearbyint rounds half to
         * even in the default rounding mode, as Python's round does */
        double rh = (double)h / pp->resize_h, rw = (double)w / pp->resize_w, r = rh < rw ? rh : rw;
        double nh = nearbyint((double)h / r), nw = nearbyint((double)w / r);
        if (!(nh < (double)PREPROCESS_MAX_RESIZE_PIXELS && nw < (double)PREPROCESS_MAX_RESIZE_PIXELS))
            goto too_big;
        *tw = (int)nw;
        *th = (int)nh;
    } else {
        *tw = pp->resize_w;
        *th = pp->resize_h;
    }
    if ((*tw != w || *th != h) && (int64_t)*tw * *th > PREPROCESS_MAX_RESIZE_PIXELS)
        goto too_big;
    return DEIT_OK;
too_big:
    return deit_fail(err, errlen, DEIT_ETOOBIG,
                     "preprocess: resizing the %dx%d image would make more than %lld pixels "
                     "(aspect ratio too extreme)", w, h, (long long)PREPROCESS_MAX_RESIZE_PIXELS);
}

/* Source index of output index 0 along one axis of the centre crop; negative means zero
 * padding before the image. The rules are in preprocess.h (center_crop_rule). The fast HF rule
 * pads first and then crops the padded axis at int(0 / 2.0) = 0, so per axis it is floor
 * padding, floor offset. */
static int crop_start(int size, int crop, center_crop_rule rule)
{
    if (crop > size)
        return rule == CROP_HF_SLOW ? -((crop - size + 1) / 2) : -((crop - size) / 2);
    int d = size - crop, k = d / 2;
    if (rule == CROP_TORCHVISION && (d & 1) && (k & 1))
        k++;  /* k + 0.5 rounds to the even neighbour */
    return k;
}

/* Centre crop of src into dst (allocated here), zero-filling where the crop leaves src. */
static int center_crop(const deit_image *src, int cw, int ch, center_crop_rule rule,
                       deit_image *dst, char *err, size_t errlen)
{
    int x0 = crop_start(src->width, cw, rule);
    int y0 = crop_start(src->height, ch, rule);
    int nch = src->channels;
    if (x0 >= 0 && y0 >= 0)  /* inside: crop_start never overshoots when crop <= size */
        return image_crop(src, x0, y0, cw, ch, dst, err, errlen);
    memset(dst, 0, sizeof *dst);
    dst->pixels = calloc((size_t)cw * ch, (size_t)nch);
    if (!dst->pixels)
        return deit_fail(err, errlen, DEIT_ENOMEM, "crop: out of memory");
    dst->width = cw;
    dst->height = ch;
    dst->channels = nch;
    for (int y = 0; y < ch; y++) {
        int sy = y + y0;
        if (sy < 0 || sy >= src->height)
            continue;
        for (int x = 0; x < cw; x++) {
            int sx = x + x0;
            if (sx >= 0 && sx < src->width)
                memcpy(dst->pixels + ((size_t)y * cw + x) * nch,
                       src->pixels + ((size_t)sy * src->width + sx) * nch, (size_t)nch);
        }
    }
    return DEIT_OK;
}

/* The divisor d = 1 / rescale as a float32 (255.0f for 1/255). float32(1/255) is not exactly
 * 1/255 and its inverse comes out 254.99998f, so unless the caller gave rescale_inv, an inverse
 * within 1e-4 of an integer is taken to be that integer (1/255 → 255, 1 → 1). */
static float rescale_divisor(const deit_preproc *pp)
{
    double d;
    if (pp->rescale_inv > 0.0f)
        return pp->rescale_inv;
    d = 1.0 / (double)pp->rescale;
    if (fabs(d - rint(d)) <= 1e-4 * d)
        d = rint(d);
    return (float)d;
}

/* Writes channels-first floats. Every operation is a single float32 operation in the order the
 * reference performs it (see norm_mode); fast-math would break the bit-exactness. */
static void normalise(const deit_preproc *pp, const deit_image *img, float *out)
{
    int nch = img->channels;
    size_t plane = (size_t)img->width * img->height;
    float d = rescale_divisor(pp);
    for (int c = 0; c < nch; c++) {
        float *o = out + c * plane;
        const uint8_t *p = img->pixels + c;
        if (pp->norm == NORM_HF_FUSED) {
            float m = pp->mean[c] * d, s = pp->std[c] * d;
            for (size_t i = 0; i < plane; i++)
                o[i] = ((float)p[i * nch] - m) / s;
        } else {
            float m = pp->mean[c], s = pp->std[c];
            for (size_t i = 0; i < plane; i++)
                o[i] = ((float)p[i * nch] / d - m) / s;
        }
    }
}

int preprocess_image(const deit_preproc *pp, const deit_image *img, float *pixels_out,
                     deit_image *crop_out, char *err, size_t errlen)
{
    deit_image resized = {0}, crop = {0};
    const deit_image *r = img;
    int tw = 0, th = 0, rc;

    if (crop_out)
        memset(crop_out, 0, sizeof *crop_out);
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "preprocess: empty image");
    if (img->channels != pp->channels || (pp->channels != 1 && pp->channels != 3))
        return deit_fail(err, errlen, DEIT_EINVAL, "preprocess: image has %d channels, model %d",
                         img->channels, pp->channels);
    if (pp->crop_w <= 0 || pp->crop_h <= 0 ||
        (!(pp->rescale > 0.0f) && !(pp->rescale_inv > 0.0f)) ||
        (pp->crop_rule != CROP_TORCHVISION && pp->crop_rule != CROP_HF_SLOW &&
         pp->crop_rule != CROP_HF_FAST))
        return deit_fail(err, errlen, DEIT_EINVAL, "preprocess: invalid parameters");
    rc = resize_target(pp, img->width, img->height, &tw, &th, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (tw <= 0 || th <= 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "preprocess: invalid resize target %dx%d", tw,
                         th);

    /* The usual case, a centre crop inside the resized image: resize only the crop's pixels
     * (about half the work for timm's 256 -> 224 on a 4:3 photo; the same bytes). */
    if (pp->do_crop && tw >= pp->crop_w && th >= pp->crop_h) {
        rc = image_resize_window(img, tw, th, crop_start(tw, pp->crop_w, pp->crop_rule),
                                 crop_start(th, pp->crop_h, pp->crop_rule), pp->crop_w, pp->crop_h,
                                 pp->interp, pp->resampler, &crop, err, errlen);
        if (rc != DEIT_OK)
            return rc;
        goto normalise;
    }
    /* torchvision and transformers both hand back the input when it already has the size. */
    if (tw != img->width || th != img->height) {
        rc = image_resize_with(img, tw, th, pp->interp, pp->resampler, &resized, err, errlen);
        if (rc != DEIT_OK)
            return rc;
        r = &resized;
    }
    if (pp->do_crop) {
        rc = center_crop(r, pp->crop_w, pp->crop_h, pp->crop_rule, &crop, err, errlen);
    } else if (r->width != pp->crop_w || r->height != pp->crop_h) {
        rc = deit_fail(err, errlen, DEIT_EINVAL, "preprocess: %dx%d without crop is not %dx%d",
                       r->width, r->height, pp->crop_w, pp->crop_h);
    } else {
        rc = image_crop(r, 0, 0, r->width, r->height, &crop, err, errlen);
    }
    image_free(&resized);
    if (rc != DEIT_OK)
        return rc;

normalise:
    if (pixels_out)
        normalise(pp, &crop, pixels_out);
    if (crop_out)
        *crop_out = crop;
    else
        image_free(&crop);
    return DEIT_OK;
}

int preprocess_encoded(const deit_preproc *pp, const uint8_t *data, size_t len, size_t max_pixels,
                       float *pixels_out, deit_image *crop_out, char *err, size_t errlen)
{
    deit_image img;
    int rc;
    if (crop_out)
        memset(crop_out, 0, sizeof *crop_out);
    rc = image_decode(data, len, pp->channels, max_pixels, &img, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (pp->exif_transpose && (rc = image_exif_transpose(data, len, &img, err, errlen)) != DEIT_OK) {
        image_free(&img);
        return rc;
    }
    rc = preprocess_image(pp, &img, pixels_out, crop_out, err, errlen);
    image_free(&img);
    return rc;
}
