/* image_png_restream.c — the PNG stb_image decodes in place of the file: the signature, IHDR and
 * PLTE as they were, one IDAT whose zlib stream holds the filtered image in stored (uncompressed)
 * deflate blocks, IEND. The layout only; image_png_idat.c inflates into it. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define STORED_MAX 65535u  /* the most one stored deflate block holds */

/* Of the chunks before the first IDAT, the ones stb_image is given: IHDR and PLTE, all that shape
 * the RGB or grey pixels. stb refuses much that Pillow 9.4 reads past (a tRNS on an image with an
 * alpha channel, one longer than the colour type wants or than the palette, an unknown critical
 * chunk); the rest it ignores. tRNS never changes the pixels Pillow's convert('RGB' / 'L') gives
 * (the alpha is dropped), and what Pillow does refuse of it image_png_check refuses. Copies them
 * after the signature into out (when not NULL); returns the bytes they take. image_png_check has
 * walked these chunks: their lengths are inside data[0, first_idat). */
static size_t kept_chunks(const uint8_t *data, size_t first_idat, uint8_t *out)
{
    size_t at = 8;
    if (out)
        memcpy(out, data, 8);
    for (size_t pos = 8; first_idat - pos >= 12;) {
        size_t whole = (size_t)image_be32(data + pos) + 12;
        if (whole > first_idat - pos)
            break;
        const uint8_t *type = data + pos + 4;
        if (!memcmp(type, "IHDR", 4) || !memcmp(type, "PLTE", 4)) {
            if (out)
                memcpy(out + at, data + pos, whole);
            at += whole;
        }
        pos += whole;
    }
    return at;
}

/* Why the chunk CRC is left 0: stb_image never reads CRCs (image_png_check has checked the
 * file's own), and computing one is a pass over the whole image on every decode. */
int image_png_stored_open(const uint8_t *data, size_t first_idat, size_t n, png_stored *s)
{
    memset(s, 0, sizeof *s);
    size_t blocks = n ? (n - 1) / STORED_MAX + 1 : 1;
    /* zlib header + blocks + adler32 must fit one chunk's 31-bit length */
    if (n > (size_t)INT_MAX - 6 - 5 * blocks || first_idat > (size_t)INT_MAX)
        return DEIT_ETOOBIG;
    size_t head = kept_chunks(data, first_idat, NULL);
    if (head < 33 || memcmp(data + 12, "IHDR", 4))
        return DEIT_EINVAL; /* no IHDR first: the caller leaves the file to stb, which says so */
    size_t zlen = 2 + 5 * blocks + n + 4;
    size_t total = head + 12 + zlen + 12;
    uint8_t *p = malloc(total);
    if (!p)
        return DEIT_ENOMEM;
    kept_chunks(data, first_idat, p);
    first_idat = head;
    /* IHDR as Pillow reads it, where stb would refuse it: Pillow ignores the compression method
     * and takes any non-zero interlace method for Adam7 (the data was inflated so). stb does not
     * read the CRC this leaves stale. */
    p[26] = 0;
    p[28] = p[28] != 0;
    uint8_t *c = p + first_idat;
    image_put_be32(c, (uint32_t)zlen);
    memcpy(c + 4, "IDAT", 4);
    c[8] = 0x78;  /* deflate, 32 KiB window; 0x7801 is a multiple of 31, no preset dictionary */
    c[9] = 0x01;
    s->blocks = c + 10;
    for (size_t k = 0, left = n; k < blocks; k++) {
        size_t len = left < STORED_MAX ? left : STORED_MAX;
        uint8_t *b = s->blocks + k * (STORED_MAX + 5);
        b[0] = k + 1 == blocks;  /* BFINAL on the last block, BTYPE 00: stored */
        b[1] = (uint8_t)len;
        b[2] = (uint8_t)(len >> 8);
        b[3] = (uint8_t)~len;
        b[4] = (uint8_t)(~len >> 8);
        left -= len;
    }
    uint8_t *e = c + 8 + zlen;
    memset(e, 0, 4);  /* CRC: see above */
    memcpy(e + 4, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    s->png = p;
    s->len = total;
    s->n = n;
    return DEIT_OK;
}

uint8_t *image_png_stored_at(const png_stored *s, size_t off, size_t *room)
{
    size_t k = off / STORED_MAX, in = off % STORED_MAX;
    size_t end = (k + 1) * STORED_MAX < s->n ? (k + 1) * STORED_MAX : s->n;
    *room = end - off;
    return s->blocks + k * (STORED_MAX + 5) + 5 + in;
}

void image_png_stored_close(png_stored *s, uint32_t adler)
{
    size_t blocks = s->n ? (s->n - 1) / STORED_MAX + 1 : 1;
    image_put_be32(s->blocks + blocks * 5 + s->n, adler);
}
