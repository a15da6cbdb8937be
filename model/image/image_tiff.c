/* image_tiff.c — TIFF decoding with libtiff (first page), unpacked and converted as Pillow does. */
#include "image.h"
#include "image_internal.h"
#include "image_tiff_view.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcms2.h>
#include <tiffio.h>

/* Reading from memory: libtiff sees the request body as a read-only file. */
typedef struct {
    const uint8_t *data;
    size_t len, pos;
    char msg[200];             /* libtiff's first error on this handle */
} mem_file;

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n)
{
    mem_file *m = h;
    size_t left = m->pos < m->len ? m->len - m->pos : 0;
    size_t k = n < 0 ? 0 : (size_t)n < left ? (size_t)n : left;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (tmsize_t)k;
}
static tmsize_t mem_write(thandle_t h, void *buf, tmsize_t n)
{
    (void)h, (void)buf, (void)n;
    return -1;
}
static toff_t mem_seek(thandle_t h, toff_t off, int whence)
{
    mem_file *m = h;
    uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->len : 0;
    if (off > UINT64_MAX - base || base + off > (uint64_t)SIZE_MAX)
        return (toff_t)-1;
    m->pos = (size_t)(base + off);  /* past the end is allowed; reads there return nothing */
    return m->pos;
}
static int mem_close(thandle_t h) { (void)h; return 0; }
static toff_t mem_size(thandle_t h) { return ((mem_file *)h)->len; }
static int mem_map(thandle_t h, void **base, toff_t *size)
{
    (void)h, (void)base, (void)size;
    return 0;
}
static void mem_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

/* Per-handle handlers (libtiff >= 4.5): nothing is printed, the first error is kept. */
static int on_error(TIFF *t, void *ud, const char *mod, const char *fmt, va_list ap)
{
    mem_file *m = ud;
    (void)t, (void)mod;
    if (!m->msg[0])
        vsnprintf(m->msg, sizeof m->msg, fmt, ap);
    return 1;
}
static int on_warning(TIFF *t, void *ud, const char *mod, const char *fmt, va_list ap)
{
    (void)t, (void)ud, (void)mod, (void)fmt, (void)ap;
    return 1;
}

/* The most one buffer of a w x h image's decode may take (libtiff's own, and the tile buffer read_raw
 * sizes from the file's TileWidth x TileLength): a strip, a tile or a JPEG table never needs more
 * than the image, and a tile declared far larger than the image would be inflated into in full. */
static size_t decode_alloc_cap(size_t npix)
{
    return npix * 16 + ((size_t)1 << 20);
}

static TIFF *open_mem(mem_file *m, const uint8_t *data, size_t len, size_t alloc_cap)
{
    memset(m, 0, sizeof *m);
    m->data = data;
    m->len = len;
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, m);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, m);
    if (alloc_cap)
        TIFFOpenOptionsSetMaxSingleMemAlloc(o, (tmsize_t)alloc_cap);
    /* "m": no memory mapping; "h": read only the first directory's header now. */
    TIFF *t = TIFFClientOpenExt("image", "rm", m, mem_read, mem_write, mem_seek, mem_close,
                                mem_size, mem_map, mem_unmap, o);
    TIFFOpenOptionsFree(o);
    return t;
}

static int tiff_fail(const mem_file *m, char *err, size_t errlen, const char *what)
{
    if (m->msg[0])
        return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: %s: %s", what, m->msg);
    return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: %s", what);
}

int image_tiff_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                    size_t errlen)
{
    mem_file m;
    uint32_t w = 0, h = 0;
    uint8_t *copy = tiff_libtiff_copy(data, len);
    TIFF *t = open_mem(&m, copy ? copy : data, len, (size_t)64 << 20);
    if (!t) {
        free(copy);
        return tiff_fail(&m, err, errlen, "cannot read the header");
    }
    int ok = TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) && TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    TIFFClose(t);
    free(copy);
    if (!ok || w == 0 || h == 0 || w > 0x7FFFFFFF || h > 0x7FFFFFFF)
        return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: invalid dimensions");
    *width = (int)w;
    *height = (int)h;
    return DEIT_OK;
}


