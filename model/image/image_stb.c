/* image_stb.c — PNG decoding with stb_image, converted as Pillow does. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* stb_image's allocations are capped per decode: a PNG whose IDAT inflates far past what its
 * header announces (a zlib bomb) would otherwise grow stb's output buffer by doubling until
 * malloc fails. The cap is thread-local (each decode sets it for its own thread), the one piece
 * of mutable state here; 0 means no decode is running and nothing is refused. */
static _Thread_local size_t stb_alloc_cap;

static void *stb_malloc(size_t n)
{
    return (stb_alloc_cap && n > stb_alloc_cap) ? NULL : malloc(n);
}

static void *stb_realloc(void *p, size_t n)
{
    return (stb_alloc_cap && n > stb_alloc_cap) ? NULL : realloc(p, n);
}

#define STBI_MALLOC(sz) stb_malloc(sz)
#define STBI_REALLOC(p, sz) stb_realloc(p, sz)
#define STBI_FREE(p) free(p)
/* Formats with magic numbers or trivially bounded headers; PSD, HDR (float) and PIC are left
 * out, JPEG goes to libjpeg-turbo (Pillow's decoder) instead. */
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS (1 << 24)
/* The failure reason is a global, but C11 makes stb declare it _Thread_local (STBI_THREAD_LOCAL),
 * so concurrent decodes do not see each other's messages. */
#define STB_IMAGE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

#if !defined(STBI_THREAD_LOCAL)
#error "stb_image failure reasons must be thread-local (compile as C11)"
#endif

/* stb's reason for the last failure on this thread; stb leaves it unset on some truncations. */
static const char *failure_reason(void)
{
    const char *r = stbi_failure_reason();
    return r && *r ? r : "truncated or corrupt data";
}

/* Conversions follow Pillow's convert('RGB') / convert('L') on the mode Pillow opens the file
 * in:
 * - channels 3: stb's own req_comp = 3 conversion is already Pillow's (grey replicated, alpha
 *   dropped without compositing, palette expanded; 16-bit samples keep their high byte, which
 *   is Pillow's RGB;16B / LA;16B / RGBA;16B unpacking).
 * - channels 1: grey sources load as one channel; colour ones as RGB, then Pillow's L24 luma
 *   (stb's own RGB→Y uses other weights).
 * - 16-bit greyscale PNG: Pillow opens it as mode I;16 and convert('RGB'/'L') *clips* each
 *   value to 255 (Convert.c I16_RGB / I16L_L) rather than taking the high byte, so a typical
 *   16-bit grey image comes out almost white. Reproduced, odd as it is.
 * (GIF, BMP, PNM and TGA have their own decoders: stb's differ from Pillow on transparency, RLE,
 * palettes, maxval and TGA's colormaps.) */
static int stb_decode(const uint8_t *data, size_t len, image_format fmt, int channels, int width,
                      int height, deit_image *out, char *err, size_t errlen)
{
    int w = 0, h = 0, n = 0, got = 0;
    size_t npix = (size_t)width * (size_t)height;
    uint8_t *pixels = NULL;
    void *raw = NULL;

    if (len > INT_MAX)
        return deit_fail(err, errlen, DEIT_ETOOBIG, "image data over 2 GiB");
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &n))
        return deit_fail(err, errlen, DEIT_EINVAL, "cannot decode image: %s", failure_reason());
    if (w != width || h != height)
        return deit_fail(err, errlen, DEIT_EINVAL, "image header is inconsistent");
    int grey = n <= 2;
    int grey16 = fmt == IMAGE_FMT_PNG && n == 1 && stbi_is_16_bit_from_memory(data, (int)len);
    int req = (channels == 1 && grey) ? 1 : 3;

    /* Largest legitimate allocation: 16-bit RGBA plus PNG filter bytes, doubled by stb's
     * inflate buffer growth; a little slack for palettes. */
    stb_alloc_cap = 2 * (npix * 8 + (size_t)height) + ((size_t)1 << 20);
    if (grey16)
        raw = stbi_load_16_from_memory(data, (int)len, &w, &h, &got, 1);
    else
        raw = stbi_load_from_memory(data, (int)len, &w, &h, &got, req);
    stb_alloc_cap = 0;
    if (!raw)
        return deit_fail(err, errlen, DEIT_EINVAL, "cannot decode image: %s", failure_reason());
    if (w != width || h != height) {
        stbi_image_free(raw);
        return deit_fail(err, errlen, DEIT_EINVAL, "image header is inconsistent");
    }

    if (grey16) {
        const uint16_t *s = raw;
        pixels = malloc(npix * channels);
        if (pixels) {
            for (size_t i = 0; i < npix; i++) {
                uint8_t v = s[i] > 255 ? 255 : (uint8_t)s[i];
                for (int c = 0; c < channels; c++)
                    pixels[i * channels + c] = v;
            }
        }
        stbi_image_free(raw);
    } else if (req == channels) {
        pixels = raw;  /* stb allocates with malloc (STBI_MALLOC above), so image_free applies */
    } else {           /* colour source, one channel wanted */
        const uint8_t *s = raw;
        pixels = malloc(npix);
        if (pixels) {
            for (size_t i = 0; i < npix; i++)
                pixels[i] = image_luma(s[3 * i], s[3 * i + 1], s[3 * i + 2]);
        }
        stbi_image_free(raw);
    }
    if (!pixels)
        return deit_fail(err, errlen, DEIT_ENOMEM, "out of memory");
    out->width = w;
    out->height = h;
    out->channels = channels;
    out->pixels = pixels;
    return DEIT_OK;
}

