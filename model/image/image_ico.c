/* image_ico.c — ICO and bare DIB files: the BMP (or, in an ICO, PNG) data inside handed to those
 * decoders the way Pillow's IcoImagePlugin and DibImageFile read it. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* Enough of a DIB for image_bmp_info: the largest header, three masks, a 256-entry palette. */
#define DIB_HEAD_MAX 2048

/* The DIB dib[n] (header, masks, palette, pixels) as the BMP file Pillow effectively reads: a
 * 14-byte file header whose data offset is 0, so the pixels follow what the header, masks and
 * palette took (BmpImagePlugin's `offset or fp.tell()`). halve: an ICO frame, whose DIB height
 * counts the AND mask too; Pillow keeps int(height / 2) rows (the first ones read, as the rows'
 * direction says). At most cap bytes of the DIB are copied. NULL: out of memory. */
static uint8_t *dib_as_bmp(const uint8_t *dib, size_t n, int halve, size_t cap, size_t *outlen)
{
    size_t k = n < cap ? n : cap;
    uint8_t *b = malloc(14 + k);
    if (!b)
        return NULL;
    memset(b, 0, 14);
    b[0] = 'B';
    b[1] = 'M';
    put_le32(b + 2, (uint32_t)(14 + k));  /* the file size: not read */
    memcpy(b + 14, dib, k);
    *outlen = 14 + k;
    if (halve && k >= 12 && image_le32(dib) >= 40) {
        uint32_t raw = image_le32(dib + 8);
        if (dib[11] == 0xFF) {  /* Pillow's top-down test: height 2^32 - raw */
            uint64_t h = 4294967296ull - raw;
            put_le32(b + 22, (uint32_t)(4294967296ull - h / 2));  /* 0 rows: 0, refused */
        } else {
            put_le32(b + 22, raw / 2);
        }
    } else if (halve && k >= 8 && image_le32(dib) == 12) {  /* OS/2 1.x: 16-bit height */
        uint32_t h = image_le16(dib + 6) / 2;
        b[20] = (uint8_t)h;
        b[21] = (uint8_t)(h >> 8);
    }
    return b;
}

typedef struct {
    uint32_t size, offset;     /* of the image data in the file */
    unsigned bpp;              /* the directory's bit count */
} ico_entry;

/* IcoFile: the directory (all of it there, or Pillow's struct.error), and the entry it shows:
 * sorted by colour depth (bpp, else ceil(log2(colours)), else 256), then by area (width and
 * height of 0 meaning 256), both stable, then reversed — the largest area, then the deepest
 * colour, then the last in the file. */
static int ico_pick(const uint8_t *d, size_t len, ico_entry *e, char *err, size_t errlen)
{
    if (len < 6)
        return deit_fail(err, errlen, DEIT_EINVAL, "ICO: truncated header");
    uint32_t n = image_le16(d + 4);
    if (n == 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "ICO: no images in the file");
    if ((len - 6) / 16 < n)
        return deit_fail(err, errlen, DEIT_EINVAL, "ICO: truncated directory");
    const uint8_t *best = NULL;
    uint64_t best_area = 0, best_depth = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = d + 6 + 16 * (size_t)i;
        uint64_t area = (uint64_t)(p[0] ? p[0] : 256) * (p[1] ? p[1] : 256);
        uint64_t depth = image_le16(p + 6);
        if (!depth && p[2])  /* Python's math.log(n, 2) is log(n) / log(2) */
            depth = (uint64_t)ceil(log((double)p[2]) / log(2.0));
        if (!depth)
            depth = 256;
        if (!best || area > best_area || (area == best_area && depth >= best_depth)) {
            best = p;
            best_area = area;
            best_depth = depth;
        }
    }
    e->bpp = image_le16(best + 6);
    e->size = image_le32(best + 8);
    e->offset = image_le32(best + 12);
    return DEIT_OK;
}

static int is_png(const uint8_t *f, size_t n)
{
    return n >= 8 && memcmp(f, "\x89PNG\r\n\x1a\n", 8) == 0;
}

