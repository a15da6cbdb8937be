/* image_jpeg.c — JPEG decoding with libjpeg-turbo, matching Pillow's JpegImagePlugin + convert(). */
#include "image.h"
#include "image_internal.h"

#include <setjmp.h>
#include <stdio.h>  /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* A progressive JPEG may carry any number of scans, each re-walking every coefficient: a small
 * file with thousands of scans burns CPU. Real encoders emit about ten. */
#define JPEG_MAX_SCANS 1000

/* libjpeg reports fatal errors through error_exit, which by default calls exit(); ours
 * longjmps back to the decoding function with the message saved. */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int premature_eof;         /* JWRN_JPEG_EOF seen: data ended before the image did */
    int too_many_scans;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error_exit(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (e->too_many_scans)
        snprintf(e->msg, sizeof e->msg, "more than %d scans", JPEG_MAX_SCANS);
    else
        e->pub.format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level -1) are tolerated as Pillow tolerates them (corrupt data is decoded as far as
 * libjpeg can), except a premature end of data: Pillow refuses truncated files ("image file is
 * truncated") unless LOAD_TRUNCATED_IMAGES is set, which the references do not set. Never
 * prints. */
static void on_emit_message(j_common_ptr cinfo, int level)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0 && e->pub.msg_code == JWRN_JPEG_EOF)
        e->premature_eof = 1;
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        ((jpeg_err *)cinfo->err)->too_many_scans = 1;
        cinfo->err->error_exit(cinfo);
    }
}

static void setup(struct jpeg_decompress_struct *cinfo, jpeg_err *e,
                  struct jpeg_progress_mgr *progress)
{
    memset(e, 0, sizeof *e);
    cinfo->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error_exit;
    e->pub.emit_message = on_emit_message;
    e->pub.output_message = on_output_message;
    if (progress) {
        memset(progress, 0, sizeof *progress);
        progress->progress_monitor = on_progress;
    }
}

int image_jpeg_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                    size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err e;
    setup(&cinfo, &e, NULL);
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&cinfo);
        return deit_fail(err, errlen, DEIT_EINVAL, "JPEG: %s", e.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    if (e.premature_eof)
        return deit_fail(err, errlen, DEIT_EINVAL, "JPEG: image file is truncated");
    return DEIT_OK;
}

/* Pillow opens every 4-component JPEG with rawmode "CMYK;I" (Adobe's inverted convention,
 * applied unconditionally) and convert('RGB') then computes, per channel,
 * nk - nk * c' / 255 with nk = 255 - k' and its MULDIV255 rounding, where c' = 255 - c and
 * k' = 255 - k are the inverted samples libjpeg returns. YCCK is turned into CMYK by libjpeg
 * first, as in Pillow. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, int w)
{
    for (int x = 0; x < w; x++, in += 4, out += 3) {
        int nk = in[3];  /* 255 - (255 - k) */
        for (int c = 0; c < 3; c++) {
            int t = (255 - in[c]) * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            out[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* Decodes with libjpeg-turbo's defaults (JDCT_ISLOW, fancy upsampling), which is what Pillow
 * uses when not in draft mode. Grey → L (replicated for RGB); YCbCr/RGB → RGB; CMYK/YCCK as
 * above. For channels == 1 colour images go through RGB and Pillow's luma. */
int image_jpeg_decode(const uint8_t *data, size_t len, int channels, size_t max_pixels,
                      deit_image *out, char *err, size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    jpeg_err e;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    int w, h, ncomp, out_comps;

    memset(out, 0, sizeof *out);
    setup(&cinfo, &e, &progress);
    if (setjmp(e.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        if (e.too_many_scans)
            return deit_fail(err, errlen, DEIT_ETOOBIG, "JPEG: %s", e.msg);
        return deit_fail(err, errlen, DEIT_EINVAL, "JPEG: %s", e.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    w = (int)cinfo.image_width;
    h = (int)cinfo.image_height;
    ncomp = cinfo.num_components;

    /* Refuse before libjpeg allocates anything image-sized. */
    int rc = image_check_pixels(w, h, max_pixels, err, errlen);
    if (rc != DEIT_OK) {
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    if (ncomp == 1)
        cinfo.out_color_space = JCS_GRAYSCALE;
    else if (ncomp == 3)
        cinfo.out_color_space = JCS_RGB;
    else if (ncomp == 4)
        cinfo.out_color_space = JCS_CMYK;
    else {
        jpeg_destroy_decompress(&cinfo);
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "JPEG: %d-component images", ncomp);
    }

    out_comps = ncomp;
    pixels = malloc((size_t)w * h * channels);
    /* A row buffer whenever libjpeg's output layout is not the final one. */
    if (pixels && out_comps != channels)
        row = malloc((size_t)w * 4);
    if (!pixels || (out_comps != channels && !row)) {
        free(pixels);
        free(row);
        jpeg_destroy_decompress(&cinfo);
        return deit_fail(err, errlen, DEIT_ENOMEM, "JPEG: out of memory");
    }
    jpeg_start_decompress(&cinfo);
    while (cinfo.output_scanline < cinfo.output_height && !e.premature_eof) {
        uint8_t *dst = pixels + (size_t)cinfo.output_scanline * w * channels;
        JSAMPROW rp = row ? row : dst;
        if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1)
            break;
        if (!row)
            continue;
        if (cinfo.out_color_space == JCS_GRAYSCALE) {  /* L → RGB: replicate */
            for (int x = 0; x < w; x++)
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
            continue;
        }
        if (cinfo.out_color_space == JCS_CMYK) {
            if (channels == 3) {
                cmyk_row_to_rgb(row, dst, w);
                continue;
            }
            cmyk_row_to_rgb(row, row, w);  /* in place: writes 3 bytes behind reading 4 */
        }
        for (int x = 0; x < w; x++)
            dst[x] = image_luma(row[3 * x], row[3 * x + 1], row[3 * x + 2]);
    }
    if (e.premature_eof || cinfo.output_scanline < cinfo.output_height) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        return deit_fail(err, errlen, DEIT_EINVAL, "JPEG: image file is truncated");
    }
    /* Every row is out; a missing EOI after the last scan is not worth failing for. */
    jpeg_abort_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->width = w;
    out->height = h;
    out->channels = channels;
    out->pixels = pixels;
    return DEIT_OK;
}
