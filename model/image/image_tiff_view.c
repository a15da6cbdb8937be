/* image_tiff_view.c — Pillow's view of a TIFF's first directory (see image_tiff_view.h). */
#include "image_tiff_view.h"

#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "image_bytes.h"
#include "status.h"

int tiff_pillow_view(const uint8_t *d, size_t len, pillow_tags *t)
{
    memset(t, 0, sizeof *t);
    if (len < 8)
        return -1;
    int be = d[0] == 'M', big = image_uint(d + 2, 2, be) == 43;
    t->be = be;
    uint64_t off = big ? (len >= 16 ? image_uint(d + 8, 8, be) : UINT64_MAX) : image_uint(d + 4, 4, be);
    int esz = big ? 20 : 12, csz = big ? 8 : 2;
    if (off > len || len - off < (uint64_t)csz)
        return -1;
    uint64_t n = image_uint(d + off, csz, be);
    const uint8_t *e = d + off + csz;
    for (uint64_t i = 0; i < n && (uint64_t)(e + esz - d) <= len; i++, e += esz) {
        unsigned tag = (unsigned)image_uint(e, 2, be), type = (unsigned)image_uint(e + 2, 2, be);
        uint64_t count = image_uint(e + 4, big ? 8 : 4, be);
        unsigned usz = image_tiff_type_size(type), inl = big ? 8 : 4;
        const uint8_t *val = e + (big ? 12 : 8);
        if (!usz || !count)
            continue;  /* Pillow skips a tag of a type it does not know, and an empty one */
        if (count > inl / usz) {  /* stored elsewhere */
            uint64_t at = image_uint(val, inl, be);
            /* data outside the file, of any tag: Pillow's read of it raises ("Truncated File
             * Read") and ends the directory there; what it needs from the tags after it, it
             * then lacks (the checks in image_tiff.c refuse the file as Pillow does) */
            if (count > len / usz || at > len || len - at < count * usz)
                break;
            val = d + at;
        }
        /* the tags read below are BYTE, SHORT, LONG or LONG8 */
        int vsz = type == 1 || type == 3 || type == 4 || type == 16 ? (int)usz : 0;
        if (!vsz)
            continue;
        uint64_t v = image_uint(val, vsz, be);
        switch (tag) {
        case 256: t->width = v; break;
        case 257: t->height = v; break;
        case 258: t->bps = v; t->bps_count = count; break;
        case 259: t->compression = v; break;
        case 262:
            t->photometric = v;
            t->has_photometric = 1;
            t->photometric_at = (uint64_t)(val - d);
            t->photometric_size = vsz;
            break;
        case 273: t->has_strips = 1; break;
        case 277: t->spp = v; break;
        case 320:
            t->cmap = val;
            t->cmap_count = count;
            t->cmap_size = vsz;
            break;
        case 324: t->has_tiles = 1; break;
        default: break;
        }
    }
    return 0;
}

/* Pillow's palette of a P / PA TIFF (TiffImagePlugin._setup): each ColorMap value // 256 (o8:
 * low byte of that), unpacked as planar RGB;L over Pillow's grey ramp — count / 3 entries, the
 * reds, then the greens, then the blues, whatever the bit depth (libtiff instead drops a map
 * whose count is not 3 << bps and calls the image grey). Without a ColorMap Pillow cannot open
 * the file; more than 256 entries is its "invalid palette size". */
int tiff_palette(const pillow_tags *pt, uint8_t pal[256][3], char *err, size_t errlen)
{
    if (!pt->cmap)
        return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: palette image without a colour map");
    uint64_t n = pt->cmap_count / 3;
    if (n > 256)
        return deit_fail(err, errlen, DEIT_EINVAL, "TIFF: invalid palette size");
    for (int i = 0; i < 256; i++)
        pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
    for (uint64_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            pal[i][c] = (uint8_t)(image_uint(pt->cmap + (c * n + i) * pt->cmap_size, pt->cmap_size,
                                     pt->be) >> 8);
    return DEIT_OK;
}

/* A palette TIFF whose ColorMap libtiff will not take (its count is not 3 << bps): libtiff refuses
 * such a file below 8 bits and calls it grey at 8, while Pillow uses the map as stored. libtiff is
 * given a copy whose Photometric says MinIsBlack (the samples, palette indices, are read the same
 * way); the palette itself comes from tiff_palette. NULL: no copy needed (or no memory for one,
 * and libtiff's own refusal stands). */
static uint8_t *palette_as_grey(const uint8_t *d, size_t len, const pillow_tags *pt)
{
    if (!pt->has_photometric || pt->photometric != PHOTOMETRIC_PALETTE || !pt->cmap ||
        pt->bps == 0 || pt->bps > 16 || pt->cmap_count == (uint64_t)3 << pt->bps)
        return NULL;
    uint8_t *c = malloc(len);
    if (!c)
        return NULL;
    memcpy(c, d, len);
    for (int i = 0; i < pt->photometric_size; i++)
        c[pt->photometric_at + i] = (pt->be ? i == pt->photometric_size - 1 : i == 0);
    return c;
}

/* palette_as_grey of the data as Pillow's directory parse sees it (malloc'd), or NULL. */
uint8_t *tiff_libtiff_copy(const uint8_t *data, size_t len)
{
    pillow_tags pt;
    return tiff_pillow_view(data, len, &pt) == 0 ? palette_as_grey(data, len, &pt) : NULL;
}
