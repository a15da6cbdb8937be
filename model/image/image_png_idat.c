/* image_png_idat.c — a PNG's image data read the way Pillow 9.4 reads it (PngImageFile.load_read
 * feeding ImageFile.load's decode loop, ZipDecode inflating one scan line at a time): which
 * bytes it inflates, where it stops, and when it gives up. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define PILLOW_READ_BLOCK 65536  /* ImageFile.MAXBLOCK: the most one load_read hands the decoder */

/* Bits per pixel for a valid (colour type, bit depth) pair; 0 for any other (stb refuses it). */
static unsigned pixel_bits(unsigned ctype, unsigned depth)
{
    static const unsigned samples[7] = {1, 0, 3, 1, 2, 0, 4};
    int ok = depth == 8 || depth == 16 || (ctype == 0 && (depth == 1 || depth == 2 || depth == 4));
    if (ctype == 3)
        ok = depth == 1 || depth == 2 || depth == 4 || depth == 8;
    return ctype <= 6 && samples[ctype] && ok ? samples[ctype] * depth : 0;
}

/* The scan lines the decoder fills, in stream order: one group for a plain image, up to seven
 * Adam7 passes (empty passes left out, as both ZipDecode and stb skip them). */
typedef struct {
    uint64_t row_bytes[7];  /* one scan line of the group, its filter byte included */
    uint64_t rows[7];
    int groups;
} scan_plan;

/* Fills *plan and the filtered size of the whole image in *total; -1 when that size does not
 * fit in size_t (the pixel limit makes that impossible for images we decode, but lengths from
 * the file are never trusted). */
static int plan_rows(uint64_t w, uint64_t h, unsigned bits, int interlaced, scan_plan *plan,
                     size_t *total)
{
    static const unsigned x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
    static const unsigned dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    uint64_t sum = 0;
    plan->groups = 0;
    for (int p = 0; p < (interlaced ? 7 : 1); p++) {
        uint64_t pw = interlaced ? (w + dx[p] - 1 - x0[p]) / dx[p] : w;
        uint64_t ph = interlaced ? (h + dy[p] - 1 - y0[p]) / dy[p] : h;
        if (!pw || !ph)
            continue;
        uint64_t line = (pw * bits + 7) / 8 + 1;  /* w < 2^31, bits <= 64: no overflow */
        if (ph > (UINT64_MAX - sum) / line)
            return -1;
        sum += line * ph;
        plan->row_bytes[plan->groups] = line;
        plan->rows[plan->groups++] = ph;
    }
    if (sum > SIZE_MAX)
        return -1;
    *total = (size_t)sum;
    return 0;
}

/* Where the decoder stands: the next byte of the filtered data, the end of the scan line
 * being filled, and which line that is. */
typedef struct {
    const scan_plan *plan;
    int group;
    uint64_t row;
    size_t at, line_start, line_end;
    int done;
} scan_cursor;

/* A finished scan line: checks its filter type as ZipDecode does, moves to the next one. */
static int next_line(scan_cursor *c, const png_stored *out, char *err, size_t errlen)
{
    size_t room;
    uint8_t filter = *image_png_stored_at(out, c->line_start, &room);
    if (filter > 4)
        return deit_fail(err, errlen, DEIT_EINVAL, "PNG: unknown filter type %u in the image data",
                         filter);
    if (++c->row == c->plan->rows[c->group]) {
        c->row = 0;
        if (++c->group == c->plan->groups) {
            c->done = 1;
            return DEIT_OK;
        }
    }
    c->line_start = c->line_end;
    c->line_end += (size_t)c->plan->row_bytes[c->group];
    return DEIT_OK;
}

/* One load_read block through ZipDecode: inflate until the block is used up, stopping once the
 * last scan line is complete, or a complete line coincides with the end of the zlib stream
 * (Pillow keeps the rest of the image black then). Inflate's own errors — a bad adler32 it
 * reaches within this block, a bad window size — refuse the file, as they do in Pillow.
 * Why not one inflate call per scan line, as ZipDecode makes: a 1 x 16000000 image would take
 * 16 million calls. Each call here fills up to a stored block of the copy (capped at the image's
 * end), and the lines it completed are checked after it. That decides as ZipDecode does: zlib
 * consumes the same input whatever the output window, its errors refuse either way, the last
 * line ends at the same byte with the same input at hand (so a bad adler32 is reached or not
 * alike), and a stream end counts only when the call that returned it also completed the line
 * it ends on — ZipDecode sees it only then. */
