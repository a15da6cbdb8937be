/* fuzz_bmp.c — libFuzzer target: the BMP (own decoder: RLE4/RLE8, bitfields, palettes) decoder to RGB and L. */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_decode(data, size, IMAGE_FMT_BMP);
}
