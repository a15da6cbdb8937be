/* image_tga.c — Targa (TGA) decoding with the semantics of Pillow 9.4's TgaImagePlugin (own code). */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

/* The mode Pillow opens the file in (TgaImagePlugin's image type / depth table); TGA_NONE for
 * a pair the plugin accepts but has no rawmode for, which it opens without pixel data and then
 * cannot load or convert. */
typedef enum { TGA_NONE, TGA_1, TGA_L, TGA_LA, TGA_P, TGA_RGB15, TGA_RGB, TGA_RGBA } tga_mode;

typedef struct {
    int w, h, depth;
    int rle;                   /* image type bit 3 */
    int topdown;               /* descriptor bit 5 */
    int mirrored;              /* descriptor bit 4: Pillow flips the loaded image left-right */
    tga_mode mode;
    size_t stride;             /* bytes per scan line of the stored pixels */
    size_t data;               /* where Pillow's tile starts: after the ID and what it read of
                                * the colormap */
    int grey_palette;          /* an L image Pillow put the colormap on (see put_line) */
    const char *unloadable;    /* why Pillow opens the file but refuses to load it, or NULL */
    uint8_t pal[256][3];       /* RGB; the first-index gap is black, the tail Pillow's grey ramp */
} tga_info;

/* Pillow's grey ramp, the palette of a P image that was given none. */
static void ramp(uint8_t pal[256][3])
{
    for (int i = 0; i < 256; i++)
        pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
}

/* Pillow's BGR;15 unpacking of a little-endian 16-bit entry or pixel: blue in the low five bits,
 * each channel scaled by 255 / 31 rounding down; the top (attribute / alpha) bit is ignored. */
static void bgr15(const uint8_t *p, uint8_t rgb[3])
{
    uint32_t v = image_le16(p);
    rgb[0] = (uint8_t)(((v >> 10) & 31) * 255 / 31);
    rgb[1] = (uint8_t)(((v >> 5) & 31) * 255 / 31);
    rgb[2] = (uint8_t)((v & 31) * 255 / 31);
}

/* Pillow tries every plugin registered before TGA first. A plugin that fails with SyntaxError
 * (or IndexError, TypeError, KeyError, EOFError, struct.error, which ImageFile turns into one)
 * passes the file on; any other failure refuses it, and a success opens it as that format (one
 * the engine does not decode). Four of those plugins accept headers a valid TGA can have.
 *
 * PCX: an image ID of 10 bytes and colormap type 0 (PCX version 0). With the 68 header bytes it
 * reads and a non-empty bounding box (TGA's colormap fields against its origin), the PCX mode
 * test either opens a 1-bit or planar image or fails with OSError: never TGA. */
static int pcx_claims(const uint8_t *d, size_t len)
{
    return d[0] == 10 && d[1] == 0 && len >= 68 && image_le16(d + 8) + 1 > image_le16(d + 4) &&
           image_le16(d + 10) + 1 > image_le16(d + 6);
}

/* IPTC: an image ID of 28 bytes (0x1C, its field marker) and colormap type 1 (a record number).
 * The plugin walks 5-byte field headers until the data ends or a field tagged 8:10: a header
 * that is short or not a field passes the file on, a field length byte over 132 refuses it
 * (OSError). A walk that ends cleanly fails on the missing image tags (KeyError) unless tags
 * 3:60, 3:20 and 3:30 were all there, which the engine counts as IPTC's (it then opens the file
 * or refuses it over the compression tag). */
static int iptc_claims(const uint8_t *d, size_t len)
{
    int seen = 0;
    size_t pos = 0;
    if (d[0] != 0x1C || d[1] != 1)
        return 0;
    for (;;) {
        size_t n = len - pos;
        const uint8_t *s = d + pos;
        if (n == 0)
            return seen == 7;
        if (n < 4 || s[0] != 0x1C || s[1] < 1 || s[1] > 9)
            return 0;  /* not a field, or IndexError */
        size_t size = s[3];
        if (size > 132)
            return 1;
        if (size == 128) {
            size = 0;
            pos += n < 5 ? n : 5;
        } else if (size > 128) {  /* big-endian length in the next size - 128 bytes */
            pos += n < 5 ? n : 5;
            size_t k = size - 128, got = len - pos < k ? len - pos : k;
            size = 0;
            for (size_t i = 0; i < got; i++)
                size = (size << 8 | d[pos + i]) & 0xFFFFFFFFu;
            pos += got;
        } else {
            if (n < 5)
                return 0;  /* struct.error */
            size = (size_t)s[3] << 8 | s[4];
            pos += 5;
        }
        if (s[1] == 8 && s[2] == 10)  /* the image data: the walk ends */
            return seen == 7;
        if (s[1] == 3 && size > 0)
            seen |= s[2] == 60 ? 1 : s[2] == 20 ? 2 : s[2] == 30 ? 4 : 0;
        pos += size < len - pos ? size : len - pos;
    }
}

