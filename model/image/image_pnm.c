/* image_pnm.c — Netpbm (P1-P6) decoding with the semantics of Pillow 9.4's PpmImagePlugin. */
#include "image.h"
#include "image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pillow's whitespace set for PNM headers and plain data. */
static int ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

/* Python's int(token) in base 10, which Pillow applies to header and plain-data tokens: an
 * optional sign, then digits, single underscores allowed between digits ("+5", "1_0", "-0").
 * Tokens are at most 10 characters, so the value fits. -1: not a number. */
static int py_int(const char *t, size_t n, long *val)
{
    size_t i = 0;
    int neg = 0, digits = 0;
    if (i < n && (t[i] == '+' || t[i] == '-'))
        neg = t[i++] == '-';
    long v = 0;
    for (; i < n; i++) {
        if (t[i] == '_' && digits && i + 1 < n && t[i + 1] >= '0' && t[i + 1] <= '9')
            continue;
        if (t[i] < '0' || t[i] > '9')
            return -1;
        v = v * 10 + (t[i] - '0');
        digits++;
    }
    if (!digits)
        return -1;
    *val = neg ? -v : v;
    return 0;
}

/* PpmImageFile._read_token: skips leading whitespace, drops '#' comments up to and including
 * the next CR or LF (even inside a token), stops after the whitespace that ends the token; more
 * than 10 characters is an error. The token is read with Python's int() (py_int). */
static int header_token(const uint8_t *d, size_t len, size_t *pos, long *val)
{
    char tok[12];
    size_t n = 0;
    while (n <= 10) {
        if (*pos >= len)
            break;
        uint8_t c = d[(*pos)++];
        if (ws(c)) {
            if (!n)
                continue;
            break;
        }
        if (c == '#') {
            while (*pos < len && d[*pos] != '\r' && d[*pos] != '\n')
                (*pos)++;
            if (*pos < len)
                (*pos)++;
            continue;
        }
        tok[n++] = (char)c;
    }
    if (n == 0 || n > 10)
        return -1;
    return py_int(tok, n, val);
}

typedef struct {
    char kind;                 /* '1'..'6' */
    long w, h, maxval;         /* maxval 1 for bitmaps */
    size_t data;               /* offset of the pixel data */
} pnm_header;

static int parse_header(const uint8_t *d, size_t len, pnm_header *p, char *err, size_t errlen)
{
    size_t pos = 0, n = 0;
    while (n < 6 && pos < len && !ws(d[pos])) {
        pos++;
        n++;
    }
    if (pos < len && ws(d[pos]))
        pos++;
    if (n != 2 || d[0] != 'P' || d[1] < '1' || d[1] > '6')
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "PNM: unsupported variant");
    p->kind = (char)d[1];
    p->maxval = 1;
    int bitmap = p->kind == '1' || p->kind == '4';
    if (header_token(d, len, &pos, &p->w) || header_token(d, len, &pos, &p->h) ||
        (!bitmap && header_token(d, len, &pos, &p->maxval)))
        return deit_fail(err, errlen, DEIT_EINVAL, "PNM: bad or truncated header");
    if (!bitmap && (p->maxval < 1 || p->maxval > 65535))
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "PNM: maxval must be greater than 0 and less than 65536");
    if (p->w <= 0 || p->h <= 0 || p->w > 0x7FFFFFFF || p->h > 0x7FFFFFFF)
        return deit_fail(err, errlen, DEIT_EINVAL, "PNM: invalid dimensions");
    p->data = pos;
    return DEIT_OK;
}

