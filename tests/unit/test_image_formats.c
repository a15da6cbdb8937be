/* test_image_formats.c — decoder corner cases built in memory, each checked against the pixels
 * (or the refusal) Pillow 9.4 gives for the same bytes; tests/fixtures/images/pillow-edge holds
 * the same files for the side-by-side check against Pillow itself (make test-pillow). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../check.h"
#include "image.h"

#define MAXPIX ((size_t)1 << 24)

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Appends one PNG chunk (length, type, data, CRC) at b + *n. */
static void png_chunk(uint8_t *b, size_t *n, const char *type, const uint8_t *data, uint32_t len)
{
    put_be32(b + *n, len);
    memcpy(b + *n + 4, type, 4);
    if (len)
        memcpy(b + *n + 8, data, len);
    put_be32(b + *n + 8 + len, (uint32_t)crc32(0L, b + *n + 4, len + 4));
    *n += (size_t)len + 12;
}

/* An 8-bit w x h PNG of colour type ctype whose rows (filter 0) are all `row`, with `extra`
 * chunks (already framed) between IHDR and IDAT. Returns the length written into b. */
static size_t png_make(uint8_t *b, uint32_t w, uint32_t h, int ctype, const uint8_t *row, size_t rowlen,
                       const uint8_t *extra, size_t extralen)
{
    uint8_t ihdr[13] = {0}, raw[1024], z[1024];
    size_t n = 8, rn = 0;
    uLongf zn = sizeof z;
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = (uint8_t)ctype;
    png_chunk(b, &n, "IHDR", ihdr, 13);
    if (extralen)
        memcpy(b + n, extra, extralen);
    n += extralen;
    for (uint32_t y = 0; y < h; y++) {
        raw[rn++] = 0;
        memcpy(raw + rn, row, rowlen);
        rn += rowlen;
    }
    compress(z, &zn, raw, rn);
    png_chunk(b, &n, "IDAT", z, (uint32_t)zn);
    png_chunk(b, &n, "IEND", NULL, 0);
    return n;
}

