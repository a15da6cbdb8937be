/* make_png.h — builds a PNG of constant pixels in memory (zlib), for the integration tests that need
 * a large image in a small file: decompression bombs (test_bombs), a slow decode (test_sigterm). */
#ifndef DEIT_TEST_MAKE_PNG_H
#define DEIT_TEST_MAKE_PNG_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checks.h"

static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Appends a PNG chunk (length, type, data, CRC) at out+*n. */
static inline void png_chunk(uint8_t *out, size_t *n, const char *type, const uint8_t *data, uint32_t len)
{
    put_be32(out + *n, len);
    memcpy(out + *n + 4, type, 4);
    if (len) memcpy(out + *n + 8, data, len);
    uLong crc = crc32(0, (const Bytef *)out + *n + 4, len + 4);
    put_be32(out + *n + 8 + len, (uint32_t)crc);
    *n += 12 + len;
}

/* A w x h PNG of constant pixels (colour type 0 grey or 2 RGB), deflated at level 9: a large image
 * whose file is tiny, i.e. a decompression bomb when w*h is large. */
static inline blob make_png(uint32_t w, uint32_t h, int rgb, uint8_t value)
{
    size_t row = 1 + (size_t)w * (rgb ? 3 : 1), raw_len = row * h;
    uint8_t *raw = malloc(raw_len);
    for (size_t y = 0; y < h; y++) {
        raw[y * row] = 0; /* filter: none */
        memset(raw + y * row + 1, value, row - 1);
    }
    uLongf zlen = compressBound(raw_len);
    uint8_t *z = malloc(zlen);
    compress2(z, &zlen, raw, raw_len, 9);
    free(raw);
    blob b = {malloc(zlen + 64), 0};
    uint8_t *o = (uint8_t *)b.data;
    memcpy(o, "\x89PNG\r\n\x1a\n", 8);
    b.len = 8;
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = rgb ? 2 : 0;
    png_chunk(o, &b.len, "IHDR", ihdr, 13);
    png_chunk(o, &b.len, "IDAT", z, (uint32_t)zlen);
    png_chunk(o, &b.len, "IEND", NULL, 0);
    free(z);
    return b;
}

#endif
