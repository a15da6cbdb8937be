/* image_bmp.c — BMP decoding with the semantics of Pillow 9.4's BmpImagePlugin (own code). */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

/* How the pixels are stored (Pillow's rawmode) once the header is read. */
typedef enum { R_PAL1, R_PAL4, R_PAL8, R_BIT1, R_GREY8, R_BGR15, R_BGR16, R_BGR, R_BGRX, R_XBGR,
               R_ABGR, R_RGBA, R_BGRA } bmp_raw;

typedef struct {
    int64_t w, h;
    int topdown;               /* Pillow's direction 1: rows stored top row first */
    unsigned bits, compression;
    bmp_raw raw;
    int rle;                   /* 0, 8 or 4 */
    uint64_t offset;           /* pixel data */
    uint8_t pal[256][3];       /* RGB; entries past the file's palette are Pillow's grey ramp */
} bmp_info;

/* BmpImageFile._bitmap: header, masks, palette and the data offset (0: just past all of them),
 * or a refusal with Pillow's reason. The palette is read right after the header (and the
 * 40-byte header's masks), where Pillow's file pointer is, not at the data offset. */
static int parse(const uint8_t *d, size_t len, bmp_info *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (len < 18)
        return deit_fail(err, errlen, DEIT_EINVAL, "BMP: truncated header");
    uint64_t offset = image_le32(d + 10);
    uint32_t hsz = image_le32(d + 14);
    size_t pos = 18, padding;
    uint64_t colors = 0;
    if (hsz != 12 && hsz != 40 && hsz != 64 && hsz != 108 && hsz != 124)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "BMP: unsupported header type (%u)", hsz);
    if (len < 14 + (size_t)hsz)
        return deit_fail(err, errlen, DEIT_EINVAL, "BMP: truncated header");
    const uint8_t *h = d + 18;
    uint32_t masks[4] = {0, 0, 0, 0};
    if (hsz == 12) {  /* OS/2 1.x */
        b->w = image_le16(h);
        b->h = image_le16(h + 2);
        b->bits = image_le16(h + 6);
        padding = 3;
    } else {
        int flip = h[7] == 0xFF;  /* Pillow's test for a negative height */
        b->topdown = flip;
        b->w = image_le32(h);
        b->h = flip ? (int64_t)4294967296LL - image_le32(h + 4) : (int64_t)image_le32(h + 4);
        b->bits = image_le16(h + 10);
        b->compression = image_le32(h + 12);
        colors = image_le32(h + 28);
        padding = 4;
        if (b->compression == 3) {  /* BITFIELDS */
            if (hsz >= 56) {
                for (int i = 0; i < 4; i++)
                    masks[i] = image_le32(h + 36 + 4 * i);
            } else {
                if (len < 14 + (size_t)hsz + 12)
                    return deit_fail(err, errlen, DEIT_EINVAL, "BMP: truncated header");
                for (int i = 0; i < 3; i++)
                    masks[i] = image_le32(d + 14 + hsz + 4 * i);
                hsz += 12;  /* Pillow's file pointer moves past them */
            }
        }
    }
    pos = 14 + hsz;
    if (b->w <= 0 || b->h <= 0 || b->w > 0x7FFFFFFF || b->h > 0x7FFFFFFF)
        return deit_fail(err, errlen, DEIT_EINVAL, "BMP: invalid dimensions");
    if (b->bits > 32 || (b->bits != 1 && b->bits != 4 && b->bits != 8 && b->bits != 16 &&
                         b->bits != 24 && b->bits != 32))
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "BMP: unsupported pixel depth (%u)",
                         b->bits);
    if (!colors)
        colors = (uint64_t)1 << b->bits;
    if (offset == 14 + (uint64_t)image_le32(d + 14) && b->bits <= 8)
        offset += 4 * colors;  /* Pillow: a palette directly after the header is skipped */
    b->offset = offset;
    b->raw = b->bits == 1 ? R_PAL1 : b->bits == 4 ? R_PAL4 : b->bits == 8 ? R_PAL8
           : b->bits == 16 ? R_BGR15 : b->bits == 24 ? R_BGR : R_BGRX;
    if (b->compression == 3) {
        const uint32_t m0 = masks[0], m1 = masks[1], m2 = masks[2], m3 = masks[3];
#define M(a, b_, c, e) (m0 == (a) && m1 == (b_) && m2 == (c) && m3 == (e))
        if (b->bits == 32 && M(0xFF0000, 0xFF00, 0xFF, 0))
            b->raw = R_BGRX;
        else if (b->bits == 32 && M(0xFF000000u, 0xFF0000, 0xFF00, 0))
            b->raw = R_XBGR;
        else if (b->bits == 32 && M(0xFF000000u, 0xFF0000, 0xFF00, 0xFF))
            b->raw = R_ABGR;
        else if (b->bits == 32 && M(0xFF, 0xFF00, 0xFF0000, 0xFF000000u))
            b->raw = R_RGBA;
        else if (b->bits == 32 && (M(0xFF0000, 0xFF00, 0xFF, 0xFF000000u) || M(0, 0, 0, 0)))
            b->raw = R_BGRA;
        else if (b->bits == 24 && m0 == 0xFF0000 && m1 == 0xFF00 && m2 == 0xFF)
            b->raw = R_BGR;
        else if (b->bits == 16 && m0 == 0xF800 && m1 == 0x7E0 && m2 == 0x1F)
            b->raw = R_BGR16;
        else if (b->bits == 16 && m0 == 0x7C00 && m1 == 0x3E0 && m2 == 0x1F)
            b->raw = R_BGR15;
        else
            return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "BMP: unsupported bitfields layout");