/* CUR: "\0\0\2\0" (no ID, no colormap, true colour, first colormap index below 256) with a
 * non-zero cursor count (TGA bytes 4-5). Pillow picks an entry from the 16-byte directory
 * (comparing the first two bytes: a directory cut short fails with IndexError or struct.error)
 * and reads a BMP header at its offset: struct.error when the 4-byte header size is past the
 * end; otherwise an unsupported or cut header refuses the file (OSError), and a good one opens
 * it as CUR. */
static int cur_claims(const uint8_t *d, size_t len)
{
    if (d[0] != 0 || d[1] != 0 || d[2] != 2 || d[3] != 0)
        return 0;
    size_t count = image_le16(d + 4), m = 0, m_len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t at = 6 + 16 * i, s_len = at < len ? (len - at < 16 ? len - at : 16) : 0;
        if (m_len == 0) {
            if (s_len == 0)
                return 0;  /* TypeError: no cursors */
            m = at;
            m_len = s_len;
        } else if (s_len < 1) {
            return 0;
        } else if (d[at] > d[m]) {
            if (s_len < 2 || m_len < 2)
                return 0;
            if (d[at + 1] > d[m + 1]) {
                m = at;
                m_len = s_len;
            }
        }
    }
    if (m_len < 16)
        return 0;
    /* BmpImageFile._bitmap seeks only to a non-zero offset: 0 reads where the directory ends */
    uint64_t off = (uint64_t)image_le16(d + m + 12) | (uint64_t)image_le16(d + m + 14) << 16;
    if (off == 0)
        off = 6 + 16 * (uint64_t)count;
    return off + 4 <= len;
}

/* MPEG: the sequence header code "\0\0\1\xB3" (no ID, no colormap, colour-mapped, first
 * colormap index's low byte 0xB3) followed by a non-zero 12-bit width and height (TGA bytes 4-6)
 * opens as an MPEG image with no pixel data, which then refuses to load. */
static int mpeg_claims(const uint8_t *d)
{
    return d[0] == 0 && d[1] == 0 && d[2] == 1 && d[3] == 0xB3 && (d[4] << 4 | d[5] >> 4) != 0 &&
           ((d[5] & 15) << 8 | d[6]) != 0;
}

/* The plugin before TGA that takes d, or NULL. */
static const char *claimed_before_tga(const uint8_t *d, size_t len)
{
    return cur_claims(d, len) ? "CUR" : pcx_claims(d, len) ? "PCX"
                                      : iptc_claims(d, len) ? "IPTC"
                                      : mpeg_claims(d) ? "MPEG" : NULL;
}

/* TgaImageFile._open: the header checks that make a file TGA (anything else is not TGA at
 * all: "unsupported image format"), the mode, and where the pixel data starts. */
