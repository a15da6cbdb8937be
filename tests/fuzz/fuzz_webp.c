/* fuzz_webp.c — libFuzzer target: the WebP (libwebp's animation decoder, first frame) decoder to RGB and L. */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_decode(data, size, IMAGE_FMT_WEBP);
}
