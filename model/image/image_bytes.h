/* image_bytes.h — fixed-width integers in the byte orders image files store them: PNG and EXIF
 * big-endian, BMP/ICO/GIF/TGA little-endian, TIFF either. The caller has checked the bytes are there. */
#ifndef DEIT_IMAGE_BYTES_H
#define DEIT_IMAGE_BYTES_H

#include <stdint.h>

static inline uint32_t image_le16(const uint8_t *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}

static inline uint32_t image_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline uint32_t image_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void image_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An unsigned integer of n (1..8) bytes in either order (TIFF and EXIF say which: be != 0 for
 * big-endian "MM", 0 for little-endian "II"). */
static inline uint64_t image_uint(const uint8_t *p, int n, int be)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[be ? i : n - 1 - i] << (8 * (n - 1 - i));
    return v;
}

/* Bytes per value of a TIFF/EXIF directory entry's type, as Pillow 9.4's directory reader knows
 * them (ImageFileDirectory_v2._load_dispatch); 0 for a type it does not know (it skips the entry). */
static inline unsigned image_tiff_type_size(uint64_t type)
{
    static const uint8_t size[17] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8};
    return type <= 16 ? size[type] : 0;
}

/* A PNG chunk type as Pillow's ChunkStream.read accepts it: four characters of Python's \w. */
static inline int image_png_chunk_type_ok(const uint8_t *t)
{
    for (int i = 0; i < 4; i++) {
        uint8_t c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

#endif