static int parse(const uint8_t *d, size_t len, tga_info *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (len < 18)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "unsupported image format");
    int cmtype = d[1], itype = d[2];
    t->w = (int)image_le16(d + 12);
    t->h = (int)image_le16(d + 14);
    t->depth = d[16];
    if (cmtype > 1 || t->w == 0 || t->h == 0 ||
        (t->depth != 1 && t->depth != 8 && t->depth != 16 && t->depth != 24 && t->depth != 32))
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "unsupported image format");
    int base = itype & 7;
    if (itype != base && itype != (base | 8))
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "unsupported image format");
    if (base == 3)
        t->mode = t->depth == 1 ? TGA_1 : t->depth == 8 ? TGA_L : t->depth == 16 ? TGA_LA
                                                                                  : TGA_NONE;
    else if (base == 1)
        t->mode = t->depth == 8 ? TGA_P : TGA_NONE;
    else if (base == 2)
        t->mode = t->depth == 16 ? TGA_RGB15 : t->depth == 24 ? TGA_RGB
                                                              : t->depth == 32 ? TGA_RGBA : TGA_NONE;
    else
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "unsupported image format");
    const char *other = claimed_before_tga(d, len);
    if (other)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                         "a TGA header that Pillow gives to its %s plugin first", other);
    t->rle = (itype & 8) != 0;
    t->topdown = (d[17] & 0x20) != 0;
    t->mirrored = (d[17] & 0x10) != 0;
    t->stride = ((size_t)t->w * t->depth + 7) / 8;

    /* Pillow reads the ID and a colormap of 16-, 24- or 32-bit entries (what of them is there);
     * a colormap of any other entry size is not skipped, so its bytes become pixel data. */
    size_t pos = 18 + (size_t)d[0] < len ? 18 + (size_t)d[0] : len;
    ramp(t->pal);
    unsigned entry = d[7] == 16 ? 2 : d[7] == 24 ? 3 : d[7] == 32 ? 4 : 0;
    if (cmtype == 1 && entry) {
        size_t first = image_le16(d + 3), want = (size_t)image_le16(d + 5) * entry;
        size_t got = len - pos < want ? len - pos : want;
        /* Image.load then puts the palette on the image: only L, LA and P take one; BGRA is no
         * rawmode putpalette knows; more than 256 entries (the first-index gap included) is
         * "invalid palette size". */
        size_t entries = (first * entry + got) / entry;
        if (t->mode != TGA_L && t->mode != TGA_LA && t->mode != TGA_P)
            t->unloadable = "TGA: Pillow cannot put a colormap on this image's mode";
        else if (entry == 4)
            t->unloadable = "TGA: 32-bit colormap entries (Pillow: unrecognized raw mode)";
        else if (entries > 256)
            t->unloadable = "TGA: invalid palette size";
        if (!t->unloadable)
            memset(t->pal, 0, first * 3);
        t->grey_palette = !t->unloadable && t->mode == TGA_L;
        for (size_t i = first; !t->unloadable && i < entries; i++) {
            const uint8_t *e = d + pos + (i - first) * entry;
            if (entry == 2) {
                bgr15(e, t->pal[i]);
            } else {
                t->pal[i][0] = e[2];
                t->pal[i][1] = e[1];
                t->pal[i][2] = e[0];
            }
        }
        pos += got;
    }
    t->data = pos;
    if (t->mode == TGA_NONE)
        t->unloadable = "TGA: an image type and depth Pillow opens but cannot load";
    return DEIT_OK;
}