#undef M
    } else if (b->compression == 1 || b->compression == 2) {
        b->rle = b->compression == 1 ? 8 : 4;
    } else if (b->compression != 0) {
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "BMP: unsupported compression (%u)",
                         b->compression);
    }
    for (int i = 0; i < 256; i++)  /* Pillow's default palette: a grey ramp */
        b->pal[i][0] = b->pal[i][1] = b->pal[i][2] = (uint8_t)i;
    if (b->bits <= 8) {
        if (colors > 65536)
            return deit_fail(err, errlen, DEIT_EINVAL, "BMP: unsupported palette size (%llu)",
                             (unsigned long long)colors);
        size_t have = pos < len ? len - pos : 0;
        size_t plen = (size_t)colors * padding < have ? (size_t)colors * padding : have;
        const uint8_t *p = d + (pos < len ? pos : len);
        /* A palette that is exactly black/white (2 colours) or the identity ramp makes Pillow
         * open the file as mode 1 / L and unpack the data with that mode's rawmode. */
        int grey = 1;
        for (uint64_t i = 0; i < colors && grey; i++) {
            uint8_t v = colors == 2 ? (i ? 255 : 0) : (uint8_t)i;
            size_t at = (size_t)i * padding;
            grey = at + 3 <= plen && p[at] == v && p[at + 1] == v && p[at + 2] == v;
        }
        /* Past 256 colours only a palette of repeated grey ramps opens (Pillow compares entry i
         * with o8(i), i mod 256, and then drops the palette); another is too large for Pillow's
         * 256-entry palette. */
        if (!grey && colors > 256)
            return deit_fail(err, errlen, DEIT_EINVAL, "BMP: invalid palette size (%llu colours)",
                             (unsigned long long)colors);
        if (grey && colors == 2)
            b->raw = R_BIT1;
        else if (grey)
            b->raw = R_GREY8;
        /* Pillow unpacks a palette whose pixel depth is not the mode's own (a b/w palette on 8-bit
         * pixels read as 1-bit, a ramp on 4-bit pixels read as bytes, or such a palette with
         * RLE, unpacked as P) in ways that read past a row; such files are refused instead. */
        if ((grey && colors == 2 && b->bits != 1) || (grey && colors != 2 && b->bits != 8) ||
            (grey && colors == 2 && b->rle))
            return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                             "BMP: greyscale palette on %u-bit pixels is not supported", b->bits);
        for (size_t i = 0; i < 256 && i < colors && i * padding + 3 <= plen; i++) {
            b->pal[i][0] = p[i * padding + 2];  /* stored B, G, R */
            b->pal[i][1] = p[i * padding + 1];
            b->pal[i][2] = p[i * padding];
        }
    }
    /* Pillow's tile starts at `offset or fp.tell()`: with a zero data offset the pixels follow
     * what it has read, the header, any masks and (palette images) the palette. */
    if (!offset) {
        uint64_t at = pos + (b->bits <= 8 ? colors * padding : 0);
        b->offset = at < len ? at : len;
    }
    return DEIT_OK;
}

