/* image_exif.c — the EXIF Orientation (tag 0x0112) Pillow's ImageOps.exif_transpose acts on. */
#include "image.h"
#include "image_bytes.h"
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* The Orientation value of one directory entry as Pillow's exif_transpose looks it up: Orientation
 * is declared with one value, so ImageFileDirectory_v2 keeps values[0] whatever the count, and the
 * dict lookup matches an equal number of any kind (6, 6.0, 12/2). BYTE and UNDEFINED load as one
 * bytes object, which matches nothing. `v` is the first value's bytes (in the entry, or at its
 * offset), `type` the TIFF type. 0: no orientation Pillow would act on. */
static int orientation_value(const uint8_t *v, unsigned type, int be)
{
    switch (type) {
    case 6: return (int8_t)v[0];                                  /* SBYTE */
    case 3: return (int)image_uint(v, 2, be);                             /* SHORT */
    case 8: return (int16_t)image_uint(v, 2, be);                         /* SSHORT */
    case 4: case 13: return image_uint(v, 4, be) <= 8 ? (int)image_uint(v, 4, be) : 0;  /* LONG, IFD */
    case 9: return (int32_t)image_uint(v, 4, be);                         /* SLONG */
    case 16: return image_uint(v, 8, be) <= 8 ? (int)image_uint(v, 8, be) : 0;    /* LONG8 */
    case 5: case 10: {                                            /* RATIONAL, SRATIONAL */
        int64_t num = type == 5 ? (int64_t)image_uint(v, 4, be) : (int32_t)image_uint(v, 4, be);
        int64_t den = type == 5 ? (int64_t)image_uint(v + 4, 4, be) : (int32_t)image_uint(v + 4, 4, be);
        return den && num % den == 0 && num / den >= 0 && num / den <= 8 ? (int)(num / den) : 0;
    }
    case 11: case 12: {                                           /* FLOAT, DOUBLE */
        double f;
        if (type == 11) {
            uint32_t u = (uint32_t)image_uint(v, 4, be);
            float g;
            memcpy(&g, &u, 4);
            f = g;
        } else {
            uint64_t u = image_uint(v, 8, be);
            memcpy(&f, &u, 8);
        }
        return f >= 1 && f <= 8 && f == (int)f ? (int)f : 0;
    }
    default: return 0;  /* BYTE, UNDEFINED, ASCII ("6" is no match) */
    }
}

/* Orientation in a TIFF-structured EXIF block (Pillow's Exif.load: an "Exif\0\0" prefix is
 * skipped), first directory only, classic or BigTIFF. A later entry for the tag replaces an
 * earlier one, as in Pillow's dict; an entry Pillow skips (unknown type, no values) leaves the
 * earlier one, and one whose values lie past the end ends the directory (Pillow's read raises
 * there): no entry after it counts. */
static int tiff_orientation(const uint8_t *d, size_t len)
{
    if (len >= 6 && memcmp(d, "Exif\0\0", 6) == 0)
        d += 6, len -= 6;
    if (len < 8 || !((d[0] == 'I' && d[1] == 'I') || (d[0] == 'M' && d[1] == 'M')))
        return 0;
    int be = d[0] == 'M', big = image_uint(d + 2, 2, be) == 43;
    if (big && len < 16)
        return 0;
    int csz = big ? 8 : 2, esz = big ? 20 : 12, inl = big ? 8 : 4;
    uint64_t off = big ? image_uint(d + 8, 8, be) : image_uint(d + 4, 4, be);
    if (off > len || len - off < (uint64_t)csz)
        return 0;
    uint64_t n = image_uint(d + off, csz, be);
    int o = 0;
    for (uint64_t i = 0; i < n && (len - off - csz) / esz > i; i++) {
        const uint8_t *e = d + off + csz + esz * i;
        unsigned type = (unsigned)image_uint(e + 2, 2, be);
        uint64_t count = image_uint(e + 4, big ? 8 : 4, be);
        unsigned usz = image_tiff_type_size(type);
        if (!usz || count == 0)
            continue;  /* Pillow skips a tag of a type it does not know, and an empty one */
        const uint8_t *v = e + (big ? 12 : 8);
        if (count > (uint64_t)(inl / usz)) {  /* stored elsewhere */
            uint64_t at = image_uint(v, inl, be);
            /* data outside the block, of any tag: Pillow's read of it raises ("Truncated File
             * Read") and ends the whole directory, so no tag after it counts */
            if (count > len / usz || at > len || len - at < count * usz)
                break;
            v = d + at;
        }
        if (image_uint(e, 2, be) == 0x0112)
            o = orientation_value(v, type, be);
    }
    return o;
}

