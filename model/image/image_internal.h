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

/* 1 when p[n] is UTF-8 as Python's strict decoder takes it (no overlong forms, surrogates or code
 * points past U+10FFFF). */
int image_utf8_valid(const uint8_t *p, size_t n);
/* Pillow's bounds on text chunks (image_png_text.c): for a tEXt, zTXt or iTXt chunk (type, s[n];
 * other types pass), adds the text Pillow keeps from it to *memory and returns Pillow's refusal
 * (a compressed text over 1 MiB, over 64 MiB of text in all), or NULL. */
const char *image_png_text_problem(const uint8_t *type, const uint8_t *s, uint32_t n, uint64_t *memory);

/* For a palette PNG (colour type 3): a malloc'd copy in *out (*outlen bytes) whose last PLTE
 * before the image data holds all 256 entries, Pillow's grey ramp past the file's own (one is
 * inserted when the file has none); *out NULL when the data needs no change. DEIT_ENOMEM when the
 * copy cannot be allocated (image_png_palette.c). */
int image_png_pad_palette(const uint8_t *data, size_t len, uint8_t **out, size_t *outlen);

/* The PNG stb_image decodes in place of a PNG file (image_png_restream.c): the file's bytes up to
 * its first IDAT chunk, one IDAT chunk whose zlib stream stores the n bytes of filtered image
 * data uncompressed (64 KiB deflate blocks), IEND; the IHDR's compression method 0 and interlace
 * method 0 or 1, as Pillow reads them. stored_open allocates it (png, len: malloc'd,
 * the caller's to free) with the data bytes unwritten (DEIT_ENOMEM, or DEIT_ETOOBIG when they do
 * not fit one chunk); stored_at gives where data byte `off` goes and how many follow it in the
 * same block; stored_close writes the stream's adler32 (of all n bytes). */
typedef struct {
    uint8_t *png;
    size_t len;
    uint8_t *blocks;  /* the first stored block, inside png */
    size_t n;
} png_stored;
int image_png_stored_open(const uint8_t *data, size_t first_idat, size_t n, png_stored *s);
uint8_t *image_png_stored_at(const png_stored *s, size_t off, size_t *room);
void image_png_stored_close(png_stored *s, uint32_t adler);

/* The image data of a PNG inflated as Pillow 9.4 reads it (image_png_idat.c): IDAT chunks in
 * order, fed in Pillow's 64 KiB reads, inflated a scan line at a time, stopping at the last line
 * or at the end of a zlib stream that ends on a line boundary (the lines after it zero: black, as
 * in Pillow); refusing (DEIT_EINVAL) what Pillow refuses: data that runs out or is interrupted by
 * another chunk before the image is complete, an IDAT cut short after it, zlib's errors in what
 * it inflates (a bad adler32 read with the last line, a bad window size), unknown filter types.
 * Never inflates more than the filtered size the IHDR implies. On success *png (*pnglen bytes,
 * malloc'd) is the file rebuilt around that data by image_png_stored_open; NULL when the file is
 * left to stb as it is (no IDAT, an IHDR stb refuses, APNG fdAT image data). */
int image_png_inflate(const uint8_t *data, size_t len, uint8_t **png, size_t *pnglen, char *err,
                      size_t errlen);

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

/* TGA as Pillow's TgaImagePlugin reads it (image_tga.c). It has no magic number: the info
 * call fails with DEIT_EUNSUPPORTED "unsupported image format" when the header is not TGA. */
int image_tga_info(const uint8_t *data, size_t len, int *width, int *height, char *err,
                   size_t errlen);
int image_tga_decode(const uint8_t *data, size_t len, int channels, int width, int height,
                     deit_image *out, char *err, size_t errlen);
/* ImageOps.exif_transpose on a decoded TGA (which has no EXIF): Pillow's copy() changes what
 * convert('L') gives for an L image with a colormap, which this redoes on a 1-channel img. */
int image_tga_exif_copy(const uint8_t *data, size_t len, deit_image *img, char *err,
                        size_t errlen);

/* Decodes an stb_image format whose dimensions (width x height) image.c has already checked
 * against the pixel limit. */
int image_stb_decode(const uint8_t *data, size_t len, image_format fmt, int channels, int width,
                     int height, deit_image *out, char *err, size_t errlen);

#endif