/* Decodes d to `channels` and checks pixel i (channels values) against want. */
static void check_pixels(const char *what, const uint8_t *d, size_t len, int channels, const uint8_t *want,
                         size_t nwant)
{
    deit_image img;
    char err[256] = "";
    int rc = image_decode(d, len, channels, MAXPIX, &img, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s: %d (%s)", what, rc, err);
    if (rc == DEIT_OK) {
        CHECK_MSG((size_t)img.width * img.height * img.channels >= nwant, "%s: too small", what);
        CHECK_MSG(memcmp(img.pixels, want, nwant) == 0, "%s: pixels differ (first %u %u %u)", what,
                  img.pixels[0], img.pixels[1], img.pixels[2]);
    }
    image_free(&img);
}

/* PNG palette indices past the PLTE entries: Pillow's grey ramp (i, i, i); stb_image alone read
 * an uninitialised palette there. Also a palette PNG without any PLTE (all ramp), and the same
 * after a second, shorter PLTE (the last one before IDAT wins, with the ramp past it). */
static void test_png_palette(void)
{
    static const uint8_t plte2[6] = {255, 0, 0, 0, 255, 0}, row[4] = {0, 1, 200, 255};
    static const uint8_t rgb[12] = {255, 0, 0, 0, 255, 0, 200, 200, 200, 255, 255, 255};
    static const uint8_t grey[4] = {76, 150, 200, 255};  /* Pillow's L of the row above */
    uint8_t b[2048], extra[1024];
    size_t ne = 0;
    png_chunk(extra, &ne, "PLTE", plte2, 6);
    size_t n = png_make(b, 4, 4, 3, row, 4, extra, ne);
    for (int run = 0; run < 2; run++)  /* the same every time: nothing uninitialised */
        check_pixels("palette past PLTE", b, n, 3, rgb, sizeof rgb);
    check_pixels("palette past PLTE, L", b, n, 1, grey, sizeof grey);

    static const uint8_t ramp[12] = {0, 0, 0, 1, 1, 1, 200, 200, 200, 255, 255, 255};
    n = png_make(b, 4, 4, 3, row, 4, NULL, 0);
    check_pixels("palette without PLTE", b, n, 3, ramp, sizeof ramp);

    static const uint8_t plte3[9] = {9, 9, 9, 8, 8, 8, 7, 7, 7}, blue[3] = {0, 0, 255};
    static const uint8_t two[12] = {0, 0, 255, 1, 1, 1, 200, 200, 200, 255, 255, 255};
    ne = 0;
    png_chunk(extra, &ne, "PLTE", plte3, 9);
    png_chunk(extra, &ne, "PLTE", blue, 3);
    n = png_make(b, 4, 4, 3, row, 4, extra, ne);
    check_pixels("two PLTE chunks", b, n, 3, two, sizeof two);
}

/* A 4 x 4 8-bit grey PNG whose IDAT chunks hold the pieces of z given by cuts (n_cuts offsets
 * where a new IDAT starts), `between` (a framed chunk) after the first IDAT, IEND if asked. */
static size_t png_grey_split(uint8_t *b, const uint8_t *z, size_t zn, const size_t *cuts, int ncuts,
                             const uint8_t *between, size_t nbetween, int iend)
{
    uint8_t ihdr[13] = {0, 0, 0, 4, 0, 0, 0, 4, 8, 0, 0, 0, 0};
    size_t n = 8, from = 0;
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    png_chunk(b, &n, "IHDR", ihdr, 13);
    for (int i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : zn;
        png_chunk(b, &n, "IDAT", z + from, (uint32_t)(to - from));
        if (i == 0 && nbetween) {
            memcpy(b + n, between, nbetween);
            n += nbetween;
        }
        from = to;
    }
    if (iend)
        png_chunk(b, &n, "IEND", NULL, 0);
    return n;
}

static void check_refused(const char *what, const uint8_t *d, size_t len)
{
    deit_image img;
    char err[256] = "";
    CHECK_MSG(image_decode(d, len, 1, MAXPIX, &img, err, sizeof err) == DEIT_EINVAL && err[0],
              "%s: not refused (%s)", what, err);
    image_free(&img);
}

/* The compressed image data as Pillow's ZipDecode reads it: it stops at the last scan line (no
 * final block or adler32 needed, nor IEND after), keeps a stream that ends on a line boundary
 * (the rest black), and refuses a bad adler32 it reads with the last line, data interrupted by
 * another chunk before the image is complete, and a window size zlib refuses. Each case's
 * outcome is Pillow 9.4's on the same bytes (tests/pillow/make_png_stream.py has them as files). */
static void test_png_stream(void)
{
    uint8_t raw[20], z[256], b[1024], text[64];
    static const uint8_t want[16] = {10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40, 41, 42, 43};
    static const uint8_t half[16] = {10, 11, 12, 13, 20, 21, 22, 23};
    for (int y = 0; y < 4; y++) {
        raw[y * 5] = 0;
        for (int x = 0; x < 4; x++)
            raw[y * 5 + 1 + x] = (uint8_t)(10 * (y + 1) + x);
    }
    uLongf zn = sizeof z;
    compress2(z, &zn, raw, sizeof raw, 9);
    size_t n = png_grey_split(b, z, zn, NULL, 0, NULL, 0, 1);
    check_pixels("whole", b, n, 1, want, 16);
    n = png_grey_split(b, z, zn, NULL, 0, NULL, 0, 0);
    check_pixels("no IEND", b, n, 1, want, 16);
    n = png_grey_split(b, z, zn - 4, NULL, 0, NULL, 0, 1);
    check_pixels("no adler32", b, n, 1, want, 16);

    z_stream s;
    memset(&s, 0, sizeof s);
    deflateInit(&s, 9);
    uint8_t open_z[256];
    s.next_in = raw;
    s.avail_in = sizeof raw;
    s.next_out = open_z;
    s.avail_out = sizeof open_z;
    deflate(&s, Z_SYNC_FLUSH);  /* every row out, no final block */
    n = png_grey_split(b, open_z, sizeof open_z - s.avail_out, NULL, 0, NULL, 0, 1);
    deflateEnd(&s);
    check_pixels("no final block", b, n, 1, want, 16);

    uint8_t bad[256];
    memcpy(bad, z, zn);
    bad[zn - 1] ^= 0x5A;
    n = png_grey_split(b, bad, zn, NULL, 0, NULL, 0, 1);
    check_refused("bad adler32 with the last row", b, n);
    size_t cut = zn - 4;
    n = png_grey_split(b, bad, zn, &cut, 1, NULL, 0, 1);
    check_pixels("bad adler32 in its own IDAT", b, n, 1, want, 16);

    uint8_t short_z[256];
    uLongf sn = sizeof short_z;
    compress2(short_z, &sn, raw, 10, 9);  /* two rows, then the stream ends */
    n = png_grey_split(b, short_z, sn, NULL, 0, NULL, 0, 1);
    check_pixels("stream ends after two rows", b, n, 1, half, 16);
    n = png_grey_split(b, short_z, sn - 7, NULL, 0, NULL, 0, 0);
    check_refused("file cut before the last row", b, n);

    size_t nt = 0;
    png_chunk(text, &nt, "tEXt", (const uint8_t *)"k\0v", 3);
    cut = zn - 4;
    n = png_grey_split(b, z, zn, &cut, 1, text, nt, 1);
    check_pixels("tEXt between IDATs, image complete before", b, n, 1, want, 16);
    cut = 4;
    n = png_grey_split(b, z, zn, &cut, 1, text, nt, 1);
    check_refused("tEXt between IDATs, rows after it", b, n);

    uint8_t win[256];
    memcpy(win, z, zn);
    win[0] = 0x88;  /* CINFO 8: a 64 KiB window, which zlib refuses */
    win[1] = (uint8_t)((31 - (0x88 * 256) % 31) % 31);
    n = png_grey_split(b, win, zn, NULL, 0, NULL, 0, 1);
    check_refused("window size 64 KiB", b, n);

    /* Pillow hands the decoder an IDAT chunk 64 KiB at a time: a bad adler32 that straddles the
     * first 64 KiB (here after 65527 bytes of stored rows, 76 x 851) is not read with the last
     * row, and the file opens; a bad one wholly inside it (76 x 850) refuses it. */
    static uint8_t rows[77 * 851], stored[80000], big_png[80000];
    for (size_t i = 0; i < sizeof rows; i++)
        rows[i] = i % 77 ? (uint8_t)(i * 7) : 0;
    for (int h = 851; h >= 850; h--) {
        uLongf sz = sizeof stored;
        CHECK_INT_EQ(compress2(stored, &sz, rows, (uLong)77 * h, 0), Z_OK);
        stored[sz - 2] ^= 0x33;
        uint8_t ihdr[13] = {0, 0, 0, 76, 0, 0, 0, 0, 8, 0, 0, 0, 0};
        put_be32(ihdr + 4, (uint32_t)h);
        size_t bn2 = 8;
        memcpy(big_png, "\x89PNG\r\n\x1a\n", 8);
        png_chunk(big_png, &bn2, "IHDR", ihdr, 13);
        png_chunk(big_png, &bn2, "IDAT", stored, (uint32_t)sz);
        png_chunk(big_png, &bn2, "IEND", NULL, 0);
        if (h == 851)
            check_pixels("bad adler32 across Pillow's 64 KiB read", big_png, bn2, 1, rows + 1, 76);
        else
            check_refused("bad adler32 inside Pillow's first 64 KiB read", big_png, bn2);
    }

    /* a bomb: the 4 x 4 image followed by 16 MiB of zeros in the same stream; Pillow (and we)
     * inflate 20 bytes of it */
    static uint8_t big[1 << 24];
    memcpy(big, raw, sizeof raw);
    static uint8_t bomb_z[1 << 16];
    uLongf bn = sizeof bomb_z;
    CHECK_INT_EQ(compress2(bomb_z, &bn, big, sizeof big, 9), Z_OK);
    static uint8_t bomb_png[1 << 16];
    n = png_grey_split(bomb_png, bomb_z, bn, NULL, 0, NULL, 0, 1);
    check_pixels("zlib bomb after the image", bomb_png, n, 1, want, 16);
}

/* A 40-byte-header BMP of w x 1 pixels with data offset 0: `extra` (masks or palette) after the
 * header, then the row. Returns the length written into b. */
static size_t bmp_make(uint8_t *b, uint32_t w, unsigned bits, unsigned comp, unsigned colors,
                       const uint8_t *extra, size_t extralen, const uint8_t *row, size_t rowlen)
{
    memset(b, 0, 54);
    memcpy(b, "BM", 2);
    b[14] = 40;
    b[18] = (uint8_t)w;
    b[22] = 1;  /* height */
    b[26] = 1;  /* planes */
    b[28] = (uint8_t)bits;
    b[30] = (uint8_t)comp;
    b[46] = (uint8_t)colors;
    b[47] = (uint8_t)(colors >> 8);
    if (extralen)
        memcpy(b + 54, extra, extralen);
    memcpy(b + 54 + extralen, row, rowlen);
    size_t n = 54 + extralen + rowlen;
    b[2] = (uint8_t)n;  /* file size; bytes 10..13, the data offset, stay 0 */
    b[3] = (uint8_t)(n >> 8);
    return n;
}

/* BMP with a data offset of 0: Pillow reads the pixels where its file pointer is (`offset or
 * fp.tell()`), after the header, the 40-byte header's bitfield masks and the palette. */
static void test_bmp_offset0(void)
{
    uint8_t b[128];
    static const uint8_t bgr[8] = {1, 2, 3, 4, 5, 6, 0, 0}, rgb[6] = {3, 2, 1, 6, 5, 4};
    size_t n = bmp_make(b, 2, 24, 0, 0, NULL, 0, bgr, sizeof bgr);
    check_pixels("BMP offset 0, 24-bit", b, n, 3, rgb, sizeof rgb);

    static const uint8_t pal[8] = {0, 0, 255, 0, 255, 0, 0, 0}, idx[4] = {1, 0, 0, 0};
    static const uint8_t pal_rgb[6] = {0, 0, 255, 255, 0, 0};
    n = bmp_make(b, 2, 8, 0, 2, pal, sizeof pal, idx, sizeof idx);
    check_pixels("BMP offset 0, palette", b, n, 3, pal_rgb, sizeof pal_rgb);

    static const uint8_t masks[12] = {0, 0xF8, 0, 0, 0xE0, 0x07, 0, 0, 0x1F, 0, 0, 0};
    static const uint8_t px565[4] = {0x00, 0xF8, 0xE0, 0x07}, rg[6] = {255, 0, 0, 0, 255, 0};
    n = bmp_make(b, 2, 16, 3, 0, masks, sizeof masks, px565, sizeof px565);
    check_pixels("BMP offset 0, bitfields", b, n, 3, rg, sizeof rg);
}

/* A little-endian TIFF of 4 x 1 pixels, one sample of `bps` bits, Photometric palette, the
 * samples `px` (pxlen bytes) and, when cmapn > 0, a ColorMap of cmapn SHORT values. */
static size_t tiff_make(uint8_t *b, unsigned bps, const uint8_t *px, size_t pxlen, const uint16_t *cmap,
                        unsigned cmapn)
{
    const uint16_t tags[10] = {256, 257, 258, 259, 262, 273, 277, 278, 279, 320};
    const uint32_t vals[10] = {4, 1, bps, 1, 3, 8, 1, 1, (uint32_t)pxlen, 0};
    int ntags = cmapn ? 10 : 9;
    size_t ifd = 8 + ((pxlen + 1) & ~(size_t)1), extra = ifd + 2 + 12 * (size_t)ntags + 4;
    memset(b, 0, extra);
    memcpy(b, "II*\0", 4);
    b[4] = (uint8_t)ifd;
    memcpy(b + 8, px, pxlen);
    b[ifd] = (uint8_t)ntags;
    for (int i = 0; i < ntags; i++) {
        uint8_t *e = b + ifd + 2 + 12 * i;
        e[0] = (uint8_t)tags[i];
        e[1] = (uint8_t)(tags[i] >> 8);
        e[2] = 3;  /* SHORT */
        e[4] = 1;  /* count */
        e[8] = (uint8_t)vals[i];
        if (tags[i] == 320) {
            e[4] = (uint8_t)cmapn;
            e[5] = (uint8_t)(cmapn >> 8);
            e[8] = (uint8_t)extra;
            e[9] = (uint8_t)(extra >> 8);
        }
    }
    for (unsigned i = 0; i < cmapn; i++) {
        b[extra + 2 * i] = (uint8_t)cmap[i];
        b[extra + 2 * i + 1] = (uint8_t)(cmap[i] >> 8);
    }
    return extra + 2 * (size_t)cmapn;
}

/* Palette TIFF whose ColorMap is not 3 << bps values long: libtiff drops it (and calls the image
 * grey at 8 bits, refuses it below); Pillow uses count / 3 entries, planar R, G, B, over its grey
 * ramp. Without a ColorMap Pillow cannot open the file. */
static void test_tiff_palette(void)
{
    uint8_t b[2048];
    uint16_t cm[768];
    for (int i = 0; i < 16; i++) {  /* 16 entries: (16 i, 240 - 16 i, 128) */
        cm[i] = (uint16_t)(i * 4096);
        cm[16 + i] = (uint16_t)((15 - i) * 4096);
        cm[32 + i] = 0x8000;
    }
    static const uint8_t idx8[4] = {0, 1, 15, 200};
    static const uint8_t want8[12] = {0, 240, 128, 16, 224, 128, 240, 0, 128, 200, 200, 200};
    size_t n = tiff_make(b, 8, idx8, 4, cm, 48);
    check_pixels("TIFF 8-bit, 16-entry ColorMap", b, n, 3, want8, sizeof want8);

    for (int i = 0; i < 256; i++) {  /* 256 entries on 4-bit samples: (i, 255 - i, 7 i) */
        cm[i] = (uint16_t)(i * 257);
        cm[256 + i] = (uint16_t)((255 - i) * 257);
        cm[512 + i] = (uint16_t)(((i * 7) % 256) * 257);
    }
    static const uint8_t idx4[2] = {0x01, 0x2F};
    static const uint8_t want4[12] = {0, 255, 0, 1, 254, 7, 2, 253, 14, 15, 240, 105};
    n = tiff_make(b, 4, idx4, 2, cm, 768);
    check_pixels("TIFF 4-bit, 256-entry ColorMap", b, n, 3, want4, sizeof want4);

    deit_image img;
    char err[256] = "";
    n = tiff_make(b, 8, idx8, 4, NULL, 0);
    CHECK_INT_EQ(image_decode(b, n, 3, MAXPIX, &img, err, sizeof err), DEIT_EINVAL);
    CHECK_MSG(strstr(err, "colour map") != NULL, "no ColorMap: %s", err);
    image_free(&img);
}

/* A little-endian, uncompressed, 8-bit greyscale w x h TIFF in one tw x th tile whose tw * th
 * bytes are `fill`. Returns the length written into b (which must hold 8 + tw * th + 134). */
static size_t tiff_tiled_make(uint8_t *b, uint32_t w, uint32_t h, uint32_t tw, uint32_t th, uint8_t fill)
{
    const uint16_t tags[10] = {256, 257, 258, 259, 262, 277, 322, 323, 324, 325};
    const uint32_t tile = tw * th, vals[10] = {w, h, 8, 1, 1, 1, tw, th, 8, tile};
    size_t ifd = 8 + ((tile + 1) & ~(size_t)1);
    memset(b, 0, ifd + 2 + 12 * 10 + 4);
    memcpy(b, "II*\0", 4);
    for (int k = 0; k < 4; k++) b[4 + k] = (uint8_t)(ifd >> (8 * k));
    memset(b + 8, fill, tile);
    b[ifd] = 10;
    for (int i = 0; i < 10; i++) {
        uint8_t *e = b + ifd + 2 + 12 * i;
        e[0] = (uint8_t)tags[i];
        e[1] = (uint8_t)(tags[i] >> 8);
        e[2] = 4;  /* LONG */
        e[4] = 1;  /* count */
        for (int k = 0; k < 4; k++) e[8 + k] = (uint8_t)(vals[i] >> (8 * k));
    }
    return ifd + 2 + 12 * 10 + 4;
}

/* Tiles larger than the image are legal (tiles come in multiples of 16; a 16 x 16 image in one
 * 256 x 256 tile decodes), but the tile buffer is sized from the file's TileWidth x TileLength,
 * so one far larger than the image (65536 x 16384 on 16 x 16: 1 GiB, which a compressed tile
 * would really be inflated into) is refused before anything that size is allocated. */
static void test_tiff_tiles(void)
{
    static uint8_t b[8 + 256 * 256 + 256];
    static const uint8_t grey[3] = {77, 77, 77};
    size_t n = tiff_tiled_make(b, 16, 16, 16, 16, 77);
    check_pixels("TIFF 16x16 in one 16x16 tile", b, n, 3, grey, sizeof grey);
    n = tiff_tiled_make(b, 16, 16, 256, 256, 77);
    check_pixels("TIFF 16x16 in one 256x256 tile", b, n, 3, grey, sizeof grey);

    n = tiff_tiled_make(b, 16, 16, 16, 16, 77);
    size_t ifd = 8 + 256;
    const uint32_t huge[2] = {65536, 16384};  /* TileWidth, TileLength: entries 6 and 7 */
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 4; k++) b[ifd + 2 + 12 * (6 + t) + 8 + k] = (uint8_t)(huge[t] >> (8 * k));
    deit_image img;
    char err[256] = "";
    CHECK_INT_EQ(image_decode(b, n, 3, MAXPIX, &img, err, sizeof err), DEIT_EINVAL);
    CHECK_MSG(strstr(err, "far larger than the 16x16 image") != NULL, "TIFF 65536x16384 tile on 16x16: %s", err);
    image_free(&img);
}

