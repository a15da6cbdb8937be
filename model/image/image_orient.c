/* image_orient.c — Pillow's Image.transpose for the eight TIFF/EXIF orientations (1..8). */
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

/* Orientation o -> the transpose Pillow applies (TiffImagePlugin.load_end and
 * ImageOps.exif_transpose use the same table): 2 FLIP_LEFT_RIGHT, 3 ROTATE_180,
 * 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90; anything else leaves
 * the image as it is. Output pixel (x, y) is read from input pixel (sx, sy). */
int image_orient(deit_image *img, int o, char *err, size_t errlen)
{
    if (o < 2 || o > 8 || !img->pixels)
        return DEIT_OK;
    int W = img->width, H = img->height, n = img->channels;
    int swap = o >= 5;
    int ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *px = malloc((size_t)W * H * n);
    if (!px)
        return deit_fail(err, errlen, DEIT_ENOMEM, "orientation: out of memory");
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = W - 1 - x; sy = y; break;
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;
            case 4: sx = x; sy = H - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = H - 1 - x; break;
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;
            default: sx = W - 1 - y; sy = x; break;  /* 8 */
            }
            memcpy(px + ((size_t)y * ow + x) * n, img->pixels + ((size_t)sy * W + sx) * n,
                   (size_t)n);
        }
    free(img->pixels);
    img->pixels = px;
    img->width = ow;
    img->height = oh;
    return DEIT_OK;
}