int image_bmp_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen)
{
    bmp_info b;
    int rc = parse(data, len, &b, err, errlen);
    if (rc == DEIT_OK) {
        *width = (int)b.w;
        *height = (int)b.h;
    }
    return rc;
}

int image_bmp_data_offset(const uint8_t *data, size_t len, uint64_t *offset)
{
    bmp_info b;
    char err[8];
    int rc = parse(data, len, &b, err, sizeof err);
    *offset = rc == DEIT_OK ? b.offset : 0;
    return rc;
}

/* BmpRleDecoder, step for step: runs clipped to the row, end of line pads the row with index
 * 0, a delta reads two bytes and then two more (the second pair is the offset), absolute runs
 * are not clipped and are padded to an even *file* position, RLE4's absolute run takes
 * count / 2 bytes (an odd last pixel is lost). Pixels land in one flat sequence of w*h indices;
 * ending before it is full is "not enough image data". */
static int rle_decode(const uint8_t *d, size_t len, const bmp_info *b, uint8_t *idx)
{
    uint64_t w = (uint64_t)b->w, total = w * (uint64_t)b->h, n = 0, x = 0;
    size_t pos = b->offset < len ? (size_t)b->offset : len;
#define PUT(v) do { if (n < total) idx[n] = (uint8_t)(v); n++; } while (0)
    while (n < total) {
        /* pos may stand one past the end: an absolute run's padding to an even file position */
        if (pos > len || len - pos < 2)
            break;
        uint8_t count = d[pos], byte = d[pos + 1];
        pos += 2;
        if (count) {
            uint64_t k = x + count > w ? (x < w ? w - x : 0) : count;
            for (uint64_t i = 0; i < k; i++)
                PUT(b->rle == 4 ? ((i & 1) ? byte & 15 : byte >> 4) : byte);
            x += k;
        } else if (byte == 0) {
            while (n % w)
                PUT(0);
            x = 0;
        } else if (byte == 1) {
            break;
        } else if (byte == 2) {
            if (len - pos < 2)
                break;
            pos += 2;
            if (len - pos < 2)
                return -1;  /* Pillow: unpacking the short second read raises */
            uint64_t right = d[pos], up = d[pos + 1];
            pos += 2;
            for (uint64_t i = 0, z = right + up * w; i < z && n < total; i++)
                PUT(0);
            x = n % w;
        } else {
            size_t want = b->rle == 4 ? byte / 2 : byte;
            size_t got = len - pos < want ? len - pos : want;
            for (size_t i = 0; i < got; i++) {
                if (b->rle == 4) {
                    PUT(d[pos + i] >> 4);
                    PUT(d[pos + i] & 15);
                } else {
                    PUT(d[pos + i]);
                }
            }
            pos += got;
            if (got < want)
                break;
            x += byte;
            if (pos % 2)
                pos++;
        }
    }
#undef PUT
    return n >= total ? 0 : -1;
}

/* Pillow's unpackers: BGR;15 / BGR;16 expand each field as v * 255 / max, truncated; index
 * images go through the palette (a grey ramp past the file's entries); mode 1 is 0/255. */
