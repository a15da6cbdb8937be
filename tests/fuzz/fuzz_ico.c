/* fuzz_ico.c — libFuzzer target: ICO (entry choice, BMP or PNG frame, AND mask) to RGB and L. */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_decode(data, size, IMAGE_FMT_ICO);
}
