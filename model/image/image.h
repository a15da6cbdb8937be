/* image.h — decode encoded images the way Pillow 9.4 (Debian 12's python3-pil) opens them, then
 * Image.convert('RGB' | 'L'), and resample them exactly as Pillow's Image.resize or torchvision's
 * resize of a uint8 tensor does.
 *
 * Formats (each file says which Pillow behaviour it follows): JPEG (libjpeg-turbo,
 * image_jpeg.c), PNG/APNG (stb_image + Pillow's chunk checks and palette, image_stb.c,
 * image_png.c, image_png_palette.c), GIF first frame (image_gif.c), BMP (image_bmp.c), PNM P1-P6
 * (image_pnm.c), TGA (image_tga.c), WebP (libwebp, image_webp.c), TIFF first page (libtiff +
 * LittleCMS, image_tiff.c), ICO (the image Pillow picks) and bare DIB through the BMP and PNG
 * decoders (image_ico.c); EXIF orientation on request (image_exif.c, image_orient.c).
 *
 * Every function bounds its reads by `len`, never assumes a NUL, checks the dimensions in the file
 * header against max_pixels *before* allocating pixel memory, and reports failure with a status
 * (DEIT_EINVAL malformed or truncated — Pillow refuses truncated files too — or a file Pillow
 * refuses; DEIT_ETOOBIG over the pixel limit or a JPEG with more than 1000 scans;
 * DEIT_EUNSUPPORTED unknown format or a layout Pillow cannot open) and a message. The format
 * comes from magic bytes; TGA, which has none, is tried last, with Pillow's TGA header checks.
 * Thread-safe: no shared mutable state (stb_image's failure reason and our allocation cap are
 * thread-local; libtiff reports through per-handle handlers).
 */
#ifndef DEIT_IMAGE_H
#define DEIT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* 8-bit interleaved pixels, row-major, `channels` bytes per pixel (1 = L, 3 = RGB). */
typedef struct {
    int width, height, channels;
    uint8_t *pixels;           /* malloc'd, owned by the image; free with image_free */
} deit_image;

typedef enum { IMAGE_FMT_UNKNOWN, IMAGE_FMT_JPEG, IMAGE_FMT_PNG, IMAGE_FMT_BMP, IMAGE_FMT_GIF,
               IMAGE_FMT_PNM, IMAGE_FMT_WEBP, IMAGE_FMT_TIFF, IMAGE_FMT_TGA, IMAGE_FMT_ICO,
               IMAGE_FMT_DIB } image_format;

typedef enum { INTERP_NEAREST, INTERP_BILINEAR, INTERP_BICUBIC } interp_mode;

/* Whose resampler image_resize_with reproduces. Both compute the same antialiased filter weights
 * in double; they quantise them differently, so about 0.25% of output bytes differ by one.
 *   RESAMPLE_PILLOW       Pillow's Image.resize (timm; transformers' slow processors): 22
 *                         fraction bits; NEAREST samples pixel centres.
 *   RESAMPLE_TORCHVISION  torchvision.transforms.v2.functional.resize(antialias=True) on a CPU
 *                         uint8 tensor (transformers' fast processors): torch's uint8 kernel with
 *                         int16 weights, the fraction bits chosen per axis so the largest weight
 *                         fits; bicubic's outer lobe evaluated as torch writes it; NEAREST is
 *                         torch's floor(o * in / out) in float. Bilinear assumes a CPU with AVX2:
 *                         without it torchvision resamples bilinear in float instead. */
typedef enum { RESAMPLE_PILLOW = 0, RESAMPLE_TORCHVISION } resample_impl;

/* Reads only the header: format and dimensions (0 on failure). Fewer than 2 bytes: DEIT_EINVAL;
 * no known signature: DEIT_EUNSUPPORTED "unsupported image format". Does not apply a pixel limit. */
int image_probe(const uint8_t *data, size_t len, image_format *fmt, int *width, int *height,
                char *err, size_t errlen);

/* Decodes `data[len]` into out with `channels` = 3 (Pillow convert('RGB'): grey replicated, alpha
 * dropped without compositing, palette expanded, CMYK/YCCK JPEG converted as Pillow does) or 1
 * (Pillow convert('L'): ITU-R 601-2 luma with Pillow's rounding). GIF: first frame. 16-bit PNG:
 * as Pillow reads it (colour: high byte; greyscale: values clipped to 255). Images with
 * width*height > max_pixels fail with DEIT_ETOOBIG before any pixel memory is allocated
 * (width*height == max_pixels passes). On failure *out is zeroed. */
int image_decode(const uint8_t *data, size_t len, int channels, size_t max_pixels, deit_image *out,
                 char *err, size_t errlen);

/* Pillow Image.resize(size, resample) with its default reducing_gap=None: separable two-pass
 * convolution (horizontal then vertical, in the order Pillow picks), antialiased support scaled by
 * the reduction factor, Pillow's fixed-point coefficients and rounding. dst is allocated here.
 * Same as image_resize_with(..., RESAMPLE_PILLOW, ...). */
int image_resize(const deit_image *src, int out_width, int out_height, interp_mode mode,
                 deit_image *dst, char *err, size_t errlen);

/* image_resize with the resampler of `impl` (see resample_impl); DEIT_EINVAL for an unknown one.
 * dst is allocated here; on failure it is zeroed. */
int image_resize_with(const deit_image *src, int out_width, int out_height, interp_mode mode,
                      resample_impl impl, deit_image *dst, char *err, size_t errlen);

/* Only the window [x0, x0+w) x [y0, y0+h) of the out_width x out_height image_resize_with result,
 * byte for byte the same pixels (a resize followed by a crop, without computing what the crop
 * drops). The window must lie inside the output; DEIT_EINVAL otherwise. */
int image_resize_window(const deit_image *src, int out_width, int out_height, int x0, int y0,
                        int w, int h, interp_mode mode, resample_impl impl, deit_image *dst,
                        char *err, size_t errlen);

/* Copies the rectangle [x, x+w) x [y, y+h) of src into dst (allocated here). The rectangle must lie
 * inside src. */
int image_crop(const deit_image *src, int x, int y, int w, int h, deit_image *dst, char *err,
               size_t errlen);

/* Pillow's ImageOps.exif_transpose on a decoded image: the Orientation (1..8) of data's EXIF
 * (JPEG APP1, PNG eXIf or ImageMagick's raw profile or XMP, WebP EXIF chunk, a TIFF's own first
 * directory — which Pillow has already applied once when loading, and applies again here, as
 * Pillow does) transposes img in place; no or an unknown orientation leaves it as it is. */
int image_exif_orientation(const uint8_t *data, size_t len, image_format fmt);
int image_exif_transpose(const uint8_t *data, size_t len, deit_image *img, char *err,
                         size_t errlen);

/* image_free(NULL) and freeing a zeroed image are no-ops. */
void image_free(deit_image *img);

#endif