/* How Pillow's TiffImagePlugin (OPEN_INFO) opens a layout, and so how we convert it. */
typedef enum {
    K_NONE, K_BILEVEL, K_GREY, K_I16, K_I16S, K_I12, K_I32, K_F32, K_LA, K_RGB, K_RGBA, K_RGBa,
    K_P, K_PA, K_CMYK, K_YCBCR, K_LAB
} tiff_kind;

/* Pillow's OPEN_INFO keys (byte order, photometric, sample format, fill order, bits per sample,
 * extra samples): a layout missing there is refused ("unknown pixel mode"), so here too. */
static tiff_kind classify(int be, int photo, int sf, int fill, int bps, int spp, int nextra,
                          const uint16_t *extra)
{
    int e0 = nextra > 0 ? extra[0] : -1;
    int rest_unspecified = 1;  /* extras after the first are all 0 (unspecified) */
    for (int i = 1; i < nextra; i++)
        rest_unspecified &= extra[i] == 0;
    if (fill != 1 && fill != 2)
        return K_NONE;
    if ((photo == 0 || photo == 1) && spp == 1 && nextra == 0) {
        if (sf == 1 && (bps == 1 || bps == 2 || bps == 4 || bps == 8))
            return bps == 1 ? K_BILEVEL : K_GREY;
        if (sf == 1 && bps == 12 && !be && photo == 1 && fill == 1)
            return K_I12;
        if (sf == 1 && bps == 16 && ((!be && (photo == 1 || fill == 1)) || (be && photo == 1 && fill == 1)))
            return K_I16;
        if (sf == 2 && bps == 16 && photo == 1 && fill == 1)
            return K_I16S;
        if (sf == 3 && bps == 32 && fill == 1)
            return K_F32;
        if (bps == 32 && photo == 1 && fill == 1 && (sf == 2 || (sf == 1 && !be)))
            return K_I32;
        return K_NONE;
    }
    if (sf != 1)
        return K_NONE;
    if (photo == 1 && spp == 2 && bps == 8 && nextra == 1 && e0 == 2 && fill == 1)
        return K_LA;
    if (photo == 2 && bps == 8 && spp == 3 && nextra == 0)
        return K_RGB;
    if (photo == 2 && fill == 1 && bps == 8 && spp >= 4 && spp <= 6 && nextra == spp - 3 &&
        rest_unspecified)
        return e0 == 1 ? K_RGBa : e0 == 0 ? K_RGB : e0 == 2 || (e0 == 999 && spp == 4) ? K_RGBA
                                                                                       : K_NONE;
    if (photo == 2 && fill == 1 && bps == 8 && spp == 4 && nextra == 0)
        return K_RGBA;
    if (photo == 2 && fill == 1 && bps == 16 && spp == 3 && nextra == 0)
        return K_RGB;
    if (photo == 2 && fill == 1 && bps == 16 && spp == 4 && nextra <= 1)
        return nextra == 0 || e0 == 2 ? K_RGBA : e0 == 1 ? K_RGBa : e0 == 0 ? K_RGB : K_NONE;
    if (photo == 3 && spp == 1 && nextra == 0 && (bps == 1 || bps == 2 || bps == 4 || bps == 8))
        return K_P;
    if (photo == 3 && spp == 2 && bps == 8 && nextra == 1 && e0 == 2 && fill == 1)
        return K_PA;
    if (photo == 5 && fill == 1 && bps == 8 && spp >= 4 && spp <= 6 && nextra == spp - 4 &&
        (nextra == 0 || (e0 == 0 && rest_unspecified)))
        return K_CMYK;
    if (photo == 5 && fill == 1 && bps == 16 && spp == 4 && nextra == 0 && !be)
        return K_CMYK;
    if (photo == 6 && fill == 1 && bps == 8 && spp == 3 && nextra == 0)
        return K_YCBCR;
    if (photo == 8 && fill == 1 && bps == 8 && spp == 3 && nextra == 0)
        return K_LAB;
    return K_NONE;
}

/* The raw samples of the first page, every strip or tile decoded by libtiff (which undoes the
 * compression, predictor, fill order and byte order), laid out as `planes` planes of h rows of
 * `rowbytes` bytes. */
typedef struct {
    uint8_t *buf;
    size_t rowbytes;
    int planes;
} raw_samples;