/* "\xFF\xD8" and an APP1 "Exif\0\0" segment holding a little-endian TIFF block with one
 * directory of the given entries (12 bytes each, values already placed), then extra bytes. */
static size_t jpeg_exif(uint8_t *b, const uint8_t *entries, int n, const uint8_t *extra, size_t extralen)
{
    size_t tiff = 4 + 2 + 6, len = 8 + 2 + 12 * (size_t)n + 4 + extralen;
    memcpy(b, "\xFF\xD8\xFF\xE1", 4);
    b[4] = (uint8_t)((len + 8) >> 8);
    b[5] = (uint8_t)(len + 8);
    memcpy(b + 6, "Exif\0\0", 6);
    memcpy(b + tiff, "II*\0\x08\0\0\0", 8);
    b[tiff + 8] = (uint8_t)n;
    b[tiff + 9] = 0;
    memcpy(b + tiff + 10, entries, 12 * (size_t)n);
    memset(b + tiff + 10 + 12 * n, 0, 4);
    if (extralen)
        memcpy(b + tiff + 14 + 12 * n, extra, extralen);
    memcpy(b + tiff + len, "\xFF\xD9", 2);
    return tiff + len + 2;
}

/* EXIF Orientation as Pillow's exif_transpose reads it: values[0] of any count, the numeric types
 * (not BYTE/UNDEFINED, which load as bytes), the last of duplicate entries, BigTIFF, and XMP in a
 * compressed iTXt chunk of a PNG. */