/* A file left to stb_image as it is (image_png_inflate did not restream it: an odd or broken one)
 * without its unknown critical chunks, in *png (NULL when it has none). Pillow reads past any
 * chunk it does not know; stb refuses a critical one, and writes its name into a static buffer
 * for the message, which decoders on other threads share. Chunks are walked while whole; what
 * follows (a truncated chunk) is kept as it is. 0 when out of memory. */
static int without_unknown_critical(const uint8_t *d, size_t len, uint8_t **png, size_t *pnglen)
{
    *png = NULL;
    *pnglen = 0;
    if (len < 8)
        return 1;
    size_t n = 0, pos = 8;
    while (len - pos >= 12) {
        uint64_t whole = (uint64_t)image_be32(d + pos) + 12;
        if (whole > len - pos)
            break;
        const uint8_t *t = d + pos + 4;
        int known = !memcmp(t, "IHDR", 4) || !memcmp(t, "PLTE", 4) || !memcmp(t, "IDAT", 4) ||
                    !memcmp(t, "IEND", 4);
        if (!(t[0] & 0x20) && !known) { /* bit 5 of the first byte clear: critical */
            if (!*png) {
                if (!(*png = malloc(len)))
                    return 0;
                memcpy(*png, d, pos);
                n = pos;
            }
        } else if (*png) {
            memcpy(*png + n, d + pos, (size_t)whole);
            n += (size_t)whole;
        }
        pos += (size_t)whole;
    }
    if (*png) { /* the tail that is not a whole chunk, as it was */
        memcpy(*png + n, d + pos, len - pos);
        n += len - pos;
    }
    *pnglen = n;
    return 1;
}

/* Replaces *data with a PNG whose image data is what Pillow reads from it, stored uncompressed
 * (image_png_inflate); *owned takes the new buffer (the caller frees it).
 * Why every PNG and not only those stb refuses: the two differ both ways on the compressed stream
 * (stb never checks the adler32 or the window size; Pillow stops at the last scan line and keeps
 * a stream that ends early on a line boundary), and telling which files stb would get wrong
 * takes the inflate anyway. So zlib inflates once, as Pillow does, and stb's own inflater only
 * copies stored blocks: no PNG is inflated twice. Measured (2-core VM, busy): a 2000x1500 photo
 * PNG decodes in about the time stb alone took, a 224x224 one faster, but a very compressible
 * 2000x1500 one (a flat screenshot) takes about 1.8 times as long (35 -> 65 ms), zlib being
 * slower than stb on long matches. The other price is memory: the filtered image is held twice
 * (our copy and stb's) where stb held the compressed data and one filtered copy. */
static int png_restream(const uint8_t **data, size_t *len, uint8_t **owned, char *err, size_t errlen)
{
    uint8_t *png;
    size_t pnglen;
    int rc = image_png_inflate(*data, *len, &png, &pnglen, err, errlen);
    if (rc == DEIT_OK && !png)
        rc = without_unknown_critical(*data, *len, &png, &pnglen) ? DEIT_OK
             : deit_fail(err, errlen, DEIT_ENOMEM, "out of memory");
    if (rc != DEIT_OK || !png)
        return rc;
    free(*owned);
    *owned = png;
    *data = png;
    *len = pnglen;
    return DEIT_OK;
}

/* A palette PNG goes through image_png_pad_palette first (see there why), then every PNG
 * through png_restream. */
int image_stb_decode(const uint8_t *data, size_t len, image_format fmt, int channels, int width,
                     int height, deit_image *out, char *err, size_t errlen)
{
    uint8_t *owned = NULL;
    size_t padded_len;

    memset(out, 0, sizeof *out);
    /* stb refuses these from the header; said first, before a PNG's data is inflated for nothing */
    if (width > STBI_MAX_DIMENSIONS || height > STBI_MAX_DIMENSIONS)
        return deit_fail(err, errlen, DEIT_EINVAL, "cannot decode image: too large");
    if (fmt == IMAGE_FMT_PNG) {
        if (image_png_pad_palette(data, len, &owned, &padded_len) != DEIT_OK)
            return deit_fail(err, errlen, DEIT_ENOMEM, "out of memory");
        if (owned) {
            data = owned;
            len = padded_len;
        }
        int rc = png_restream(&data, &len, &owned, err, errlen);
        if (rc != DEIT_OK) {
            free(owned);
            return rc;
        }
    }
    int rc = stb_decode(data, len, fmt, channels, width, height, out, err, errlen);
    free(owned);
    return rc;
}
