/* image_png_palette.c — a palette PNG rewritten so that stb_image sees Pillow's full palette: the
 * file's PLTE entries, then Pillow's grey ramp (i, i, i) up to 256 entries. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* Why: stb_image 2.27 keeps the palette in an uninitialised local and does not check indices,
 * so a pixel index past the PLTE entries reads stack garbage (different on every run). Pillow
 * starts every palette as the grey ramp (ImagingPaletteNew) and copies the PLTE entries over it;
 * a palette image without any PLTE is all ramp. Handing stb a PLTE of all 256 entries makes
 * every index defined and gives Pillow's colours. Pillow reads PLTE only before the image data,
 * and the last one wins, so that is the one padded (or a ramp inserted before the first IDAT
 * when there is none); stb lets a later full PLTE overwrite every entry of an earlier one. */
int image_png_pad_palette(const uint8_t *d, size_t len, uint8_t **out, size_t *outlen)
{
    size_t pos = 8, plte = 0, idat = 0;
    *out = NULL;
    *outlen = 0;
    if (len < 33 || d[25] != 3)  /* IHDR colour type 3: palette */
        return DEIT_OK;
    while (len - pos >= 12) {
        uint32_t n = image_be32(d + pos);
        if ((uint64_t)n + 12 > len - pos)
            break;
        if (!memcmp(d + pos + 4, "IDAT", 4)) {
            idat = pos;
            break;
        }
        if (!memcmp(d + pos + 4, "PLTE", 4))
            plte = pos;
        pos += (size_t)n + 12;
    }
    if (!idat)
        return DEIT_OK;  /* no image data: stb refuses it as it stands */
    uint32_t n = plte ? image_be32(d + plte) : 0;
    if (plte && (n >= 768 || n % 3))
        return DEIT_OK;  /* already full, or malformed: stb's own checks apply */
    size_t at = plte ? plte : idat, skip = plte ? (size_t)n + 12 : 0;
    uint8_t *p = malloc(len - skip + 780);
    if (!p)
        return DEIT_ENOMEM;
    memcpy(p, d, at);
    uint8_t *c = p + at;
    image_put_be32(c, 768);
    memcpy(c + 4, "PLTE", 4);
    for (int i = 0; i < 256; i++)
        memset(c + 8 + 3 * i, i, 3);
    if (plte)
        memcpy(c + 8, d + plte + 8, n);
    image_put_be32(c + 776, (uint32_t)crc32(0L, c + 4, 772));
    memcpy(c + 780, d + at + skip, len - at - skip);
    *out = p;
    *outlen = len - skip + 780;
    return DEIT_OK;
}