int image_bmp_decode(const uint8_t *d, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen)
{
    bmp_info b;
    memset(out, 0, sizeof *out);
    int rc = parse(d, len, &b, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (b.w != width || b.h != height)
        return deit_fail(err, errlen, DEIT_EINVAL, "BMP: image header is inconsistent");
    size_t npix = (size_t)width * height;
    uint8_t *px = malloc(npix * 3), *idx = NULL;
    if (!px)
        return deit_fail(err, errlen, DEIT_ENOMEM, "BMP: out of memory");
    size_t stride = (((size_t)width * b.bits + 31) >> 3) & ~(size_t)3;
    if (b.rle) {
        idx = malloc(npix);
        if (!idx || rle_decode(d, len, &b, idx) != 0) {
            free(px);
            free(idx);
            return idx ? deit_fail(err, errlen, DEIT_EINVAL, "BMP: not enough image data")
                       : deit_fail(err, errlen, DEIT_ENOMEM, "BMP: out of memory");
        }
        stride = (size_t)width;
    } else if (b.offset > len || len - b.offset < ((size_t)width * b.bits + 7) / 8 ||
               (len - b.offset - ((size_t)width * b.bits + 7) / 8) / stride < (size_t)height - 1) {
        /* Pillow's raw decoder needs whole strides except after the last row stored */
        free(px);
        return deit_fail(err, errlen, DEIT_EINVAL, "BMP: image file is truncated");
    }
    for (int y = 0; y < height; y++) {
        size_t sy = b.topdown ? (size_t)y : (size_t)(height - 1 - y);
        const uint8_t *row = b.rle ? idx + sy * stride : d + b.offset + sy * stride;
        uint8_t *o = px + (size_t)y * width * 3;
        for (int x = 0; x < width; x++, o += 3) {
            unsigned v;
            const uint8_t *s;
            if (b.rle) {
                /* Pillow unpacks the indices as L (grey palettes) or P */
                v = row[x];
                if (b.raw == R_GREY8 || b.raw == R_BIT1)
                    o[0] = o[1] = o[2] = (uint8_t)v;
                else
                    memcpy(o, b.pal[v], 3);
                continue;
            }
            switch (b.raw) {
            case R_BIT1:
                o[0] = o[1] = o[2] = ((row[x / 8] >> (7 - x % 8)) & 1) ? 255 : 0;
                break;
            case R_GREY8:  /* rawmode L: one byte per pixel whatever the depth */
                o[0] = o[1] = o[2] = row[x];
                break;
            case R_PAL1: case R_PAL4: case R_PAL8:
                v = b.bits == 8 ? row[x] : b.bits == 4 ? (row[x / 2] >> ((x & 1) ? 0 : 4)) & 15
                                                       : (row[x / 8] >> (7 - x % 8)) & 1;
                memcpy(o, b.pal[v], 3);
                break;
            case R_BGR15: case R_BGR16:
                v = image_le16(row + 2 * x);
                if (b.raw == R_BGR15) {
                    o[0] = (uint8_t)(((v >> 10) & 31) * 255 / 31);
                    o[1] = (uint8_t)(((v >> 5) & 31) * 255 / 31);
                } else {
                    o[0] = (uint8_t)(((v >> 11) & 31) * 255 / 31);
                    o[1] = (uint8_t)(((v >> 5) & 63) * 255 / 63);
                }
                o[2] = (uint8_t)((v & 31) * 255 / 31);
                break;
            case R_BGR:
                s = row + 3 * (size_t)x;
                o[0] = s[2], o[1] = s[1], o[2] = s[0];
                break;
            default:  /* 32-bit: alpha or padding dropped */
                s = row + 4 * (size_t)x;
                if (b.raw == R_BGRX || b.raw == R_BGRA)
                    o[0] = s[2], o[1] = s[1], o[2] = s[0];
                else if (b.raw == R_RGBA)
                    o[0] = s[0], o[1] = s[1], o[2] = s[2];
                else  /* XBGR, ABGR */
                    o[0] = s[3], o[1] = s[2], o[2] = s[1];
            }
        }
    }
    free(idx);
    if (channels == 1)  /* P, RGB and RGBA to L: the luma of the RGB; grey stays grey */
        for (size_t i = 0; i < npix; i++)
            px[i] = image_luma(px[3 * i], px[3 * i + 1], px[3 * i + 2]);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->pixels = px;
    return DEIT_OK;
}