int image_tga_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen)
{
    tga_info t;
    int rc = parse(data, len, &t, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    *width = t.w;
    *height = t.h;
    return DEIT_OK;
}

/* Where decoded scan lines go: stored line r (in file order) into out, or nowhere (out NULL:
 * the stream is only checked). */
typedef struct {
    const tga_info *t;
    deit_image *out;
    int copied;                /* the image went through Image.copy() (see put_line) */
} tga_sink;

/* One stored scan line to output pixels: Pillow's unpacking for the mode, its palette, then
 * convert('RGB') or convert('L') (ITU-R 601-2 luma; grey and palette values through the
 * palette); bottom-up files fill from the last row, mirrored ones right to left.
 * An L image with a colormap is odd in Pillow: putpalette makes the pixels P underneath while
 * Image.mode stays "L", so convert('RGB') looks the colours up but convert('L') is a plain copy
 * of the indices; a copy() (as ImageOps.exif_transpose returns) takes the underlying mode P,
 * and its convert('L') is then the luma of the colours. */
static void put_line(const tga_sink *s, int r, const uint8_t *line)
{
    const tga_info *t = s->t;
    if (!s->out)
        return;
    int y = t->topdown ? r : t->h - 1 - r, ch = s->out->channels;
    uint8_t *row = s->out->pixels + (size_t)y * t->w * ch;
    for (int x = 0; x < t->w; x++) {
        uint8_t rgb[3];
        const uint8_t *p;
        switch (t->mode) {
        case TGA_1:
            rgb[0] = rgb[1] = rgb[2] = (line[x >> 3] >> (7 - (x & 7)) & 1) ? 255 : 0;
            break;
        case TGA_L:
            if (ch == 1 && t->grey_palette && !s->copied) {
                rgb[0] = rgb[1] = rgb[2] = line[x];
                break;
            }
            /* fall through */
        case TGA_P:
            memcpy(rgb, t->pal[line[x]], 3);
            break;
        case TGA_LA:  /* the alpha byte is dropped */
            memcpy(rgb, t->pal[line[2 * x]], 3);
            break;
        case TGA_RGB15:
            bgr15(line + 2 * (size_t)x, rgb);
            break;
        default:      /* BGR, BGRA: alpha dropped without compositing */
            p = line + (size_t)x * (t->mode == TGA_RGBA ? 4 : 3);
            rgb[0] = p[2];
            rgb[1] = p[1];
            rgb[2] = p[0];
            break;
        }
        uint8_t *o = row + (size_t)(t->mirrored ? t->w - 1 - x : x) * ch;
        if (ch == 3)
            memcpy(o, rgb, 3);
        else
            o[0] = image_luma(rgb[0], rgb[1], rgb[2]);
    }
}

/* Pillow's TgaRleDecode over data[pos, len): a packet header byte, count = low 7 bits + 1
 * pixels of depth / 8 bytes (0 for 1-bit images, which therefore never fill a line and always
 * end truncated). A run must end within its scan line (else "buffer overrun"); a literal may
 * go on over following lines. The image ends with its last line, whatever follows; data that
 * ends first is truncated. line is a buffer of t->stride bytes. */
static int decode_rle(const uint8_t *d, size_t len, const tga_sink *s, uint8_t *line, char *err,
                      size_t errlen)
{
    const tga_info *t = s->t;
    size_t bpp = (size_t)t->depth / 8, pos = t->data, x = 0;
    int r = 0;
    while (r < t->h) {
        if (pos >= len)
            return deit_fail(err, errlen, DEIT_EINVAL, "TGA: image file is truncated");
        uint8_t head = d[pos];
        size_t n = bpp * ((size_t)(head & 0x7F) + 1), extra = 0;
        if (head & 0x80) {
            if (len - pos < 1 + bpp)
                return deit_fail(err, errlen, DEIT_EINVAL, "TGA: image file is truncated");
            if (x + n > t->stride)
                return deit_fail(err, errlen, DEIT_EINVAL,
                                 "TGA: RLE run past the end of a scan line (buffer overrun)");
            if (line)
                for (size_t i = 0; i < n; i += bpp)
                    memcpy(line + x + i, d + pos + 1, bpp);
            pos += 1 + bpp;
        } else {
            if (len - pos < 1 + n)
                return deit_fail(err, errlen, DEIT_EINVAL, "TGA: image file is truncated");
            if (x + n > t->stride) {
                extra = n - (t->stride - x);
                n = t->stride - x;
            }
            if (line)
                memcpy(line + x, d + pos + 1, n);
            pos += 1 + n;
        }
        for (;;) {
            x += n;
            if (x >= t->stride) {
                put_line(s, r++, line);
                x = 0;
                if (r == t->h)
                    return DEIT_OK;
            }
            if (extra == 0)
                break;
            n = extra < t->stride ? extra : t->stride;
            if (line)
                memcpy(line, d + pos, n);
            pos += n;
            extra -= n;
        }
    }
    return DEIT_OK;
}

static int decode(const uint8_t *data, size_t len, int channels, int width, int height,
                  int copied, deit_image *out, char *err, size_t errlen)
{
    tga_info t;
    memset(out, 0, sizeof *out);
    int rc = parse(data, len, &t, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (t.w != width || t.h != height)
        return deit_fail(err, errlen, DEIT_EINVAL, "TGA: image header is inconsistent");
    if (t.unloadable)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "%s", t.unloadable);
    tga_sink check = {&t, NULL, copied};
    /* All the pixel data must be there before anything is allocated: uncompressed, its size;
     * RLE, a first pass over the packets. */
    if (!t.rle && (len - t.data) / t.stride < (size_t)t.h)
        return deit_fail(err, errlen, DEIT_EINVAL, "TGA: image file is truncated");
    if (t.rle && (rc = decode_rle(data, len, &check, NULL, err, errlen)) != DEIT_OK)
        return rc;
    out->pixels = malloc((size_t)t.w * t.h * channels);
    uint8_t *line = t.rle ? malloc(t.stride) : NULL;
    if (!out->pixels || (t.rle && !line)) {
        free(line);
        image_free(out);
        return deit_fail(err, errlen, DEIT_ENOMEM, "TGA: out of memory");
    }
    out->width = t.w;
    out->height = t.h;
    out->channels = channels;
    tga_sink sink = {&t, out, copied};
    if (t.rle) {
        rc = decode_rle(data, len, &sink, line, err, errlen);
    } else {
        for (int r = 0; r < t.h; r++)
            put_line(&sink, r, data + t.data + (size_t)r * t.stride);
    }
    free(line);
    if (rc != DEIT_OK)
        image_free(out);
    return rc;
}

int image_tga_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen)
{
    return decode(data, len, channels, width, height, 0, out, err, errlen);
}

int image_tga_exif_copy(const uint8_t *data, size_t len, deit_image *img, char *err,
                        size_t errlen)
{
    tga_info t;
    deit_image copy;
    char perr[8];
    if (img->channels != 1 || parse(data, len, &t, perr, sizeof perr) != DEIT_OK ||
        !t.grey_palette)
        return DEIT_OK;
    int rc = decode(data, len, 1, img->width, img->height, 1, &copy, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    image_free(img);
    *img = copy;
    return DEIT_OK;
}