static int read_raw(TIFF *t, const mem_file *m, int w, int h, int bps, int spp, int separate,
                    raw_samples *r, char *err, size_t errlen)
{
    int per_row = separate ? 1 : spp;
    r->planes = separate ? spp : 1;
    r->rowbytes = ((size_t)w * per_row * bps + 7) / 8;
    size_t plane = r->rowbytes * (size_t)h;
    r->buf = calloc((size_t)r->planes, plane);
    if (!r->buf)
        return deit_fail(err, errlen, DEIT_ENOMEM, "TIFF: out of memory");
    if (TIFFIsTiled(t)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
        tmsize_t tsize = TIFFTileSize(t), trow = TIFFTileRowSize(t);
        if (tw == 0 || th == 0 || tsize <= 0 || trow <= 0 || (uint64_t)trow * th > (uint64_t)tsize ||
            (uint64_t)tw * per_row * bps % 8 != 0)
            return tiff_fail(m, err, errlen, "bad tile layout");
        if ((uint64_t)tsize > decode_alloc_cap((size_t)w * h))
            return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: a %ux%u tile (%lld bytes) is far larger than the %dx%d image",
                             tw, th, (long long)tsize, w, h);
        uint8_t *tile = malloc((size_t)tsize);
        if (!tile)
            return deit_fail(err, errlen, DEIT_ENOMEM, "TIFF: out of memory");
        for (int p = 0; p < r->planes; p++)
            for (uint32_t y = 0; y < (uint32_t)h; y += th)
                for (uint32_t x = 0; x < (uint32_t)w; x += tw) {
                    uint32_t idx = TIFFComputeTile(t, x, y, 0, (uint16_t)p);
                    if (TIFFReadEncodedTile(t, idx, tile, tsize) < 0) {
                        free(tile);
                        return tiff_fail(m, err, errlen, "cannot decode a tile");
                    }
                    size_t xoff = (size_t)x * per_row * bps / 8;
                    size_t n = r->rowbytes - xoff < (size_t)trow ? r->rowbytes - xoff : (size_t)trow;
                    for (uint32_t ty = 0; ty < th && y + ty < (uint32_t)h; ty++)
                        memcpy(r->buf + p * plane + (y + ty) * r->rowbytes + xoff,
                               tile + (size_t)ty * trow, n);
                }
        free(tile);
        return DEIT_OK;
    }
    uint32_t rps = 0;
    if (!TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &rps) || rps == 0)
        rps = (uint32_t)h;
    if (rps > (uint32_t)h)
        rps = (uint32_t)h;
    uint32_t per_plane = ((uint32_t)h + rps - 1) / rps;
    if ((uint64_t)per_plane * r->planes > TIFFNumberOfStrips(t))
        return tiff_fail(m, err, errlen, "missing strips");
    for (int p = 0; p < r->planes; p++)
        for (uint32_t s = 0; s < per_plane; s++) {
            uint32_t y0 = s * rps, n = (uint32_t)h - y0 < rps ? (uint32_t)h - y0 : rps;
            tmsize_t want = (tmsize_t)(n * r->rowbytes);
            tmsize_t got = TIFFReadEncodedStrip(t, p * per_plane + s,
                                                r->buf + p * plane + y0 * r->rowbytes, want);
            if (got != want)  /* short or failed: Pillow refuses it too (decoder error) */
                return tiff_fail(m, err, errlen, "cannot decode a strip (truncated or corrupt)");
        }
    return DEIT_OK;
}

/* Sample c of pixel (x, y) as an unsigned integer of `bps` bits (32-bit samples raw bits). */
static uint32_t sample(const raw_samples *r, int h, int spp, int bps, int x, int y, int c)
{
    const uint8_t *row;
    size_t i;
    if (r->planes > 1) {
        row = r->buf + ((size_t)c * h + y) * r->rowbytes;
        i = (size_t)x;
    } else {
        row = r->buf + (size_t)y * r->rowbytes;
        i = (size_t)x * spp + c;
    }
    switch (bps) {
    case 8: return row[i];
    case 16: { uint16_t v; memcpy(&v, row + 2 * i, 2); return v; }
    case 32: { uint32_t v; memcpy(&v, row + 4 * i, 4); return v; }
    case 12: {  /* packed big-endian 12-bit, as libtiff leaves it */
        size_t bit = i * 12;
        unsigned v = (unsigned)row[bit / 8] << 8 | row[bit / 8 + 1];
        return (bit % 8) ? v & 0xFFF : v >> 4;
    }
    default: {  /* 1, 2, 4: most significant bits first */
        size_t bit = i * bps;
        return (row[bit / 8] >> (8 - bps - bit % 8)) & ((1u << bps) - 1);
    }
    }
}