/* Pillow 9.4's Image.getexif also takes the orientation from XMP ("tiff:Orientation" followed by
 * =" or > and a digit) when EXIF has none; it reads XMP from PNG's "XML:com.adobe.xmp" text. */
static int xmp_orientation(const uint8_t *s, size_t n)
{
    static const char key[] = "tiff:Orientation";
    size_t k = sizeof key - 1;
    for (size_t i = 0; i + k < n; i++) {
        if (memcmp(s + i, key, k))
            continue;
        const uint8_t *p = s + i + k;
        size_t left = n - i - k;
        if (left >= 3 && p[0] == '=' && p[1] == '"' && p[2] >= '0' && p[2] <= '9')
            return p[2] - '0';
        if (left >= 2 && p[0] == '>' && p[1] >= '0' && p[1] <= '9')
            return p[1] - '0';
    }
    return 0;
}

static int hexval(uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* ImageMagick's "Raw profile type exif" text (tEXt, or zTXt inflated to at most 1 MiB — only the
 * first directory matters): the lines after the third are the EXIF block in hex (Image.getexif
 * reads it when there is no eXIf chunk). */
static int raw_profile_text(const uint8_t *txt, size_t n)
{
    size_t pos = 0;
    for (int lines = 0; pos < n && lines < 3; pos++)  /* "", "exif", the length */
        if (txt[pos] == '\n')
            lines++;
    uint8_t *bin = malloc(n / 2 + 1);
    if (!bin)
        return 0;
    size_t m = 0;
    int hi = -1;
    for (; pos < n; pos++) {
        int v = hexval(txt[pos]);
        if (v < 0)
            continue;  /* line breaks */
        if (hi < 0) {
            hi = v;
        } else {
            bin[m++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    int o = tiff_orientation(bin, m);
    free(bin);
    return o;
}

/* A zlib stream z[n] inflated to at most 1 MiB (Pillow's MAX_TEXT_CHUNK: it goes no further)
 * and handed to `parse`. Corrupt data (Pillow's zlib.error, which drops an iTXt chunk and empties
 * a zTXt one) gives -1, not what was inflated before it; a stream cut short gives what it had. */
static int inflated(const uint8_t *z, size_t n, int (*parse)(const uint8_t *, size_t))
{
    size_t cap = (size_t)1 << 20;
    uint8_t *txt = malloc(cap);
    int o = -1;
    if (!txt)
        return 0;
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit(&s) == Z_OK) {
        s.next_in = (uint8_t *)(uintptr_t)z;
        s.avail_in = (uInt)(n > 0x7FFFFFFF ? 0x7FFFFFFF : n);
        s.next_out = txt;
        s.avail_out = (uInt)cap;
        int zr = inflate(&s, Z_FINISH);
        if (zr != Z_DATA_ERROR && zr != Z_NEED_DICT)
            o = parse(txt, cap - s.avail_out);
        inflateEnd(&s);
    }
    free(txt);
    return o;
}

/* XMP text that Pillow keeps only when it is UTF-8 (iTXt's decode("utf-8", "strict")): its
 * orientation, or -1 for a text Pillow drops. */
static int utf8_xmp(const uint8_t *s, size_t n)
{
    return image_utf8_valid(s, n) ? xmp_orientation(s, n) : -1;
}

/* XMP in an iTXt chunk's data s[n] after its keyword (PngStream.chunk_iTXt): compression flag,
 * method, language\0, translated keyword\0, then the text, zlib-compressed when the flag is set.
 * -1 for a chunk Pillow leaves out of its info: cut short, another compression method than 0, a
 * corrupt stream, a text that is not UTF-8. */
static int itxt_xmp(const uint8_t *s, size_t n)
{
    if (n < 2)
        return -1;
    int compressed = s[0] != 0, method = s[1];
    const uint8_t *p = s + 2, *end = s + n;
    for (int k = 0; k < 2; k++) {  /* language tag, translated keyword */
        const uint8_t *z = memchr(p, 0, (size_t)(end - p));
        if (!z)
            return -1;
        p = z + 1;
    }
    if (!compressed)
        return utf8_xmp(p, (size_t)(end - p));
    return method == 0 ? inflated(p, (size_t)(end - p), utf8_xmp) : -1;
}

/* Pillow's PngStream stores each chunk in its info under a key, a later chunk overwriting an
 * earlier one: the last eXIf, the last "Raw profile type exif" text (tEXt or zTXt) and the last
 * XMP text (iTXt or tEXt) count, except an iTXt chunk Pillow drops (itxt_xmp's -1). */
static int png_orientation(const uint8_t *d, size_t len)
{
    int exif = 0, have_exif = 0, raw = 0, xmp = 0;
    for (size_t pos = 8; pos <= len && len - pos >= 12;) {
        uint32_t n = image_be32(d + pos);
        if ((uint64_t)n + 12 > len - pos)
            break;
        const uint8_t *t = d + pos + 4, *s = d + pos + 8;
        if (!memcmp(t, "eXIf", 4)) {
            exif = tiff_orientation(s, n);
            have_exif = 1;
        } else if (!memcmp(t, "zTXt", 4) && n > 23 && !memcmp(s, "Raw profile type exif\0", 22)) {
            /* after the compression byte; corrupt data is Pillow's zlib.error: an empty text */
            int o = inflated(s + 23, n - 23, raw_profile_text);
            raw = o < 0 ? 0 : o;
        } else if (!memcmp(t, "tEXt", 4) && n > 22 && !memcmp(s, "Raw profile type exif\0", 22)) {
            raw = raw_profile_text(s + 22, n - 22);
        } else if (!memcmp(t, "iTXt", 4) && n > 18 && !memcmp(s, "XML:com.adobe.xmp\0", 18)) {
            int o = itxt_xmp(s + 18, n - 18);
            if (o >= 0)
                xmp = o;
        } else if (!memcmp(t, "tEXt", 4) && n > 18 && !memcmp(s, "XML:com.adobe.xmp\0", 18)) {
            xmp = xmp_orientation(s + 18, n - 18);
        }
        pos += (size_t)n + 12;
    }
    int o = have_exif ? exif : raw;
    return o ? o : xmp;
}

static int jpeg_orientation(const uint8_t *d, size_t len)
{
    for (size_t pos = 2; pos <= len && len - pos >= 4;) {
        if (d[pos] != 0xFF)
            return 0;
        uint8_t m = d[pos + 1];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) || m == 0xFF) {
            pos += m == 0xFF ? 1 : 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9)
            return 0;  /* image data: no APP1 before it */
        size_t n = (size_t)d[pos + 2] << 8 | d[pos + 3];
        if (n < 2 || n > len - pos - 2)
            return 0;
        if (m == 0xE1 && n - 2 >= 6 && !memcmp(d + pos + 4, "Exif\0\0", 6))
            return tiff_orientation(d + pos + 4, n - 2);
        pos += 2 + n;
    }
    return 0;
}

