/* resize.c — Pillow's Image.resize and torchvision's uint8 resize of 8-bit L/RGB images, exactly. */
#include "image.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pillow keeps 8 bits for the result and 2 for overshoot of the signed filter lobes, so the
 * coefficients get 32 - 8 - 2 bits of fraction and the int32 accumulator cannot overflow. */
#define PRECISION_BITS (32 - 8 - 2)

/* torch stores its coefficients as int16 (for AVX2 16-bit multiply-adds), so it picks per axis the
 * most fraction bits, at most 22, that keep the axis's largest weight below 2^15. */
#define TORCH_MAX_PRECISION 22
#define TORCH_COEF_LIMIT (1 << 15)

typedef struct {
    double (*fn)(double x);
    double support;
} resample_filter;

/* Triangle, support 1. */
static double filter_bilinear(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Keys cubic convolution with a = -0.5, support 2 (Pillow's BICUBIC). */
static double filter_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* The same cubic as torch's antialiased kernel evaluates it (cubic_convolution1/2 with A = -0.5).
 * The outer lobe's polynomial is expanded differently from Pillow's and can differ in the last bit
 * of a weight; that rarely survives quantisation (the fixtures cannot tell the two apart), but
 * following torch's expression keeps the double weights identical, not merely close. */
static double filter_bicubic_torch(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    return 0.0;
}

/* Per-output-pixel taps along one axis: taps [first, first + count) of the input, with count
 * fixed-point weights at coef[i * ksize], each with `prec` fraction bits. */
typedef struct {
    int ksize;
    int prec;                  /* fraction bits: PRECISION_BITS (Pillow), per axis (torch) */
    int *first, *count;        /* [out_size] */
    int32_t *coef;             /* [out_size][ksize] */
} axis_coeffs;

static void axis_free(axis_coeffs *a)
{
    free(a->first);
    free(a->count);
    free(a->coef);
    memset(a, 0, sizeof *a);
}

/* Rounds half away from zero to an integer, as both libraries quantise their weights. */
static int32_t quantise(double k, int prec)
{
    double v = k * (double)(1 << prec);
    return (int32_t)(v < 0 ? -0.5 + v : 0.5 + v);
}

/* Coefficients for the full box [0, in_size): the filter is widened by the reduction factor
 * (antialiasing), each pixel's weights are normalised by their double sum, then rounded half away
 * from zero to fixed point. Pillow (precompute_coeffs + normalize_coeffs_8bpc) always uses
 * PRECISION_BITS; torch (_compute_index_ranges_weights + _compute_index_ranges_int16_weights)
 * picks the precision from the axis's largest normalised weight (see TORCH_MAX_PRECISION). The
 * arithmetic (double, the +0.5 truncations) follows each library exactly, since a one-ulp change
 * in a weight can flip a rounded output byte. Returns DEIT_ENOMEM on allocation failure. */
static int axis_compute(int in_size, int out_size, const resample_filter *f, resample_impl impl,
                        axis_coeffs *a)
{
    double scale = (double)in_size / out_size;   /* both: (double)in / out */
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    double ss = 1.0 / filterscale;
    double wmax = 0.0, *w;
    size_t nw;
    memset(a, 0, sizeof *a);
    a->ksize = (int)ceil(support) * 2 + 1;
    if ((size_t)out_size > SIZE_MAX / sizeof(double) / (size_t)a->ksize)
        return DEIT_ENOMEM;
    nw = (size_t)out_size * (size_t)a->ksize;
    a->first = malloc((size_t)out_size * sizeof(int));
    a->count = malloc((size_t)out_size * sizeof(int));
    a->coef = calloc(nw, sizeof(int32_t));
    w = calloc(nw, sizeof(double));  /* torch needs every weight before it can pick a precision */
    if (!a->first || !a->count || !a->coef || !w) {
        free(w);
        axis_free(a);
        return DEIT_ENOMEM;
    }
    for (int o = 0; o < out_size; o++) {
        double center = (o + 0.5) * scale;
        double sum = 0.0, *wo = w + (size_t)o * a->ksize;
        int lo = (int)(center - support + 0.5);
        int hi = (int)(center + support + 0.5);
        int n;
        if (lo < 0)
            lo = 0;
        if (hi > in_size)
            hi = in_size;
        n = hi - lo;
        if (n > a->ksize)
            n = a->ksize;  /* torch clips a rounding case of one tap too many; Pillow's buffer
                              has ksize taps too, so it could never use more */
        for (int x = 0; x < n; x++) {
            wo[x] = f->fn((x + lo - center + 0.5) * ss);
            sum += wo[x];
        }
        if (sum != 0.0) {
            for (int x = 0; x < n; x++) {
                wo[x] /= sum;
                if (wo[x] > wmax)
                    wmax = wo[x];
            }
        }
        a->first[o] = lo;
        a->count[o] = n;
    }
    a->prec = PRECISION_BITS;
    if (impl == RESAMPLE_TORCHVISION) {
        /* The largest p <= 22 with round(wmax * 2^p) < 2^15, found as torch does: stop at the
         * first p whose successor would overflow int16. */
        int p = 0;
        while (p < TORCH_MAX_PRECISION &&
               (int)(0.5 + wmax * (double)(1 << (p + 1))) < TORCH_COEF_LIMIT)
            p++;
        a->prec = p > 0 ? p : 1;  /* normalised weights are <= ~1.1, so p >= 14 in practice */
    }
    for (size_t i = 0; i < nw; i++)
        a->coef[i] = quantise(w[i], a->prec);
    free(w);
    return DEIT_OK;
}

/* Pillow's clip8 (torch's clamp after the shift): drop the `prec` fraction bits (arithmetic
 * shift) and saturate to a byte. */
static inline uint8_t clip8(int32_t v, int prec)
{
    v >>= prec;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* dst rows [0, rows) = horizontal convolution of src rows [row0, row0 + rows), output columns
 * [o0, o0 + n_out) only (dst rows are n_out pixels wide). */
static void pass_horizontal(const uint8_t *src, int src_w, int row0, int rows, int nch,
                            const axis_coeffs *a, int o0, int n_out, uint8_t *dst)
{
    int prec = a->prec;
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(row0 + y) * src_w * nch;
        uint8_t *out = dst + (size_t)y * n_out * nch;
        for (int j = 0; j < n_out; j++) {
            int o = o0 + j;
            const int32_t *k = a->coef + (size_t)o * a->ksize;
            const uint8_t *p = in + (size_t)a->first[o] * nch;
            int n = a->count[o];
            if (nch == 3) {  /* the common case, kept to one pass over the taps */
                int32_t r = 1 << (prec - 1), g = r, b = r;
                for (int x = 0; x < n; x++) {
                    r += p[3 * x] * k[x];
                    g += p[3 * x + 1] * k[x];
                    b += p[3 * x + 2] * k[x];
                }
                out[3 * j] = clip8(r, prec);
                out[3 * j + 1] = clip8(g, prec);
                out[3 * j + 2] = clip8(b, prec);
                continue;
            }
            for (int c = 0; c < nch; c++) {
                int32_t acc = 1 << (prec - 1);
                for (int x = 0; x < n; x++)
                    acc += p[x * nch + c] * k[x];
                out[j * nch + c] = clip8(acc, prec);
            }
        }
    }
}

/* dst rows [0, n_out) = vertical convolution for output rows [o0, o0 + n_out); src row 0 is input
 * row `row0` of the coefficients, rows are src_stride bytes apart and row_bytes wide.
 * Accumulates whole rows into acc[row_bytes] (same sums in the same order as Pillow's per-pixel
 * loop, integer addition being exact) so the inner loop runs along memory. */
static void pass_vertical(const uint8_t *src, size_t src_stride, int row0, size_t row_bytes,
                          const axis_coeffs *a, int o0, int n_out, uint8_t *dst, int32_t *acc)
{
    int prec = a->prec;
    for (int j = 0; j < n_out; j++) {
        int o = o0 + j;
        const int32_t *k = a->coef + (size_t)o * a->ksize;
        const uint8_t *rows = src + (size_t)(a->first[o] - row0) * src_stride;
        int n = a->count[o];
        uint8_t *out = dst + (size_t)j * row_bytes;
        for (size_t i = 0; i < row_bytes; i++)
            acc[i] = 1 << (prec - 1);
        for (int y = 0; y < n; y++) {
            const uint8_t *in = rows + (size_t)y * src_stride;
            int32_t ky = k[y];
            for (size_t i = 0; i < row_bytes; i++)
                acc[i] += in[i] * ky;
        }
        for (size_t i = 0; i < row_bytes; i++)
            out[i] = clip8(acc[i], prec);
    }
}

/* A window of an out_w x out_h resize: output pixels [x0, x0 + w) x [y0, y0 + h). */
typedef struct {
    int out_w, out_h, x0, y0, w, h;
} resize_window;

/* Pillow's NEAREST resize goes through ImagingScaleAffine, not the convolution: source
 * coordinates start at half a step and are *accumulated* in double (xo += step), then
 * truncated; we accumulate the same way, from output 0 even outside the window, so that
 * rounding matches on long rows. */
static int resize_nearest(const deit_image *src, const resize_window *win, deit_image *dst)
{
    int nch = src->channels;
    double ax = (double)src->width / win->out_w, ay = (double)src->height / win->out_h;
    int *xin = malloc((size_t)win->out_w * sizeof(int));
    double xo = ax * 0.5, yo = ay * 0.5;
    if (!xin)
        return DEIT_ENOMEM;
    for (int x = 0; x < win->out_w; x++, xo += ax)
        xin[x] = (xo < 0.0 || (int)xo >= src->width) ? -1 : (int)xo;
    for (int y = 0; y < win->y0 + win->h; y++, yo += ay) {
        if (y < win->y0)
            continue;
        uint8_t *out = dst->pixels + (size_t)(y - win->y0) * win->w * nch;
        int yi = (yo < 0.0 || (int)yo >= src->height) ? -1 : (int)yo;
        const uint8_t *in = yi >= 0 ? src->pixels + (size_t)yi * src->width * nch : NULL;
        for (int j = 0; j < win->w; j++) {
            int xi = xin[win->x0 + j];
            for (int c = 0; c < nch; c++)  /* outside the source: Pillow fills with 0 */
                out[j * nch + c] = (in && xi >= 0) ? in[(size_t)xi * nch + c] : 0;
        }
    }
    free(xin);
    return DEIT_OK;
}

/* torch's (legacy, OpenCV-like) nearest for uint8, which torchvision uses for NEAREST: source
 * index floor(o * scale) with scale = (float)in / out and the product in float, clamped to the
 * last pixel. No half-pixel offset, unlike Pillow. */
static int torch_nearest_index(int o, int in_size, int out_size)
{
    float scale = (float)in_size / (float)out_size;
    int i = (int)floorf((float)o * scale);
    return i < in_size - 1 ? i : in_size - 1;
}

static void resize_nearest_torch(const deit_image *src, const resize_window *win, deit_image *dst)
{
    int nch = src->channels;
    for (int j = 0; j < win->h; j++) {
        int yi = torch_nearest_index(win->y0 + j, src->height, win->out_h);
        const uint8_t *in = src->pixels + (size_t)yi * src->width * nch;
        uint8_t *out = dst->pixels + (size_t)j * win->w * nch;
        for (int x = 0; x < win->w; x++) {
            int xi = torch_nearest_index(win->x0 + x, src->width, win->out_w);
            memcpy(out + (size_t)x * nch, in + (size_t)xi * nch, (size_t)nch);
        }
    }
}

/* Working memory past the image itself that a convolution may take: the weight tables (out x ksize
 * entries per axis, an int32 and a double each) and the horizontal pass's band (the window's width
 * by at most every input row). Both grow with the input axis, not the output: a fixed-size resize
 * (transformers' {height, width}, timm's squash) of a 40000000 x 1 strip to 256 x 256 would want
 * about 2 GB of weights, and of a 1 x 40000000 strip tens of GB of band. */
#define RESIZE_MAX_EXTRA_BYTES ((double)(64 << 20))

static double convolve_scratch_bytes(const deit_image *src, const resize_window *win, double support)
{
    double sx = (double)src->width / win->out_w, sy = (double)src->height / win->out_h;
    double taps_x = win->out_w * (2.0 * ceil(support * (sx < 1.0 ? 1.0 : sx)) + 1.0);
    double taps_y = win->out_h * (2.0 * ceil(support * (sy < 1.0 ? 1.0 : sy)) + 1.0);
    double band = (double)win->w * src->channels * src->height;
    return (taps_x + taps_y) * (double)(sizeof(int32_t) + sizeof(double)) + band;
}

/* The separable convolution, restricted to the window. Follows ImagingResampleInner: vertical
 * coefficients first, to find the band of input rows the window's output rows read; the
 * horizontal pass (if the width changes) runs over that band and the window's columns only; the
 * vertical pass (if the height changes) reads its output. Skipping an unchanged axis matters: a
 * pass with scale 1 is not the identity for BICUBIC. torch's separable kernel has the same
 * structure, so only the coefficients differ. Every output pixel is the same sum as in the full
 * resize: a window only leaves pixels out. */
static int resize_convolve(const deit_image *src, const resize_window *win,
                           const resample_filter *f, resample_impl impl, deit_image *dst)
{
    int nch = src->channels;
    int need_h = win->out_w != src->width, need_v = win->out_h != src->height;
    axis_coeffs ax = {0}, ay = {0};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    int rc = axis_compute(src->height, win->out_h, f, impl, &ay);
    if (rc == DEIT_OK && need_h)
        rc = axis_compute(src->width, win->out_w, f, impl, &ax);
    if (rc != DEIT_OK)
        goto done;
    if (need_h) {
        /* Rows the vertical pass will read, or the window's own rows when there is none. */
        int row0 = need_v ? ay.first[win->y0] : win->y0;
        int rows = need_v ? ay.first[win->y0 + win->h - 1] + ay.count[win->y0 + win->h - 1] - row0
                          : win->h;
        uint8_t *hout = dst->pixels;
        if (need_v) {
            hout = tmp = malloc((size_t)win->w * nch * (size_t)rows);
            if (!tmp) {
                rc = DEIT_ENOMEM;
                goto done;
            }
        }
        pass_horizontal(src->pixels, src->width, row0, rows, nch, &ax, win->x0, win->w, hout);
        if (need_v) {
            acc = malloc((size_t)win->w * nch * sizeof(int32_t));
            if (!acc) {
                rc = DEIT_ENOMEM;
                goto done;
            }
            pass_vertical(tmp, (size_t)win->w * nch, row0, (size_t)win->w * nch, &ay, win->y0,
                          win->h, dst->pixels, acc);
        }
    } else {
        /* Width unchanged: the vertical pass reads the source's window columns directly. */
        acc = malloc((size_t)win->w * nch * sizeof(int32_t));
        if (!acc) {
            rc = DEIT_ENOMEM;
            goto done;
        }
        pass_vertical(src->pixels + (size_t)win->x0 * nch, (size_t)src->width * nch, 0,
                      (size_t)win->w * nch, &ay, win->y0, win->h, dst->pixels, acc);
    }
done:
    free(acc);
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return rc;
}

int image_resize(const deit_image *src, int out_width, int out_height, interp_mode mode,
                 deit_image *dst, char *err, size_t errlen)
{
    return image_resize_with(src, out_width, out_height, mode, RESAMPLE_PILLOW, dst, err, errlen);
}

int image_resize_with(const deit_image *src, int out_width, int out_height, interp_mode mode,
                      resample_impl impl, deit_image *dst, char *err, size_t errlen)
{
    return image_resize_window(src, out_width, out_height, 0, 0, out_width, out_height, mode, impl,
                               dst, err, errlen);
}

int image_resize_window(const deit_image *src, int out_width, int out_height, int x0, int y0,
                        int w, int h, interp_mode mode, resample_impl impl, deit_image *dst,
                        char *err, size_t errlen)
{
    static const resample_filter bilinear = {filter_bilinear, 1.0};
    static const resample_filter bicubic = {filter_bicubic, 2.0};
    static const resample_filter bicubic_torch = {filter_bicubic_torch, 2.0};
    const resample_filter *f;
    resize_window win = {out_width, out_height, x0, y0, w, h};
    int nch = src->channels;
    size_t out_bytes;
    int rc = DEIT_OK;

    memset(dst, 0, sizeof *dst);
    if (!src->pixels || src->width <= 0 || src->height <= 0 || (nch != 1 && nch != 3))
        return deit_fail(err, errlen, DEIT_EINVAL, "resize: invalid source image");
    if (impl != RESAMPLE_PILLOW && impl != RESAMPLE_TORCHVISION)
        return deit_fail(err, errlen, DEIT_EINVAL, "resize: unknown resampler %d", (int)impl);
    if (out_width <= 0 || out_height <= 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "resize: invalid size %dx%d", out_width,
                         out_height);
    if (w <= 0 || h <= 0 || x0 < 0 || y0 < 0 || x0 > out_width - w || y0 > out_height - h)
        return deit_fail(err, errlen, DEIT_EINVAL, "resize: window %dx%d+%d+%d outside %dx%d", w,
                         h, x0, y0, out_width, out_height);
    if ((size_t)w > SIZE_MAX / (size_t)h / (size_t)nch)
        return deit_fail(err, errlen, DEIT_ETOOBIG, "resize: %dx%d is too large", w, h);
    out_bytes = (size_t)w * h * nch;
    dst->pixels = malloc(out_bytes);
    if (!dst->pixels)
        return deit_fail(err, errlen, DEIT_ENOMEM, "resize: out of memory");
    dst->width = w;
    dst->height = h;
    dst->channels = nch;

    if (out_width == src->width && out_height == src->height) {
        /* Same size: Pillow returns a copy whatever the filter, torchvision the input itself. */
        for (int y = 0; y < h; y++)
            memcpy(dst->pixels + (size_t)y * w * nch,
                   src->pixels + ((size_t)(y0 + y) * src->width + x0) * nch, (size_t)w * nch);
    } else if (mode == INTERP_NEAREST) {
        if (impl == RESAMPLE_PILLOW)
            rc = resize_nearest(src, &win, dst);
        else
            resize_nearest_torch(src, &win, dst);
    } else {
        if (mode == INTERP_BILINEAR)
            f = &bilinear;  /* torch's triangle filter is Pillow's, expression for expression */
        else
            f = impl == RESAMPLE_PILLOW ? &bicubic : &bicubic_torch;
        /* bounded by the image itself plus a margin that no photo comes near; only a strip far
         * thinner than its resize target needs more */
        double need = convolve_scratch_bytes(src, &win, f->support);
        if (need > (double)src->width * src->height * nch + RESIZE_MAX_EXTRA_BYTES) {
            image_free(dst);
            return deit_fail(err, errlen, DEIT_ETOOBIG,
                             "resize: %dx%d to %dx%d would need %.0f MB of working memory (aspect ratio too "
                             "extreme)", src->width, src->height, out_width, out_height, need / 1e6);
        }
        rc = resize_convolve(src, &win, f, impl, dst);
    }
    if (rc != DEIT_OK) {
        image_free(dst);
        return deit_fail(err, errlen, rc, "resize: out of memory");
    }
    return DEIT_OK;
}
