/* fuzz_gif.c — libFuzzer target: the GIF (own LZW, Pillow's first-frame rules) decoder to RGB and L. */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_decode(data, size, IMAGE_FMT_GIF);
}
