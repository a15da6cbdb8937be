/* image_limits.c — the pixel limit every decoder checks from the header before allocating. */
#include "image_internal.h"

int image_check_pixels(int width, int height, size_t max_pixels, char *err, size_t errlen)
{
    uint64_t n = (uint64_t)width * (uint64_t)height;
    if (n > (uint64_t)max_pixels)
        return deit_fail(err, errlen, DEIT_ETOOBIG,
                         "image is %dx%d = %llu pixels, over the limit of %llu", width, height,
                         (unsigned long long)n, (unsigned long long)max_pixels);
    return DEIT_OK;
}
