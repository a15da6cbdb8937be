/* image_png.c — the checks Pillow's PngImagePlugin makes that stb_image does not (chunk CRCs,
 * chunk sizes, APNG sequence numbers), so a PNG Pillow refuses is refused here too. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <string.h>

#include <zlib.h>

/* The chunk handlers that raise in Pillow 9.4 for a short or odd chunk, before or after IDAT;
 * ctype: the IHDR's colour type (-1 if none). */
static const char *chunk_problem(const uint8_t *type, const uint8_t *s, uint32_t n, int ctype)
{
    /* chunk_tRNS reads a grey (mode 1/L/I) or RGB colour key whole, and ignores one on an image
     * with alpha or a palette of any length; stb is never shown tRNS (image_png_restream.c) */
    if (!memcmp(type, "tRNS", 4) && ((ctype == 0 && n < 2) || (ctype == 2 && n < 6)))
        return "tRNS chunk too short for the image's colour key";
    if (!memcmp(type, "IHDR", 4))
        return n < 13 ? "truncated IHDR chunk" : s[11] ? "unknown filter category" : NULL;
    if (!memcmp(type, "pHYs", 4) && n < 9)
        return "truncated pHYs chunk";
    if (!memcmp(type, "sRGB", 4) && n < 1)
        return "truncated sRGB chunk";
    if (!memcmp(type, "gAMA", 4) && n < 4)
        return "truncated gAMA chunk";
    if (!memcmp(type, "acTL", 4) && n < 8)
        return "APNG contains truncated acTL chunk";
    if (!memcmp(type, "fcTL", 4) && n < 26)
        return "APNG contains truncated fcTL chunk";
    if (!memcmp(type, "fdAT", 4) && n < 4)
        return "APNG contains truncated fdAT chunk";
    if (!memcmp(type, "iCCP", 4)) {  /* Pillow reads s[s.find(b"\0")]: the last byte if none */
        const uint8_t *z = memchr(s, 0, n);
        if (!z && n && s[n - 1])
            return "unknown compression method in iCCP chunk";
        if (!n)
            return "truncated iCCP chunk";
    }
    if (!memcmp(type, "zTXt", 4)) {
        const uint8_t *z = memchr(s, 0, n);
        if (z && z + 1 < s + n && z[1])
            return "unknown compression method in zTXt chunk";
    }
    return NULL;
}

/* Walks the chunks as PngImageFile._open (every chunk before the first IDAT read whole, its CRC
 * checked) and load_end (after the image data, up to IEND or the next APNG frame) do; Pillow's
 * APNG frame sequence (fcTL numbered from 0, each fcTL/fdAT one more than the last) is checked
 * the same way. Anything stb_image refuses is left to stb_image. */
int image_png_check(const uint8_t *d, size_t len, char *err, size_t errlen)
{
    size_t pos = 8;
    int64_t seq = -1;          /* Pillow's _seq_num; -1: None */
    int animated = 0, seen_idat = 0;
    uint64_t text_memory = 0;  /* PngStream.text_memory */
    int ctype = len >= 26 && !memcmp(d + 12, "IHDR", 4) ? d[25] : -1;
    while (len - pos >= 8) {
        uint32_t n = image_be32(d + pos);
        const uint8_t *type = d + pos + 4, *s = d + pos + 8;
        if (!image_png_chunk_type_ok(type)) {
            if (!seen_idat)
                return deit_fail(err, errlen, DEIT_EINVAL, "PNG: broken PNG file (chunk type)");
            return DEIT_OK;  /* load_end stops quietly */
        }
        if (!memcmp(type, "IDAT", 4) && !seen_idat) {
            seen_idat = 1;
        } else if (!memcmp(type, "IDAT", 4)) {
            ;  /* read by the decoder */
        } else if (!memcmp(type, "IEND", 4) && seen_idat) {
            return DEIT_OK;
        } else if (seen_idat && !memcmp(type, "fcTL", 4) && animated) {
            return DEIT_OK;  /* the next frame: frame 0 is done */
        } else {
            if ((uint64_t)n + 12 > len - pos && !seen_idat)
                return deit_fail(err, errlen, DEIT_EINVAL, "PNG: image file is truncated");
            /* load_end reads a chunk after the image data whole (its CRC it only skips), and
             * a short read raises */
            if ((uint64_t)n + 8 > len - pos)
                return deit_fail(err, errlen, DEIT_EINVAL,
                                 "PNG: image file is truncated (in a %.4s chunk after the image data)",
                                 (const char *)type);
            const char *why = chunk_problem(type, s, n, ctype);
            if (!why)
                why = image_png_text_problem(type, s, n, &text_memory);
            if (why)
                return deit_fail(err, errlen, DEIT_EINVAL, "PNG: %s", why);
            if (!seen_idat && (uint32_t)crc32(crc32(0L, type, 4), s, n) != image_be32(s + n))
                return deit_fail(err, errlen, DEIT_EINVAL,
                                 "PNG: broken PNG file (bad header checksum in %.4s)", (const char *)type);
            if (!memcmp(type, "acTL", 4)) {
                uint32_t frames = image_be32(s);
                animated = frames != 0 && frames <= 0x80000000u;
            }
            if (!memcmp(type, "fcTL", 4) || !memcmp(type, "fdAT", 4)) {
                int64_t v = image_be32(s);
                if ((seq < 0 && (!memcmp(type, "fdAT", 4) || v != 0)) || (seq >= 0 && v != seq + 1))
                    return deit_fail(err, errlen, DEIT_EINVAL, "PNG: APNG contains frame sequence errors");
                seq = v;
            }
        }
        if ((uint64_t)n + 12 > len - pos)
            return DEIT_OK;
        pos += (size_t)n + 12;
    }
    return DEIT_OK;
}