int image_ico_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen)
{
    ico_entry e;
    int rc = ico_pick(data, len, &e, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    const uint8_t *f = data + (e.offset < len ? e.offset : len);
    size_t n = e.offset < len ? len - e.offset : 0;
    if (is_png(f, n)) {  /* the frame's own size, which Pillow takes when it differs */
        image_format fmt;
        return image_probe(f, n, &fmt, width, height, err, errlen);
    }
    size_t bl;
    uint8_t *bmp = dib_as_bmp(f, n, 1, DIB_HEAD_MAX, &bl);
    if (!bmp)
        return deit_fail(err, errlen, DEIT_ENOMEM, "ICO: out of memory");
    rc = image_bmp_info(bmp, bl, width, height, err, errlen);
    free(bmp);
    return rc;
}

/* After the image, IcoFile.frame reads a BMP frame's transparency, and refuses the file when it is
 * cut short: a 32-bit entry (the directory's bit count) reads width*height*4 bytes from the pixel
 * data's start; any other, the AND mask (1 bit per pixel, rows padded to 32 bits) that ends the
 * entry's size bytes. The alpha is dropped by convert('RGB'/'L') afterwards. */
static int ico_mask_ok(const ico_entry *e, const uint8_t *bmp, size_t bl, size_t len, int w, int h)
{
    if (e->bpp == 32) {
        uint64_t at;
        if (image_bmp_data_offset(bmp, bl, &at) != DEIT_OK)
            return 0;
        at = e->offset + (at - 14);  /* from the frame's BMP to the file */
        return at <= len && (len - at) / 4 / (uint64_t)w >= (uint64_t)h;
    }
    uint64_t w32 = ((uint64_t)w + 31) / 32 * 32, total = w32 * (uint64_t)h / 8;
    int64_t at = (int64_t)e->offset + (int64_t)e->size - (int64_t)total;
    return at >= 0 && (uint64_t)at <= len && len - (uint64_t)at >= total;
}

int image_ico_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen)
{
    ico_entry e;
    memset(out, 0, sizeof *out);
    int rc = ico_pick(data, len, &e, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    const uint8_t *f = data + (e.offset < len ? e.offset : len);
    size_t n = e.offset < len ? len - e.offset : 0;
    if (is_png(f, n)) {
        rc = image_png_check(f, n, err, errlen);
        return rc != DEIT_OK ? rc : image_stb_decode(f, n, IMAGE_FMT_PNG, channels, width, height,
                                                     out, err, errlen);
    }
    size_t bl;
    uint8_t *bmp = dib_as_bmp(f, n, 1, n, &bl);
    if (!bmp)
        return deit_fail(err, errlen, DEIT_ENOMEM, "ICO: out of memory");
    rc = image_bmp_decode(bmp, bl, channels, width, height, out, err, errlen);
    if (rc == DEIT_OK && !ico_mask_ok(&e, bmp, bl, len, width, height)) {
        image_free(out);
        rc = deit_fail(err, errlen, DEIT_EINVAL, "ICO: transparency mask is truncated");
    }
    free(bmp);
    return rc;
}

int image_dib_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen)
{
    size_t bl;
    uint8_t *bmp = dib_as_bmp(data, len, 0, DIB_HEAD_MAX, &bl);
    if (!bmp)
        return deit_fail(err, errlen, DEIT_ENOMEM, "DIB: out of memory");
    int rc = image_bmp_info(bmp, bl, width, height, err, errlen);
    free(bmp);
    return rc;
}

int image_dib_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen)
{
    size_t bl;
    memset(out, 0, sizeof *out);
    uint8_t *bmp = dib_as_bmp(data, len, 0, len, &bl);
    if (!bmp)
        return deit_fail(err, errlen, DEIT_ENOMEM, "DIB: out of memory");
    int rc = image_bmp_decode(bmp, bl, channels, width, height, out, err, errlen);
    free(bmp);
    return rc;
}
