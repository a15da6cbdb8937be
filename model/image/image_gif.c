/* image_gif.c — the first GIF frame as Pillow 9.4's GifImagePlugin and GifDecode.c produce it. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int w, h;                  /* canvas: the logical screen, grown to hold the first frame */
    int x0, y0, fw, fh;        /* the first frame's rectangle */
    int interlace, bits;       /* LZW minimum code size */
    int transparency;          /* graphic control extension's index, -1 if none */
    const uint8_t *pal;        /* the frame's palette (local, else global), NULL: mode L */
    size_t pal_len;            /* bytes present (a palette cut off by the end of file is short) */
    int identity_local;        /* the frame's own table is the identity ramp, so pal is the global one */
    size_t data;               /* offset of the first LZW sub-block */
} gif_frame;

/* Whether Pillow keeps a palette: _is_palette_needed is false for the identity ramp, and such a
 * file opens as mode L (pixel value = index). A length that is not a multiple of 3 makes
 * Pillow's check index past the end (IndexError): refused. */
static int palette_needed(const uint8_t *p, size_t n, int *bad)
{
    *bad = n % 3 != 0;
    for (size_t i = 0; i + 2 < n; i += 3)
        if (p[i] != i / 3 || p[i + 1] != i / 3 || p[i + 2] != i / 3)
            return 1;
    return 0;
}

/* GifImageFile._open and _seek(0): walks blocks to the first image descriptor as Pillow does
 * (bytes other than '!', ',' and ';' skipped; sub-blocks read as length + data). */
static int parse(const uint8_t *d, size_t len, gif_frame *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->transparency = -1;
    if (len < 13)
        return deit_fail(err, errlen, DEIT_EINVAL, "GIF: truncated header");
    f->w = (int)image_le16(d + 6);
    f->h = (int)image_le16(d + 8);
    size_t pos = 13;
    int bad;
    const uint8_t *global = NULL;
    size_t global_len = 0;
    if (d[10] & 0x80) {
        size_t n = (size_t)3 << ((d[10] & 7) + 1);
        global_len = len - pos < n ? len - pos : n;
        if (palette_needed(d + pos, global_len, &bad))
            global = d + pos;
        if (bad)
            return deit_fail(err, errlen, DEIT_EINVAL, "GIF: truncated palette");
        pos += global_len;
    }
    for (;;) {
        if (pos >= len || d[pos] == ';')
            return deit_fail(err, errlen, DEIT_EINVAL, "GIF: no image in the file");
        uint8_t b = d[pos++];
        if (b == '!') {
            if (pos >= len)
                return deit_fail(err, errlen, DEIT_EINVAL, "GIF: no image in the file");
            uint8_t label = d[pos++];
            int first = 1;
            for (;;) {  /* sub-blocks up to a zero length (or the end of the file) */
                if (pos >= len || d[pos] == 0) {
                    if (first && label == 0xF9)  /* Pillow reads block[0] of an empty block */
                        return deit_fail(err, errlen, DEIT_EINVAL, "GIF: bad graphic control extension");
                    pos += pos < len;
                    break;
                }
                size_t n = d[pos++];
                size_t got = len - pos < n ? len - pos : n;
                /* Pillow reads the delay (bytes 1-2) and, when flagged, the index (byte 3) */
                if (first && label == 0xF9 && (got < 3 || ((d[pos] & 1) && got < 4)))
                    return deit_fail(err, errlen, DEIT_EINVAL, "GIF: bad graphic control extension");
                if (first && label == 0xF9 && (d[pos] & 1))
                    f->transparency = d[pos + 3];
                /* NETSCAPE2.0 without its data sub-block: Pillow takes len() of None */
                if (first && label == 0xFF && got >= 11 && memcmp(d + pos, "NETSCAPE2.0", 11) == 0 &&
                    (pos + got >= len || d[pos + got] == 0))
                    return deit_fail(err, errlen, DEIT_EINVAL, "GIF: bad NETSCAPE2.0 extension");
                first = 0;
                pos += got;
            }
        } else if (b == ',') {
            if (len - pos < 9)
                return deit_fail(err, errlen, DEIT_EINVAL, "GIF: truncated image descriptor");
            f->x0 = (int)image_le16(d + pos);
            f->y0 = (int)image_le16(d + pos + 2);
            f->fw = (int)image_le16(d + pos + 4);
            f->fh = (int)image_le16(d + pos + 6);
            uint8_t flags = d[pos + 8];
            pos += 9;
            f->interlace = (flags & 64) != 0;
            f->pal = global;
            f->pal_len = global ? global_len : 0;
            if (flags & 0x80) {
                size_t n = (size_t)3 << ((flags & 7) + 1);
                size_t got = len - pos < n ? len - pos : n;
                /* _seek: frame_palette = palette or self.global_palette: an identity local table
                 * is no palette, so the global one (when it is needed) stands for it */
                if (palette_needed(d + pos, got, &bad)) {
                    f->pal = d + pos;
                    f->pal_len = got;
                } else {
                    f->identity_local = f->pal != NULL;
                }
                if (bad)
                    return deit_fail(err, errlen, DEIT_EINVAL, "GIF: truncated palette");
                pos += got;
            }
            if (pos >= len)
                return deit_fail(err, errlen, DEIT_EINVAL, "GIF: truncated image descriptor");
            f->bits = d[pos++];
            f->data = pos;
            break;
        }
    }
    /* Pillow grows the image to hold a first frame that leaves the logical screen. */
    if (f->x0 + f->fw > f->w)
        f->w = f->x0 + f->fw;
    if (f->y0 + f->fh > f->h)
        f->h = f->y0 + f->fh;
    if (f->w <= 0 || f->h <= 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "GIF: invalid dimensions");
    if (f->fw <= 0 || f->fh <= 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "GIF: empty first frame");
    if (f->bits > 12)
        return deit_fail(err, errlen, DEIT_EINVAL, "GIF: bad LZW code size %d", f->bits);
    return DEIT_OK;
}