static uint8_t clip8(int64_t v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* Pillow's unpackers and convert('RGB') per kind: grey of 2/4 bits scaled by 0x55/0x11 and
 * inverted for MinIsWhite (L;2I, L;4I, L;I); I;16 and I clipped to 0..255 (I16_RGB, i2rgb); F
 * truncated toward zero and clipped (f2l; NaN -> 0); 16-bit colour keeps the high byte
 * (RGB;16N); premultiplied alpha undone as c * 255 / a, truncated and clipped (RGBa unpacker);
 * palettes as tiff_palette makes them; CMYK as Pillow's cmyk2rgb; alpha dropped. */
static void convert_pixels(const raw_samples *r, tiff_kind k, int w, int h, int spp, int bps,
                           int photo, const uint8_t pal[256][3], uint8_t *rgb)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++, rgb += 3) {
            uint32_t s0 = sample(r, h, spp, bps, x, y, 0);
            int v;
            switch (k) {
            case K_BILEVEL:
                v = (s0 ^ (photo == 0)) ? 255 : 0;
                rgb[0] = rgb[1] = rgb[2] = (uint8_t)v;
                break;
            case K_GREY:
                v = (int)s0 * (bps == 2 ? 0x55 : bps == 4 ? 0x11 : 1);
                rgb[0] = rgb[1] = rgb[2] = (uint8_t)(photo == 0 ? 255 - v : v);
                break;
            case K_I16: case K_I12:
                rgb[0] = rgb[1] = rgb[2] = clip8(s0);
                break;
            case K_I16S:
                rgb[0] = rgb[1] = rgb[2] = clip8((int16_t)s0);
                break;
            case K_I32:
                rgb[0] = rgb[1] = rgb[2] = clip8((int32_t)s0);
                break;
            case K_F32: {
                float f;
                memcpy(&f, &s0, 4);
                rgb[0] = rgb[1] = rgb[2] = isnan(f) ? 0 : f <= 0 ? 0 : f >= 255 ? 255 : (uint8_t)f;
                break;
            }
            case K_LA:
                rgb[0] = rgb[1] = rgb[2] = (uint8_t)s0;
                break;
            case K_RGB: case K_RGBA: case K_RGBa: case K_CMYK: {
                uint32_t c[4];
                int n = k == K_CMYK ? 4 : 3;
                for (int i = 0; i < n; i++)
                    c[i] = bps == 16 ? sample(r, h, spp, bps, x, y, i) >> 8
                                     : sample(r, h, spp, bps, x, y, i);
                if (k == K_RGBa) {
                    uint32_t a = sample(r, h, spp, bps, x, y, 3);
                    if (bps == 16)
                        a >>= 8;
                    for (int i = 0; i < 3; i++)
                        c[i] = a == 0 ? 0 : c[i] * 255 / a > 255 ? 255 : c[i] * 255 / a;
                }
                if (k == K_CMYK) {
                    int nk = 255 - (int)c[3];
                    for (int i = 0; i < 3; i++) {
                        int t = (int)c[i] * nk + 128;
                        c[i] = clip8(nk - (((t >> 8) + t) >> 8));
                    }
                }
                rgb[0] = (uint8_t)c[0];
                rgb[1] = (uint8_t)c[1];
                rgb[2] = (uint8_t)c[2];
                break;
            }
            case K_P: case K_PA:
                memcpy(rgb, pal[s0 & 255], 3);  /* s0 < 256: at most 8 bits */
                break;
            default:
                rgb[0] = rgb[1] = rgb[2] = 0;
            }
        }
}

/* CIELab: Pillow unpacks L and the signed a, b into its LAB mode (a, b offset by 128) and
 * convert('RGB') goes through LittleCMS: its built-in Lab (D50) to sRGB profiles, perceptual
 * intent, no flags, 4-byte pixels both sides (Image.convert -> ImageCms.buildTransform). The
 * same transform is built here. Pillow has no LAB -> L conversion, so a 1-channel model refuses
 * such a file. */
