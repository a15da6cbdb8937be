/* image.c — format sniffing, header dimensions, truncation checks and decoder dispatch; crop/free. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

/* Whether Pillow's IcoImagePlugin hands an ICO-signed file on to the later plugins (TGA among
 * them, which reads "\0\0\1\0" as a colour-mapped image without a colormap): an empty or cut
 * directory fails with IndexError, and an image whose offset leaves no 4 bytes for a BMP header
 * size with struct.error, both of which Image.open takes for "not this format". The image is
 * the one Pillow picks: the largest area, then the most colours, then the last in the file. */
static int ico_passes_on(const uint8_t *d, size_t len)
{
    if (len < 6)
        return 1;
    size_t count = (size_t)d[5] << 8 | d[4], pick = 0;
    uint64_t best = 0;
    if (count == 0 || count > (len - 6) / 16)
        return 1;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = d + 6 + 16 * i;
        uint64_t w = e[0] ? e[0] : 256, h = e[1] ? e[1] : 256, depth = (uint64_t)e[7] << 8 | e[6];
        for (unsigned k = 1; !depth && e[2] > 1 && k <= 8; k++)
            if ((1u << k) >= e[2])
                depth = k;  /* ceil(log2(colours)) */
        uint64_t key = (w * h) << 17 | (depth ? depth : 256);
        if (key >= best) {
            best = key;
            pick = i;
        }
    }
    const uint8_t *e = d + 6 + 16 * pick;
    uint64_t off = (uint64_t)e[15] << 24 | (uint64_t)e[14] << 16 | (uint64_t)e[13] << 8 | e[12];
    return off + 4 > len;
}

/* Identifies the format by its magic bytes and reads the dimensions from the header. For
 * JPEG it asks libjpeg (markers before SOF vary); the others have fixed layouts we read here,
 * because stb_image refuses to report dimensions it considers too large, and a too-large image
 * must be told apart (DEIT_ETOOBIG) from a corrupt one (DEIT_EINVAL). */
static int sniff(const uint8_t *d, size_t len, image_format *fmt, int *w, int *h, char *err,
                 size_t errlen)
{
    *fmt = IMAGE_FMT_UNKNOWN;
    *w = *h = 0;
    if (!d || len < 2)
        return deit_fail(err, errlen, DEIT_EINVAL, "image data is empty or too short (%zu bytes)",
                         d ? len : 0);
    if (len >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
        *fmt = IMAGE_FMT_JPEG;
        return image_jpeg_info(d, len, w, h, err, errlen);
    }
    if (len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) {
        *fmt = IMAGE_FMT_PNG;
        if (len < 24 || image_be32(d + 8) != 13 || memcmp(d + 12, "IHDR", 4) != 0)
            return deit_fail(err, errlen, DEIT_EINVAL, "PNG: missing or bad IHDR chunk");
        uint32_t pw = image_be32(d + 16), ph = image_be32(d + 20);
        if (pw == 0 || ph == 0 || pw > 0x7FFFFFFFu || ph > 0x7FFFFFFFu)
            return deit_fail(err, errlen, DEIT_EINVAL, "PNG: invalid dimensions");
        *w = (int)pw;
        *h = (int)ph;
        return DEIT_OK;
    }
    if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0)) {
        *fmt = IMAGE_FMT_GIF;
        return image_gif_info(d, len, w, h, err, errlen);
    }
    if (d[0] == 'B' && d[1] == 'M') {
        *fmt = IMAGE_FMT_BMP;
        return image_bmp_info(d, len, w, h, err, errlen);
    }
    if (d[0] == 'P' && d[1] >= '1' && d[1] <= '6') {
        *fmt = IMAGE_FMT_PNM;
        return image_pnm_info(d, len, w, h, err, errlen);
    }
    if (len >= 16 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) {
        *fmt = IMAGE_FMT_WEBP;
        return image_webp_info(d, len, w, h, err, errlen);
    }
    if (len >= 8 && (memcmp(d, "II\x2a\x00", 4) == 0 || memcmp(d, "MM\x00\x2a", 4) == 0 ||
                     memcmp(d, "II\x2b\x00", 4) == 0 || memcmp(d, "MM\x00\x2b", 4) == 0)) {
        *fmt = IMAGE_FMT_TIFF;
        return image_tiff_info(d, len, w, h, err, errlen);
    }
    if (len >= 4 && memcmp(d, "\0\0\1\0", 4) == 0) {
        *fmt = IMAGE_FMT_ICO;
        int rc = image_ico_info(d, len, w, h, err, errlen);
        char terr[8];
        if (rc != DEIT_OK && ico_passes_on(d, len) &&
            image_tga_info(d, len, w, h, terr, sizeof terr) == DEIT_OK) {
            *fmt = IMAGE_FMT_TGA;
            return DEIT_OK;
        }
        return rc;
    }
    /* Pillow's DibImageFile takes any file that starts with a BMP info header's size (it is
     * tried before TGA, whose image type 0 at the same place TGA refuses anyway). */
    if (len >= 4 && d[1] == 0 && d[2] == 0 && d[3] == 0 &&
        (d[0] == 12 || d[0] == 40 || d[0] == 64 || d[0] == 108 || d[0] == 124)) {
        *fmt = IMAGE_FMT_DIB;
        return image_dib_info(d, len, w, h, err, errlen);
    }
    /* TGA has no magic number: Pillow tries it after the formats that have one, and a file is
     * TGA when TgaImagePlugin._open's header checks pass (image_tga.c), as here. */
    int rc = image_tga_info(d, len, w, h, err, errlen);
    if (rc == DEIT_OK)
        *fmt = IMAGE_FMT_TGA;
    return rc;
}