int image_gif_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen)
{
    gif_frame f;
    int rc = parse(data, len, &f, err, errlen);
    if (rc == DEIT_OK) {
        *width = f.w;
        *height = f.h;
    }
    return rc;
}

#define GIF_TABLE 4096

/* Pillow's LZW decoder (GifDecode.c), semantics only: every byte after the code-size byte is
 * read as sub-blocks (length, data), past this frame's terminator if the frame needs more, and
 * a block that the file does not hold in full is "image file is truncated"; the first code
 * after a clear must be a literal, a code past the next free entry is an error, the table stops
 * growing at 4096 entries (no error: "deferred clear"), and decoding stops as soon as the last
 * row is written — an end code before that does not stop it. Rows go to the frame rectangle of
 * the canvas, interlaced in the four GIF passes. */
static int lzw(const uint8_t *d, size_t len, const gif_frame *f, uint8_t *canvas, int cw)
{
    uint16_t link[GIF_TABLE];
    uint8_t data[GIF_TABLE], stack[GIF_TABLE];
    int clear = 1 << f->bits, end = clear + 1, next = 0, codesize = 0, codemask = 0;
    int state = 1, lastcode = 0, lastdata = 0;
    int x = 0, y = 0, step = f->interlace ? 8 : 1, pass = f->interlace ? 1 : 0;
    uint32_t bitbuf = 0;
    int bitcount = 0;
    size_t pos = f->data, block = 0;
    memset(link, 0, sizeof link);
    memset(data, 0, sizeof data);
    uint8_t *row = canvas + (size_t)f->y0 * cw + f->x0;
    for (;;) {
        if (state == 1) {
            next = clear + 2;
            codesize = f->bits + 1;
            codemask = (1 << codesize) - 1;
            state = 2;
        }
        while (bitcount < codesize) {
            if (block > 0) {
                bitbuf |= (uint32_t)d[pos++] << bitcount;
                bitcount += 8;
                block--;
            } else {
                if (pos >= len || len - pos < (size_t)d[pos] + 1)
                    return -1;  /* truncated */
                block = d[pos++];
            }
        }
        int c = (int)(bitbuf & (uint32_t)codemask);
        bitbuf >>= codesize;
        bitcount -= codesize;
        if (c == clear) {
            if (state != 2)
                state = 1;
            continue;
        }
        if (c == end)
            continue;  /* Pillow's decoder is fed again and reads on */
        int n = 0;     /* output string, reversed, in stack[GIF_TABLE - n ..] */
        if (state == 2) {
            if (c > clear)
                return -2;
            lastdata = lastcode = c;
            stack[GIF_TABLE - ++n] = (uint8_t)c;
            state = 3;
        } else {
            int thiscode = c;
            if (c > next)
                return -2;
            if (c == next) {
                stack[GIF_TABLE - ++n] = (uint8_t)lastdata;
                c = lastcode;
            }
            while (c >= clear) {
                if (n >= GIF_TABLE || c >= GIF_TABLE)
                    return -2;
                stack[GIF_TABLE - ++n] = data[c];
                c = link[c];
            }
            lastdata = c;
            if (n >= GIF_TABLE)
                return -2;
            stack[GIF_TABLE - ++n] = (uint8_t)c;
            if (next < GIF_TABLE) {
                data[next] = (uint8_t)c;
                link[next] = (uint16_t)lastcode;
                if (next == codemask && codesize < 12) {
                    codesize++;
                    codemask = (1 << codesize) - 1;
                }
                next++;
            }
            lastcode = thiscode;
        }
        for (int i = GIF_TABLE - n; i < GIF_TABLE; i++) {
            row[x] = stack[i];
            if (++x < f->fw)
                continue;
            x = 0;
            y += step;
            while (y >= f->fh) {
                if (pass == 1) {
                    y = 4, pass = 2;
                } else if (pass == 2) {
                    y = 2, step = 4, pass = 3;
                } else if (pass == 3) {
                    y = 1, step = 2, pass = 4;
                } else {
                    return 0;  /* last row written */
                }
            }
            row = canvas + (size_t)(f->y0 + y) * cw + f->x0;
        }
    }
}