int image_pnm_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen)
{
    pnm_header p;
    int rc = parse_header(data, len, &p, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    *width = (int)p.w;
    *height = (int)p.h;
    return DEIT_OK;
}

/* Pillow rescales a sample to the mode's range as round(v / maxval * out_max) in double with
 * Python's round half to even (rint), capped at out_max: out_max is 255 for L and RGB, 65535
 * for greyscale with maxval > 255 (mode I), which convert('RGB'/'L') then clips to 255. A
 * negative plain value (int() takes "-5") is stored by o8 as its low byte; mode I callers
 * refuse it first (o32 raises). */
static uint8_t scale(long v, long maxval, int to_i)
{
    double out_max = to_i ? 65535.0 : 255.0;
    double r = rint((double)v / (double)maxval * out_max);
    if (r < 0)
        return (uint8_t)((long)r & 255);
    if (r > out_max)
        r = out_max;
    return (uint8_t)(r > 255.0 ? 255.0 : r);
}

/* Plain data (PpmPlainDecoder): '#' comments dropped up to CR/LF, tokens split on whitespace,
 * at most 10 characters, read with int() and each <= maxval; a bitmap's tokens are single
 * '0'/'1' characters with optional whitespace. Too few values: "not enough image data" — except
 * that a last token the data ends in, with no whitespace after it, is Pillow's held-over "half
 * token", which its decoder feeds again and again until the image is full (*at_end set). */
static int plain_next(const uint8_t *d, size_t len, size_t *pos, int bitmap, long *v, int *at_end)
{
    for (;;) {
        if (*pos >= len)
            return 1;  /* no more data */
        uint8_t c = d[*pos];
        if (ws(c)) {
            (*pos)++;
        } else if (c == '#') {
            while (*pos < len && d[*pos] != '\r' && d[*pos] != '\n')
                (*pos)++;
        } else {
            break;
        }
    }
    if (bitmap) {
        uint8_t c = d[(*pos)++];
        if (c != '0' && c != '1')
            return -1;
        *v = c - '0';
        return 0;
    }
    char tok[10];
    size_t n = 0;
    while (*pos < len && !ws(d[*pos])) {
        uint8_t c = d[(*pos)++];
        if (c == '#') {  /* Pillow cuts the comment and its line end out: the token goes on */
            while (*pos < len && d[*pos] != '\r' && d[*pos] != '\n')
                (*pos)++;
            if (*pos < len)
                (*pos)++;
            continue;
        }
        if (n == sizeof tok)
            return -1;  /* "Token too long found in data" */
        tok[n++] = (char)c;
    }
    *at_end = *pos >= len;
    return py_int(tok, n, v);
}

/* Pillow's plain-bitmap decoder checks every token of each 1 MiB block it reads (SAFEBLOCK, from
 * the start of the data) before keeping the ones it needs, so a character other than '0'/'1'
 * later in the block holding the last pixel refuses the file. 0: the rest of that block is
 * clean. */
static int bitmap_tail_ok(const uint8_t *d, size_t len, size_t start, size_t pos)
{
    const size_t block = (size_t)1 << 20;
    size_t end = start + (pos - start + block - 1) / block * block;
    if (end > len)
        end = len;
    while (pos < end) {
        uint8_t c = d[pos++];
        if (c == '#') {
            while (pos < end && d[pos] != '\r' && d[pos] != '\n')
                pos++;
        } else if (!ws(c) && c != '0' && c != '1') {
            return -1;
        }
    }
    return 0;
}

int image_pnm_decode(const uint8_t *d, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen)
{
    pnm_header p;
    memset(out, 0, sizeof *out);
    int rc = parse_header(d, len, &p, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (p.w != width || p.h != height)
        return deit_fail(err, errlen, DEIT_EINVAL, "PNM: image header is inconsistent");
    int bands = (p.kind == '3' || p.kind == '6') ? 3 : 1;
    int bitmap = p.kind == '1' || p.kind == '4';
    int to_i = bands == 1 && !bitmap && p.maxval > 255;  /* Pillow mode I */
    size_t npix = (size_t)width * height, nval = npix * bands;
    size_t pos = p.data;
    /* Binary data must be all there before anything is allocated. */
    size_t in_bytes = p.kind == '4' ? ((size_t)width + 7) / 8 * height
                                    : nval * (p.maxval > 255 ? 2 : 1);
    if (p.kind >= '4' && (pos > len || len - pos < in_bytes))
        return deit_fail(err, errlen, DEIT_EINVAL, "PNM: image file is truncated");
    uint8_t *px = malloc(npix * 3);
    if (!px)
        return deit_fail(err, errlen, DEIT_ENOMEM, "PNM: out of memory");
    long v = 0;
    int at_end = 0;
    for (size_t i = 0; i < nval; i++) {
        if (p.kind <= '3') {
            int r = plain_next(d, len, &pos, bitmap, &v, &at_end);
            if (r > 0 && at_end && !bitmap)
                r = 0;  /* the half token again: v is unchanged */
            if (r != 0 || v > p.maxval || (to_i && v < 0)) {
                free(px);
                return deit_fail(err, errlen, DEIT_EINVAL,
                                 r > 0 ? "PNM: not enough image data"
                                       : "PNM: invalid value in plain data");
            }
        } else if (p.kind == '4') {
            size_t x = i % width, y = i / width;
            v = (d[pos + y * (((size_t)width + 7) / 8) + x / 8] >> (7 - x % 8)) & 1;
        } else if (p.maxval > 255) {
            v = (long)d[pos + 2 * i] << 8 | d[pos + 2 * i + 1];
        } else {
            v = d[pos + i];
        }
        /* Bitmaps: 1 is black (rawmode 1;I, plain 1;8). maxval 255 and (greyscale) 65535
         * are read raw by Pillow, which the rescale reproduces exactly. */
        uint8_t b = bitmap ? (v ? 0 : 255) : scale(v, p.maxval, to_i);
        if (bands == 3)
            px[i] = b;
        else
            px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = b;
    }
    if (p.kind == '1' && bitmap_tail_ok(d, len, p.data, pos) != 0) {
        free(px);
        return deit_fail(err, errlen, DEIT_EINVAL, "PNM: invalid token for this mode");
    }
    if (channels == 1)
        for (size_t i = 0; i < npix; i++)
            px[i] = image_luma(px[3 * i], px[3 * i + 1], px[3 * i + 2]);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->pixels = px;
    return DEIT_OK;
}