int image_probe(const uint8_t *data, size_t len, image_format *fmt, int *width, int *height,
                char *err, size_t errlen)
{
    image_format f;
    int w, h;
    int rc = sniff(data, len, &f, &w, &h, err, errlen);
    if (fmt)
        *fmt = f;
    if (width)
        *width = rc == DEIT_OK ? w : 0;
    if (height)
        *height = rc == DEIT_OK ? h : 0;
    return rc;
}

int image_decode(const uint8_t *data, size_t len, int channels, size_t max_pixels, deit_image *out,
                 char *err, size_t errlen)
{
    image_format fmt;
    int w, h, rc;
    memset(out, 0, sizeof *out);
    if (channels != 1 && channels != 3)
        return deit_fail(err, errlen, DEIT_EINVAL, "channels must be 1 or 3 (got %d)", channels);
    rc = sniff(data, len, &fmt, &w, &h, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    rc = image_check_pixels(w, h, max_pixels, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (fmt == IMAGE_FMT_JPEG)
        rc = image_jpeg_decode(data, len, channels, max_pixels, out, err, errlen);
    else if (fmt == IMAGE_FMT_PNG && (rc = image_png_check(data, len, err, errlen)) != DEIT_OK)
        ;
    else if (fmt == IMAGE_FMT_GIF)
        rc = image_gif_decode(data, len, channels, w, h, out, err, errlen);
    else if (fmt == IMAGE_FMT_BMP)
        rc = image_bmp_decode(data, len, channels, w, h, out, err, errlen);
    else if (fmt == IMAGE_FMT_PNM)
        rc = image_pnm_decode(data, len, channels, w, h, out, err, errlen);
    else if (fmt == IMAGE_FMT_WEBP)
        rc = image_webp_decode(data, len, channels, w, h, out, err, errlen);
    else if (fmt == IMAGE_FMT_TIFF)
        rc = image_tiff_decode(data, len, channels, w, h, out, err, errlen);
    else if (fmt == IMAGE_FMT_ICO)
        rc = image_ico_decode(data, len, channels, w, h, out, err, errlen);
    else if (fmt == IMAGE_FMT_DIB)
        rc = image_dib_decode(data, len, channels, w, h, out, err, errlen);
    else if (fmt == IMAGE_FMT_TGA)
        rc = image_tga_decode(data, len, channels, w, h, out, err, errlen);
    else
        rc = image_stb_decode(data, len, fmt, channels, w, h, out, err, errlen);
    if (rc == DEIT_OK && fmt != IMAGE_FMT_TIFF && (out->width != w || out->height != h)) {
        image_free(out);
        rc = deit_fail(err, errlen, DEIT_EINVAL, "decoded size differs from the header");
    }
    if (rc != DEIT_OK) {
        image_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int image_crop(const deit_image *src, int x, int y, int w, int h, deit_image *dst, char *err,
               size_t errlen)
{
    size_t row;
    memset(dst, 0, sizeof *dst);
    if (!src->pixels || w <= 0 || h <= 0 || x < 0 || y < 0 || x > src->width - w ||
        y > src->height - h)
        return deit_fail(err, errlen, DEIT_EINVAL, "crop %dx%d+%d+%d outside %dx%d image", w, h, x,
                         y, src->width, src->height);
    row = (size_t)w * src->channels;
    dst->pixels = malloc(row * h);
    if (!dst->pixels)
        return deit_fail(err, errlen, DEIT_ENOMEM, "crop: out of memory");
    for (int r = 0; r < h; r++)
        memcpy(dst->pixels + r * row,
               src->pixels + ((size_t)(y + r) * src->width + x) * src->channels, row);
    dst->width = w;
    dst->height = h;
    dst->channels = src->channels;
    return DEIT_OK;
}

void image_free(deit_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}