static int lab_to_rgb(const raw_samples *r, int w, int h, uint8_t *rgb, char *err, size_t errlen)
{
    cmsHPROFILE lab = cmsCreateLab2Profile(NULL), srgb = cmsCreate_sRGBProfile();
    cmsHTRANSFORM t = NULL;
    uint8_t *in = malloc((size_t)w * 4), *out = malloc((size_t)w * 4);
    if (lab && srgb)
        t = cmsCreateTransform(lab, COLORSPACE_SH(PT_LabV2) | CHANNELS_SH(3) | BYTES_SH(1) |
                               EXTRA_SH(1), srgb, TYPE_RGBA_8, INTENT_PERCEPTUAL, 0);
    if (lab)
        cmsCloseProfile(lab);
    if (srgb)
        cmsCloseProfile(srgb);
    if (!t || !in || !out) {
        if (t)
            cmsDeleteTransform(t);
        free(in);
        free(out);
        return deit_fail(err, errlen, DEIT_ENOMEM, "TIFF: cannot set up the Lab conversion");
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *s = r->buf + (size_t)y * r->rowbytes;
        for (int x = 0; x < w; x++) {
            in[4 * x] = s[3 * x];
            in[4 * x + 1] = s[3 * x + 1] ^ 0x80;
            in[4 * x + 2] = s[3 * x + 2] ^ 0x80;
            in[4 * x + 3] = 0;
        }
        cmsDoTransform(t, in, out, (cmsUInt32Number)w);
        for (int x = 0; x < w; x++)
            memcpy(rgb + ((size_t)y * w + x) * 3, out + 4 * x, 3);
    }
    cmsDeleteTransform(t);
    free(in);
    free(out);
    return DEIT_OK;
}

/* Pillow reads YCbCr that is not new-style JPEG (and old-style JPEG, which it treats as YCbCr)
 * through libtiff's RGBA interface, which does the colour conversion and chroma upsampling. */
static int read_rgba(TIFF *t, const mem_file *m, int w, int h, uint8_t *rgb, char *err,
                     size_t errlen)
{
    uint32_t *px = malloc((size_t)w * h * 4);
    if (!px)
        return deit_fail(err, errlen, DEIT_ENOMEM, "TIFF: out of memory");
    if (!TIFFReadRGBAImageOriented(t, (uint32_t)w, (uint32_t)h, px, ORIENTATION_TOPLEFT, 0)) {
        free(px);
        return tiff_fail(m, err, errlen, "cannot decode the image");
    }
    for (size_t i = 0; i < (size_t)w * h; i++) {
        rgb[3 * i] = (uint8_t)TIFFGetR(px[i]);
        rgb[3 * i + 1] = (uint8_t)TIFFGetG(px[i]);
        rgb[3 * i + 2] = (uint8_t)TIFFGetB(px[i]);
    }
    free(px);
    return DEIT_OK;
}

