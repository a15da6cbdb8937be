/* image_internal.h — private interface between image.c and the per-codec decoders (not API). */
#ifndef DEIT_IMAGE_INTERNAL_H
#define DEIT_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* Pillow's convert('L') from RGB (Convert.c L24): ITU-R 601-2 luma in 16-bit fixed point with
 * the weights summing to 65536, so grey stays grey, rounded half up. */
static inline uint8_t image_luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* Fails with DEIT_ETOOBIG when width*height > max_pixels (no overflow: 64-bit product).
 * In image_limits.c, so that the decoders need nothing from image.c (which calls them). */
int image_check_pixels(int width, int height, size_t max_pixels, char *err, size_t errlen);

/* JPEG header only (libjpeg-turbo jpeg_read_header). */
int image_jpeg_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                    size_t errlen);

/* Full JPEG decode to `channels` (1 or 3), checking max_pixels after the header. */
int image_jpeg_decode(const uint8_t *data, size_t len, int channels, size_t max_pixels,
                      deit_image *out, char *err, size_t errlen);

/* Pillow's transpose for orientation o (TIFF Orientation tag / EXIF 0x0112; 1 or out of
 * range: unchanged). Rotations swap width and height. */
int image_orient(deit_image *img, int o, char *err, size_t errlen);

/* The refusals Pillow's PngImagePlugin adds to a decoder's: bad chunk CRCs before the image
 * data, short chunks its handlers index into, APNG sequence errors (image_png.c). */
int image_png_check(const uint8_t *data, size_t len, char *err, size_t errlen);

/* For a palette PNG (colour type 3): a malloc'd copy in *out (*outlen bytes) whose last PLTE
 * before the image data holds all 256 entries, Pillow's grey ramp past the file's own (one is
 * inserted when the file has none); *out NULL when the data needs no change. DEIT_ENOMEM when the
 * copy cannot be allocated (image_png_palette.c). */
int image_png_pad_palette(const uint8_t *data, size_t len, uint8_t **out, size_t *outlen);

/* The image data of a PNG inflated as Pillow reads it (image_png_idat.c): IDAT chunks in order
 * (fed in Pillow's 64 KiB reads), stopping at the last scan line or at the end of a zlib stream
 * that ends on a line boundary (the rest zeroed, black as in Pillow), refusing (DEIT_EINVAL) what
 * Pillow refuses: data that runs out or is interrupted by another chunk before the image is
 * complete, and zlib's errors in what it inflates (a bad adler32 read with the last line, a bad
 * window size). On success *filtered is a calloc'd copy of exactly the filtered size the IHDR
 * implies (*size bytes), *first_idat the offset of the first IDAT chunk; *filtered is NULL when
 * the file is left to stb as it is (no IDAT, an invalid IHDR, APNG fdAT data). */
int image_png_inflate(const uint8_t *data, size_t len, uint8_t **filtered, size_t *size,
                      size_t *first_idat, char *err, size_t errlen);

/* A malloc'd PNG in *out (*outlen bytes): data's first `first_idat` bytes (signature and chunks
 * before the image data), one IDAT chunk holding `raw` (n bytes) as stored deflate blocks with
 * its adler32 and CRC, then IEND (image_png_restream.c). DEIT_ENOMEM, or DEIT_ETOOBIG when the
 * data does not fit one chunk. */
int image_png_restream(const uint8_t *data, size_t first_idat, const uint8_t *raw, size_t n,
                       uint8_t **out, size_t *outlen);

/* The first GIF frame as Pillow's GifImagePlugin shows it (image_gif.c); the dimensions are
 * the logical screen grown to hold that frame. */
int image_gif_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen);
int image_gif_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen);

/* BMP as Pillow's BmpImagePlugin reads it (image_bmp.c). */
int image_bmp_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen);
int image_bmp_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen);
/* Where Pillow's BMP tile (the pixel data) starts in a BMP that image_bmp_info accepts. */
int image_bmp_data_offset(const uint8_t *data, size_t len, uint64_t *offset);

/* ICO (the image IcoImagePlugin picks, a BMP or PNG inside) and bare DIB (BMP without its file
 * header, Pillow's DibImageFile), image_ico.c. */
int image_ico_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen);
int image_ico_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen);
int image_dib_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen);
int image_dib_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen);

/* Netpbm P1-P6 as Pillow's PpmImagePlugin reads them (image_pnm.c). */
int image_pnm_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen);
int image_pnm_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen);

/* WebP (libwebp) and TIFF (libtiff, first page): header dimensions, and decoding of an image
 * whose dimensions image.c has already checked against the pixel limit. */
int image_webp_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                    size_t errlen);
int image_webp_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                      deit_image *out, char *err, size_t errlen);
int image_tiff_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                    size_t errlen);
int image_tiff_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                      deit_image *out, char *err, size_t errlen);

/* Whether stb_image recognises data as a format without a magic number (TGA); dimensions out. */
int image_stb_info(const uint8_t *data, size_t len, int *width, int *height);

/* Decodes an stb_image format whose dimensions (width x height) image.c has already checked
 * against the pixel limit. */
int image_stb_decode(const uint8_t *data, size_t len, image_format fmt, int channels, int width,
                     int height, deit_image *out, char *err, size_t errlen);

#endif
