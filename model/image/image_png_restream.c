/* image_png_restream.c — a PNG rebuilt around image data already inflated: the chunks before the
 * first IDAT as they were, one IDAT holding that data in stored (uncompressed) deflate blocks,
 * IEND. What stb_image decodes, so that it never judges a compressed stream itself. */
#include "image.h"
#include "image_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define STORED_MAX 65535u  /* the most one stored deflate block holds */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes one stored block per 64 KiB of raw into p; returns the end. */
static uint8_t *stored_blocks(uint8_t *p, const uint8_t *raw, size_t n)
{
    do {
        size_t k = n < STORED_MAX ? n : STORED_MAX;
        p[0] = n == k;  /* BFINAL on the last block, BTYPE 00: stored */
        p[1] = (uint8_t)k;
        p[2] = (uint8_t)(k >> 8);
        p[3] = (uint8_t)~k;
        p[4] = (uint8_t)(~k >> 8);
        memcpy(p + 5, raw, k);
        p += 5 + k;
        raw += k;
        n -= k;
    } while (n > 0);
    return p;
}

int image_png_restream(const uint8_t *d, size_t first_idat, const uint8_t *raw, size_t n,
                       uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    size_t blocks = n ? (n - 1) / STORED_MAX + 1 : 1;
    /* zlib header + blocks + adler32 must fit one chunk's 31-bit length */
    if (n > (size_t)INT_MAX - 6 - 5 * blocks)
        return DEIT_ETOOBIG;
    size_t zlen = 2 + 5 * blocks + n + 4;
    size_t total = first_idat + 12 + zlen + 12;
    uint8_t *p = malloc(total);
    if (!p)
        return DEIT_ENOMEM;
    memcpy(p, d, first_idat);
    uint8_t *c = p + first_idat;
    put_be32(c, (uint32_t)zlen);
    memcpy(c + 4, "IDAT", 4);
    c[8] = 0x78;  /* deflate, 32 KiB window; 0x7801 is a multiple of 31, no preset dictionary */
    c[9] = 0x01;
    uint8_t *e = stored_blocks(c + 10, raw, n);
    put_be32(e, (uint32_t)adler32(adler32(0L, Z_NULL, 0), raw, (uInt)n));
    e += 4;
    put_be32(e, (uint32_t)crc32(0L, c + 4, (uInt)(e - (c + 4))));
    e += 4;
    memcpy(e, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    e += 12;
    *out = p;
    *outlen = (size_t)(e - p);
    return DEIT_OK;
}