/* image_tiff_decode, libtiff reading the file from tiff_data (data or tiff_libtiff_copy's copy). */
static int tiff_decode(const uint8_t *data, const uint8_t *tiff_data, size_t len, int channels,
                       int width, int height, deit_image *out, char *err, size_t errlen)
{
    mem_file m;
    uint16_t photo = 0, sf = 1, fill = 1, bps = 1, spp = 1, planar = 1, comp = 1, nextra = 0;
    uint16_t *extra = NULL;
    uint8_t pal[256][3] = {{0}};  /* read only for palette images */
    uint32_t w = 0, h = 0;
    uint16_t orientation = 1;
    raw_samples raw = {0};
    int rc = DEIT_OK;
    size_t npix = (size_t)width * height;

    memset(out, 0, sizeof *out);
    TIFF *t = open_mem(&m, tiff_data, len, decode_alloc_cap(npix));
    if (!t)
        return tiff_fail(&m, err, errlen, "cannot read the header");
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    if ((int)w != width || (int)h != height) {
        TIFFClose(t);
        return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: image header is inconsistent");
    }
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);  /* missing: 0, as Pillow assumes */
    TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &sf);
    TIFFGetFieldDefaulted(t, TIFFTAG_FILLORDER, &fill);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetField(t, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
    TIFFGetField(t, TIFFTAG_ORIENTATION, &orientation);
    pillow_tags pt;
    int viewed = tiff_pillow_view(data, len, &pt) == 0;
    if (viewed) {
        uint64_t pspp = pt.spp ? pt.spp : 1, pbps = pt.bps ? pt.bps : 1;
        const char *why = NULL;
        if (pt.width != w || pt.height != h)
            why = "the image size in the directory is inconsistent";
        else if (pbps != bps)
            why = "the bit depth in the directory is inconsistent";
        else if (pt.bps_count > 1 && pt.bps_count < pspp)
            why = "unknown data organization";
        else if ((pt.compression == 0 || pt.compression == 1) && !pt.has_strips && !pt.has_tiles)
            why = "unknown data organization";
        if (why) {
            TIFFClose(t);
            return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: %s", why);
        }
    }
    /* libtiff rewrites a palette image's Photometric to MinIsBlack when the ColorMap is missing
     * or not 3 << bps long; Pillow goes by the tag as stored. */
    if (viewed && pt.has_photometric && pt.photometric == PHOTOMETRIC_PALETTE)
        photo = PHOTOMETRIC_PALETTE;
    if (comp == COMPRESSION_OJPEG)
        photo = PHOTOMETRIC_YCBCR;  /* Pillow: old-style JPEG is "most certainly" YCbCr */
    if (spp > 6) {  /* Pillow's MAX_SAMPLESPERPIXEL */
        TIFFClose(t);
        return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: invalid value for samples per pixel");
    }
    tiff_kind k = classify(TIFFIsBigEndian(t), photo, sf, fill, bps, spp, nextra, extra);
    if (k == K_NONE || (k == K_LAB && (channels == 1 || planar != PLANARCONFIG_CONTIG))) {
        TIFFClose(t);
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                         k == K_LAB && channels == 1 ? "TIFF: conversion from LAB to L not supported"
                         : k == K_LAB ? "TIFF: CIELab in separate planes (PlanarConfiguration 2) not supported"
                                    : "TIFF: unknown pixel mode (photometric %u, %u x %u-bit "
                                      "samples, sample format %u)",
                         photo, spp, bps, sf);
    }
    if ((k == K_P || k == K_PA) && (rc = tiff_palette(&pt, pal, err, errlen)) != DEIT_OK) {
        TIFFClose(t);
        return rc;
    }
    uint8_t *rgb = malloc(npix * 3);
    if (!rgb) {
        TIFFClose(t);
        return deit_fail(err, errlen, DEIT_ENOMEM, "TIFF: out of memory");
    }
    if (k == K_YCBCR && comp == COMPRESSION_JPEG && planar == PLANARCONFIG_CONTIG) {
        /* new-style JPEG: libjpeg converts to RGB, as Pillow asks (JPEGCOLORMODE_RGB) */
        TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        rc = read_raw(t, &m, width, height, 8, 3, 0, &raw, err, errlen);
        if (rc == DEIT_OK)
            convert_pixels(&raw, K_RGB, width, height, 3, 8, 2, pal, rgb);
    } else if (k == K_YCBCR) {
        rc = read_rgba(t, &m, width, height, rgb, err, errlen);
    } else if (k == K_LAB) {
        rc = read_raw(t, &m, width, height, 8, 3, 0, &raw, err, errlen);
        if (rc == DEIT_OK)
            rc = lab_to_rgb(&raw, width, height, rgb, err, errlen);
    } else {
        rc = read_raw(t, &m, width, height, bps, spp, planar == PLANARCONFIG_SEPARATE, &raw, err,
                      errlen);
        if (rc == DEIT_OK)
            convert_pixels(&raw, k, width, height, spp, bps, photo, pal, rgb);
    }
    free(raw.buf);
    TIFFClose(t);
    if (rc != DEIT_OK) {
        free(rgb);
        return rc;
    }
    if (channels == 1)  /* Pillow's convert('L') of these modes is the luma of their RGB */
        for (size_t i = 0; i < npix; i++)
            rgb[i] = image_luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->pixels = rgb;
    /* Pillow applies the Orientation tag when it loads a TIFF (load_end), EXIF or not. */
    rc = image_orient(out, orientation, err, errlen);
    if (rc != DEIT_OK)
        image_free(out);
    return rc;
}

int image_tiff_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                      deit_image *out, char *err, size_t errlen)
{
    uint8_t *copy = tiff_libtiff_copy(data, len);
    int rc = tiff_decode(data, copy ? copy : data, len, channels, width, height, out, err, errlen);
    free(copy);
    return rc;
}