static void test_exif_orientation(void)
{
    uint8_t b[512];
    /* tag 0x0112, type, count, value */
    static const uint8_t count2[12] = {0x12, 1, 3, 0, 2, 0, 0, 0, 6, 0, 1, 0};
    static const uint8_t sshort[12] = {0x12, 1, 8, 0, 1, 0, 0, 0, 8, 0, 0, 0};
    static const uint8_t byte6[12] = {0x12, 1, 1, 0, 1, 0, 0, 0, 6, 0, 0, 0};
    static const uint8_t slong[12] = {0x12, 1, 9, 0, 1, 0, 0, 0, 5, 0, 0, 0};
    static const uint8_t dup[24] = {0x12, 1, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0,
                                    0x12, 1, 3, 0, 1, 0, 0, 0, 3, 0, 0, 0};
    /* SHORT x 3 stored past the directory (offset 8 + 2 + 12 + 4 = 26 in the TIFF block): 7, 1, 1 */
    static const uint8_t far3[12] = {0x12, 1, 3, 0, 3, 0, 0, 0, 26, 0, 0, 0};
    static const uint8_t far3_vals[6] = {7, 0, 1, 0, 1, 0};
    /* RATIONAL 12/2 at offset 26 */
    static const uint8_t rat[12] = {0x12, 1, 5, 0, 1, 0, 0, 0, 26, 0, 0, 0};
    static const uint8_t rat_vals[8] = {12, 0, 0, 0, 2, 0, 0, 0};
    CHECK_INT_EQ(image_exif_orientation(b, jpeg_exif(b, count2, 1, NULL, 0), IMAGE_FMT_JPEG), 6);
    CHECK_INT_EQ(image_exif_orientation(b, jpeg_exif(b, sshort, 1, NULL, 0), IMAGE_FMT_JPEG), 8);
    CHECK_INT_EQ(image_exif_orientation(b, jpeg_exif(b, byte6, 1, NULL, 0), IMAGE_FMT_JPEG), 1);
    CHECK_INT_EQ(image_exif_orientation(b, jpeg_exif(b, slong, 1, NULL, 0), IMAGE_FMT_JPEG), 5);
    CHECK_INT_EQ(image_exif_orientation(b, jpeg_exif(b, dup, 2, NULL, 0), IMAGE_FMT_JPEG), 3);
    CHECK_INT_EQ(image_exif_orientation(b, jpeg_exif(b, far3, 1, far3_vals, 6), IMAGE_FMT_JPEG), 7);
    CHECK_INT_EQ(image_exif_orientation(b, jpeg_exif(b, rat, 1, rat_vals, 8), IMAGE_FMT_JPEG), 6);

    /* BigTIFF: header (offset 16), 8-byte count, one 20-byte entry SHORT 6 */
    uint8_t bt[48] = {'I', 'I', 43, 0, 8, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                      0x12, 1, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_INT_EQ(image_exif_orientation(bt, sizeof bt, IMAGE_FMT_TIFF), 6);

    /* PNG: iTXt "XML:com.adobe.xmp", compressed, holding tiff:Orientation="6" */
    static const char xmp[] = "<x:xmpmeta><rdf:Description tiff:Orientation=\"6\"/></x:xmpmeta>";
    uint8_t itxt[256], z[256];
    uLongf zn = sizeof z;
    compress(z, &zn, (const uint8_t *)xmp, sizeof xmp - 1);
    memcpy(itxt, "XML:com.adobe.xmp\0\1\0\0\0", 22);  /* flag 1, method 0, no language or translation */
    memcpy(itxt + 22, z, zn);
    uint8_t extra[300], png[1024];
    size_t ne = 0;
    png_chunk(extra, &ne, "iTXt", itxt, (uint32_t)(22 + zn));
    static const uint8_t row[3] = {1, 2, 3};
    size_t n = png_make(png, 1, 1, 2, row, 3, extra, ne);
    CHECK_INT_EQ(image_exif_orientation(png, n, IMAGE_FMT_PNG), 6);
    itxt[18] = 0;  /* the same bytes declared uncompressed: no readable XMP */
    ne = 0;
    png_chunk(extra, &ne, "iTXt", itxt, (uint32_t)(22 + zn));
    n = png_make(png, 1, 1, 2, row, 3, extra, ne);
    CHECK_INT_EQ(image_exif_orientation(png, n, IMAGE_FMT_PNG), 1);
}

/* Plain PNM tokens as Pillow reads them: Python's int() ("+5", "1_0", "-5" stored by o8 as its low
 * byte; "1__0", "_1" refused), a last token without whitespace after it fed again until the
 * image is full, and a plain bitmap refused for a bad character after its last pixel. */
static void test_pnm_tokens(void)
{
    static const struct {
        const char *data;
        uint8_t want[4];  /* grey values; want[0] 0 and want[1] 1: a refusal */
    } cases[] = {
        {"P2 +3 1 2_55\n+5 1_0 -5\n", {5, 10, 251}},
        {"P2 2 1 100\n-50 -1\n", {128, 253}},
        {"P2 4 1 255\n1 200", {1, 200, 200, 200}},
        {"P2 4 1 255\n1 200#c\n", {1, 200, 200, 200}},
        {"P2 4 1 255\n1 200\n", {0, 1}},
        {"P2 1 1 255\n1__0\n", {0, 1}},
        {"P2 1 1 255\n_10\n", {0, 1}},
        {"P2 2 1 1000\n-5 5\n", {0, 1}},  /* mode I: o32 of a negative raises */
        {"P1 2 1\n0 1 x", {0, 1}},
        {"P1 +2 1\n0 1\n", {255, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        deit_image img;
        char err[256] = "";
        const char *d = cases[i].data;
        int refuse = cases[i].want[0] == 0 && cases[i].want[1] == 1;
        int rc = image_decode((const uint8_t *)d, strlen(d), 1, MAXPIX, &img, err, sizeof err);
        if (refuse) {
            CHECK_MSG(rc == DEIT_EINVAL, "%s: %d, want a refusal", d, rc);
        } else {
            CHECK_MSG(rc == DEIT_OK, "%s: %d (%s)", d, rc, err);
            for (int k = 0; rc == DEIT_OK && k < img.width; k++)
                CHECK_MSG(img.pixels[k] == cases[i].want[k], "%s: pixel %d is %u, want %u", d, k,
                          img.pixels[k], cases[i].want[k]);
        }
        image_free(&img);
    }
}

/* A 40-byte DIB of w x h 24-bit pixels, all (r, g, b), for an ICO frame (height doubled, an AND
 * mask of zeros after the pixels) or bare. Returns the length written into b. */
static size_t dib24(uint8_t *b, int w, int h, int ico, uint8_t r, uint8_t g, uint8_t bl)
{
    size_t stride = ((size_t)w * 3 + 3) & ~(size_t)3, mstride = ((size_t)w + 31) / 32 * 4;
    size_t n = 40 + stride * h + (ico ? mstride * h : 0);
    memset(b, 0, n);
    b[0] = 40;
    b[4] = (uint8_t)w;
    b[8] = (uint8_t)(ico ? 2 * h : h);
    b[12] = 1;
    b[14] = 24;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = b + 40 + y * stride + 3 * x;
            px[0] = bl, px[1] = g, px[2] = r;
        }
    return n;
}

/* ICO: IcoImagePlugin shows the entry with the largest area, then the deepest colour, then the
 * last in the file; a BMP frame drops its AND mask (and is refused when that is cut short), a PNG
 * frame is a PNG. A bare DIB is a BMP without its file header. */
static void test_ico_dib(void)
{
    uint8_t f[4][256], ico[1200];
    size_t fl[4];
    fl[0] = dib24(f[0], 4, 4, 1, 10, 20, 30);   /* 4x4, 24 bits */
    fl[1] = dib24(f[1], 4, 4, 1, 40, 50, 60);   /* 4x4, declared 32 bits: deeper, wins over [0] */
    fl[2] = dib24(f[2], 8, 2, 1, 70, 80, 90);   /* 8x2: same area and depth as [0] */
    static const uint8_t row[15] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3};
    fl[3] = png_make(f[3], 5, 5, 2, row, 15, NULL, 0);  /* 5x5 PNG: the largest area */
    static const uint8_t dims[4][3] = {{4, 4, 24}, {4, 4, 32}, {8, 2, 24}, {5, 5, 32}};
    static const struct {
        int n, frames[4];
        uint8_t want[3];
        int w;
    } cases[] = {
        {2, {0, 2}, {70, 80, 90}, 8},  /* tie: the last */
        {2, {2, 0}, {10, 20, 30}, 4},
        {3, {1, 0, 2}, {40, 50, 60}, 4},  /* deeper colour first, whatever the order */
        {4, {0, 3, 1, 2}, {1, 2, 3}, 5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = 6 + 16 * (size_t)cases[c].n;
        memset(ico, 0, n);
        ico[2] = 1;
        ico[4] = (uint8_t)cases[c].n;
        for (int i = 0; i < cases[c].n; i++) {
            int k = cases[c].frames[i];
            uint8_t *e = ico + 6 + 16 * i;
            e[0] = dims[k][0];
            e[1] = dims[k][1];
            e[4] = 1;
            e[6] = dims[k][2];
            e[8] = (uint8_t)fl[k];
            e[12] = (uint8_t)n;
            e[13] = (uint8_t)(n >> 8);
            memcpy(ico + n, f[k], fl[k]);
            n += fl[k];
        }
        deit_image img;
        char err[256] = "";
        int rc = image_decode(ico, n, 3, MAXPIX, &img, err, sizeof err);
        CHECK_MSG(rc == DEIT_OK, "ICO case %zu: %d (%s)", c, rc, err);
        if (rc == DEIT_OK) {
            CHECK_INT_EQ(img.width, cases[c].w);
            CHECK_MSG(memcmp(img.pixels, cases[c].want, 3) == 0, "ICO case %zu: %u %u %u", c,
                      img.pixels[0], img.pixels[1], img.pixels[2]);
        }
        image_free(&img);
        if (c == 0) {  /* the AND mask of the frame shown cut short: Pillow refuses */
            CHECK_INT_EQ(image_decode(ico, n - 4, 3, MAXPIX, &img, err, sizeof err), DEIT_EINVAL);
            image_free(&img);
        }
    }
    uint8_t dib[256];
    size_t n = dib24(dib, 3, 2, 0, 7, 8, 9);
    static const uint8_t want[3] = {7, 8, 9};
    check_pixels("bare DIB", dib, n, 3, want, 3);
}

/* BMP palettes of more than 256 colours: Pillow compares entry i with o8(i) (i mod 256), so
 * repeated grey ramps open as L; any other such palette is too large ("invalid palette size"). */
static void test_bmp_many_colours(void)
{
    static uint8_t b[54 + 4 * 512 + 8], pal[4 * 512];
    static const uint8_t idx[4] = {1, 2, 200, 255}, want[4] = {1, 2, 200, 255};
    for (int i = 0; i < 512; i++)
        memset(pal + 4 * i, i & 255, 3);
    size_t n = bmp_make(b, 4, 8, 0, 300, pal, 4 * 300, idx, 4);
    check_pixels("BMP, 300 grey colours", b, n, 1, want, sizeof want);
    n = bmp_make(b, 4, 8, 0, 512, pal, 4 * 512, idx, 4);
    check_pixels("BMP, 512 grey colours", b, n, 1, want, sizeof want);
    pal[4 * 300] = 7;  /* one entry off the ramp */
    n = bmp_make(b, 4, 8, 0, 512, pal, 4 * 512, idx, 4);
    deit_image img;
    char err[256] = "";
    CHECK_INT_EQ(image_decode(b, n, 3, MAXPIX, &img, err, sizeof err), DEIT_EINVAL);
    CHECK_MSG(strstr(err, "palette size") != NULL, "512 colours: %s", err);
    image_free(&img);
}

/* A PNG left to stb_image as it is (here an APNG whose first frame data, fdAT, comes before IDAT)
 * with an unknown critical chunk: Pillow reads past it, and so must we; stb alone refused it, and
 * wrote the chunk's name into a static buffer other decoding threads share. The fdAT holds the
 * same image as IDAT, so Pillow's reading (from the fdAT) and stb's (from the IDAT) agree. */
static void test_png_unknown_critical_as_is(void)
{
    uint8_t b[1024], extra[512], z[256], raw[3 * 3];
    static const uint8_t row[2] = {70, 140}, want[4] = {70, 140, 70, 140};
    for (int y = 0; y < 3; y++) {
        raw[y * 3] = 0;
        memcpy(raw + y * 3 + 1, row, 2);
    }
    uLongf zn = sizeof z;
    compress(z, &zn, raw, sizeof raw);
    uint8_t actl[8] = {0, 0, 0, 1, 0, 0, 0, 0}, fctl[26] = {0}, fdat[260] = {0}, zzzz[5] = {1, 2, 3, 4, 5};
    put_be32(fctl + 4, 2);  /* seq 0, width 2 */
    put_be32(fctl + 8, 3);  /* height 3 */
    fctl[22] = 1;           /* delay 0/1 */
    put_be32(fdat, 1);      /* seq 1 */
    memcpy(fdat + 4, z, zn);
    for (int with_zzzz = 0; with_zzzz < 2; with_zzzz++) {
        size_t e = 0;
        png_chunk(extra, &e, "acTL", actl, 8);
        png_chunk(extra, &e, "fcTL", fctl, 26);
        if (with_zzzz)
            png_chunk(extra, &e, "ZZZZ", zzzz, 5);
        png_chunk(extra, &e, "fdAT", fdat, (uint32_t)zn + 4);
        size_t n = png_make(b, 2, 3, 0, row, 2, extra, e);
        check_pixels(with_zzzz ? "fdAT first, unknown critical chunk" : "fdAT first", b, n, 1, want, 4);
    }
}

/* A GIF whose frame has an identity local table (so Pillow's _is_palette_needed drops it) beside a
 * global table of black and white: Pillow applies the global palette for RGB, past its two entries
 * its grey ramp (indices 0 1 2 3 100 200 -> 0 255 2 3 100 200), while convert('L') copies the
 * indices. Once the identity table was taken for mode L in both. */
static void test_gif_identity_local_table(void)
{
    static const uint8_t idx[6] = {0, 1, 2, 3, 100, 200};
    uint8_t g[1024];
    size_t n;
    memcpy(g, "GIF89a\x06\x00\x01\x00\x80\x00\x00", 13); /* 6 x 1, a global table of 2 entries */
    n = 13;
    memcpy(g + n, "\x00\x00\x00\xff\xff\xff", 6);
    n += 6;
    memcpy(g + n, ",\x00\x00\x00\x00\x06\x00\x01\x00\x87", 10); /* a local table of 256 entries */
    n += 10;
    for (int i = 0; i < 256; i++) {
        g[n++] = (uint8_t)i;
        g[n++] = (uint8_t)i;
        g[n++] = (uint8_t)i;
    }
    g[n++] = 8; /* LZW minimum code size: 9-bit codes, clear 256, end 257 */
    uint16_t codes[8] = {256, 0, 1, 2, 3, 100, 200, 257};
    uint8_t lzw[9] = {0};
    for (int c = 0, bit = 0; c < 8; c++)
        for (int b = 0; b < 9; b++, bit++)
            lzw[bit / 8] |= (uint8_t)(((codes[c] >> b) & 1) << (bit % 8));
    g[n++] = sizeof lzw;
    memcpy(g + n, lzw, sizeof lzw);
    n += sizeof lzw;
    g[n++] = 0;
    g[n++] = ';';
    const uint8_t rgb[18] = {0, 0, 0, 255, 255, 255, 2, 2, 2, 3, 3, 3, 100, 100, 100, 200, 200, 200};
    check_pixels("GIF identity local table beside a global one, RGB", g, n, 3, rgb, sizeof rgb);
    check_pixels("GIF identity local table beside a global one, L", g, n, 1, idx, sizeof idx);
}

int main(void)
{
    test_png_palette();
    test_png_stream();
    test_png_unknown_critical_as_is();
    test_bmp_offset0();
    test_bmp_many_colours();
    test_tiff_palette();
    test_tiff_tiles();
    test_exif_orientation();
    test_pnm_tokens();
    test_ico_dib();
    test_gif_identity_local_table();
    return check_summary("test_image_formats");
}