static int webp_orientation(const uint8_t *d, size_t len)
{
    for (size_t pos = 12; pos <= len && len - pos >= 8;) {  /* an odd last chunk pads past the end */
        uint32_t n = image_uint(d + pos + 4, 4, 0);
        if (n > len - pos - 8)
            return 0;
        if (!memcmp(d + pos, "EXIF", 4))
            return tiff_orientation(d + pos + 8, n);
        pos += 8 + (size_t)n + (n & 1);
    }
    return 0;
}

int image_exif_orientation(const uint8_t *data, size_t len, image_format fmt)
{
    int o = 0;
    if (!data)
        return 1;
    if (fmt == IMAGE_FMT_JPEG)
        o = jpeg_orientation(data, len);
    else if (fmt == IMAGE_FMT_PNG && len >= 8)
        o = png_orientation(data, len);
    else if (fmt == IMAGE_FMT_WEBP && len >= 12)
        o = webp_orientation(data, len);
    else if (fmt == IMAGE_FMT_TIFF)
        o = tiff_orientation(data, len);  /* the image's own directory (already applied once) */
    return o >= 1 && o <= 8 ? o : 1;
}

int image_exif_transpose(const uint8_t *data, size_t len, deit_image *img, char *err,
                         size_t errlen)
{
    image_format fmt;
    int w, h;
    if (image_probe(data, len, &fmt, &w, &h, err, errlen) != DEIT_OK)
        return DEIT_OK;
    if (fmt == IMAGE_FMT_TGA)
        return image_tga_exif_copy(data, len, img, err, errlen);
    return image_orient(img, image_exif_orientation(data, len, fmt), err, errlen);
}