static int feed(z_stream *z, scan_cursor *c, const png_stored *out, const uint8_t *in, size_t n,
                char *err, size_t errlen)
{
    z->next_in = (Bytef *)in;  /* zlib's API is not const; it does not write input */
    z->avail_in = (uInt)n;
    while (z->avail_in > 0 && !c->done) {
        size_t room, before = c->at;
        z->next_out = image_png_stored_at(out, c->at, &room);
        z->avail_out = (uInt)room;
        int zr = inflate(z, Z_NO_FLUSH);
        if (zr < 0)
            return deit_fail(err, errlen, DEIT_EINVAL, "PNG: broken image data (zlib: %s)",
                             z->msg ? z->msg : "error");
        c->at += room - z->avail_out;
        while (!c->done && c->at >= c->line_end) {
            int rc = next_line(c, out, err, errlen);
            if (rc != DEIT_OK)
                return rc;
        }
        if (c->done)
            break;
        if (z->avail_out > 0 && zr != Z_STREAM_END)
            break;  /* input used up, or zlib stuck (Z_NEED_DICT): ZipDecode asks for more */
        if (zr == Z_STREAM_END) {
            if (c->at > before && c->at == c->line_start) {
                c->done = 1;
                break;
            }
            /* ZipDecode waits for more of a finished stream until the data runs out */
            return deit_fail(err, errlen, DEIT_EINVAL,
                             "PNG: image file is truncated (image data ends inside a scan line)");
        }
    }
    return DEIT_OK;
}

/* The chunk after the one ending at `end`: its offset in *next when Pillow's load_read would
 * go on reading image data from it (IDAT, or DDAT, which load_read also takes). 1: leave the
 * file to stb (fdAT, whose APNG sequence we do not follow here); otherwise a refusal, as the
 * image is not complete yet: Pillow's "image file is truncated", or its broken chunk type. */
static int continuation(const uint8_t *d, size_t len, uint64_t end, size_t *next, char *err,
                        size_t errlen)
{
    if (end > len || len - end < 8)
        return deit_fail(err, errlen, DEIT_EINVAL, "PNG: image file is truncated (image data)");
    const uint8_t *t = d + end + 4;
    if (!image_png_chunk_type_ok(t))
        return deit_fail(err, errlen, DEIT_EINVAL, "PNG: broken PNG file (chunk type in image data)");
    if (!memcmp(t, "fdAT", 4))
        return 1;
    if (memcmp(t, "IDAT", 4) && memcmp(t, "DDAT", 4))
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "PNG: image file is truncated (image data ends at a %.4s chunk)",
                         (const char *)t);
    *next = (size_t)end;
    return DEIT_OK;
}

/* After the image is complete, Pillow's load_end reads on to IEND; it skips an IDAT chunk (or
 * DDAT, fdAT) it meets there by reading it whole, so one cut short refuses the file even though
 * the image was complete. (Other chunks there are image_png_check's.) `end`: the end of the chunk
 * the decoder stopped in. */
static int trailing_data_cut(const uint8_t *d, size_t len, uint64_t end, char *err, size_t errlen)
{
    while (end <= len && len - end >= 8 && image_png_chunk_type_ok(d + end + 4)) {
        const uint8_t *t = d + end + 4;
        if (!memcmp(t, "IEND", 4) || !memcmp(t, "fcTL", 4))
            break;  /* load_end stops there (fcTL: at the next frame of an APNG) */
        uint64_t n = image_be32(d + end);
        if ((!memcmp(t, "IDAT", 4) || !memcmp(t, "DDAT", 4) || !memcmp(t, "fdAT", 4)) &&
            n + 8 > len - end)
            return deit_fail(err, errlen, DEIT_EINVAL,
                             "PNG: image file is truncated (%.4s data after the image)",
                             (const char *)t);
        end += 12 + n;
    }
    return DEIT_OK;
}