/* Mode P (or L without a palette) to RGB / L: the palette colour of each index, Pillow's grey
 * ramp for indices past the palette; the transparent index keeps its colour (convert('RGB')
 * ignores transparency). A canvas larger than the frame is filled with the transparent index
 * (load_prepare), else index 0. */
int image_gif_decode(const uint8_t *d, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen)
{
    gif_frame f;
    memset(out, 0, sizeof *out);
    int rc = parse(d, len, &f, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (f.w != width || f.h != height)
        return deit_fail(err, errlen, DEIT_EINVAL, "GIF: image header is inconsistent");
    size_t npix = (size_t)width * height;
    uint8_t *idx = malloc(npix), *px = malloc(npix * channels);
    if (!idx || !px) {
        free(idx);
        free(px);
        return deit_fail(err, errlen, DEIT_ENOMEM, "GIF: out of memory");
    }
    memset(idx, f.transparency >= 0 ? f.transparency : 0, npix);
    int r = lzw(d, len, &f, idx, width);
    if (r != 0) {
        free(idx);
        free(px);
        return deit_fail(err, errlen, DEIT_EINVAL,
                         r == -1 ? "GIF: image file is truncated" : "GIF: broken LZW data");
    }
    /* An identity local table beside a global one: Pillow opens mode "L" over a "P" image holding the
     * global palette, so convert('RGB') applies that palette, while convert('L') is a copy of the
     * indices (a "P" image, which only ImageOps.exif_transpose's copy would turn into luma: not
     * reproduced, the indices are kept for 1 channel). */
    const uint8_t *pal = channels == 1 && f.identity_local ? NULL : f.pal;
    uint8_t lut[256][3];
    for (int i = 0; i < 256; i++) {
        if (pal && (size_t)i * 3 + 3 <= f.pal_len)
            memcpy(lut[i], pal + 3 * i, 3);
        else
            lut[i][0] = lut[i][1] = lut[i][2] = (uint8_t)i;
    }
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *c = lut[idx[i]];
        if (channels == 3)
            memcpy(px + 3 * i, c, 3);
        else
            px[i] = image_luma(c[0], c[1], c[2]);
    }
    free(idx);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->pixels = px;
    return DEIT_OK;
}
