/* fuzz_tga.c — libFuzzer target: TGA (own decoder: colormaps, RLE, orientation, the headers
 * earlier Pillow plugins claim) to RGB and L. */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_decode(data, size, IMAGE_FMT_TGA);
}