/* adler32 of the filtered data when the stream ended early: what zlib computed over what it
 * wrote, combined with that of the zero bytes after it (a = 1, b = count). */
static uLong with_zero_tail(uLong adler, size_t zeros)
{
    uLong a = 1, b = (uLong)(zeros % 65521);
    return adler32_combine(adler, b << 16 | a, (z_off_t)zeros);
}

/* Zeroes the data bytes from `at` to the end (lines ZipDecode never reached). */
static void zero_tail(const png_stored *out, size_t at)
{
    while (at < out->n) {
        size_t room;
        uint8_t *p = image_png_stored_at(out, at, &room);
        memset(p, 0, room);
        at += room;
    }
}

int image_png_inflate(const uint8_t *d, size_t len, uint8_t **png, size_t *pnglen, char *err,
                      size_t errlen)
{
    *png = NULL;
    *pnglen = 0;
    if (len < 33)
        return DEIT_OK;
    unsigned bits = pixel_bits(d[25], d[24]);
    if (!bits)
        return DEIT_OK;  /* stb refuses these with its own message */

    size_t pos = 8;  /* image_png_check has checked the chunks before the first IDAT */
    while (len - pos >= 8 && memcmp(d + pos + 4, "IDAT", 4)) {
        if (!memcmp(d + pos + 4, "fdAT", 4))
            return DEIT_OK;  /* Pillow would start the image there: APNG, left as it was */
        uint64_t end = (uint64_t)pos + 12 + image_be32(d + pos);
        if (end > len)
            return DEIT_OK;
        pos = (size_t)end;
    }
    if (len - pos < 8)
        return DEIT_OK;  /* no image data: stb says so */

    scan_plan plan;
    size_t total;
    png_stored out;
    if (plan_rows(image_be32(d + 16), image_be32(d + 20), bits, d[28] != 0, &plan, &total) != 0 ||
        total > UINT_MAX)
        return deit_fail(err, errlen, DEIT_ETOOBIG, "PNG: image data too large");
    int rc = image_png_stored_open(d, pos, total, &out);
    if (rc == DEIT_EINVAL)
        return DEIT_OK;  /* no IHDR first: stb says so */
    if (rc == DEIT_ETOOBIG)
        return deit_fail(err, errlen, rc, "PNG: image data too large");
    if (rc != DEIT_OK)
        return deit_fail(err, errlen, rc, "PNG: out of memory");
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        free(out.png);
        return deit_fail(err, errlen, DEIT_ENOMEM, "PNG: out of memory (zlib)");
    }
    scan_cursor c = {.plan = &plan, .line_end = (size_t)plan.row_bytes[0]};
    size_t chunk = pos;
    int mine = 1;
    while (rc == DEIT_OK && !c.done) {
        uint64_t left = image_be32(d + chunk), at = (uint64_t)chunk + 8;
        while (rc == DEIT_OK && !c.done && left > 0) {
            uint64_t want = left < PILLOW_READ_BLOCK ? left : PILLOW_READ_BLOCK;
            uint64_t have = at >= len ? 0 : (len - at < want ? len - at : want);
            if (!have) {
                rc = deit_fail(err, errlen, DEIT_EINVAL, "PNG: image file is truncated (image data)");
                break;
            }
            rc = feed(&z, &c, &out, d + at, (size_t)have, err, errlen);
            left -= want;
            at += have;
        }
        if (rc == DEIT_OK && !c.done) {
            rc = continuation(d, len, (uint64_t)chunk + 12 + image_be32(d + chunk), &chunk, err, errlen);
            if (rc == 1) {  /* not ours to judge */
                rc = DEIT_OK;
                mine = 0;
                break;
            }
        }
    }
    uLong adler = z.adler;
    inflateEnd(&z);
    if (rc == DEIT_OK && mine)
        rc = trailing_data_cut(d, len, (uint64_t)chunk + 12 + image_be32(d + chunk), err, errlen);
    if (rc != DEIT_OK || !mine) {
        free(out.png);
        return rc;
    }
    if (c.at < total) {
        zero_tail(&out, c.at);
        adler = with_zero_tail(adler, total - c.at);
    }
    image_png_stored_close(&out, (uint32_t)adler);
    *png = out.png;
    *pnglen = out.len;
    return DEIT_OK;
}
