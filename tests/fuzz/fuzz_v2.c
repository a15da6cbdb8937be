/* fuzz_v2.c — libFuzzer target: KServe v2 infer requests, JSON and binary-data forms (api/v2.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "v2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input layout: byte 0: bit 0 set = binary-data extension, bits 1..5 = max_images - 1. With
 * bit 0, bytes 1..2 are Inference-Header-Content-Length (little-endian; it may exceed the body,
 * which the parser must refuse). The rest is the body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int binary = data[0] & 1;
    size_t max_images = 1 + ((data[0] >> 1) & 31);
    long long header_len = -1;
    size_t skip = 1;
    if (binary) {
        if (size < 3) return 0;
        header_len = data[1] | data[2] << 8;
        skip = 3;
    }
    size_t len = size - skip;
    uint8_t *body = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
    if (!body) abort();
    memcpy(body, data + skip, len);

    v2_request r;
    char err[256];
    int rc = v2_parse_request(body, len, header_len, max_images, &r, err, sizeof err);
    if (rc == V2_OK) {
        if (r.n_images < 1 || r.n_images > max_images || !r.images || !r.input_name || r.n_outputs < 1 ||
            r.n_outputs > V2_OUT_COUNT)
            abort();
        for (int i = 0; i < r.n_outputs; i++)
            if ((unsigned)r.outputs[i].kind >= V2_OUT_COUNT || r.outputs[i].classification < 0) abort();
        unsigned sum = 0; /* touch every byte each blob claims */
        for (size_t i = 0; i < r.n_images; i++)
            for (size_t k = 0; k < r.images[i].len; k++) sum += r.images[i].data[k];
        (void)sum;
    } else if (rc != V2_EINVAL && rc != V2_ETOOMANY && rc != V2_ENOMEM) {
        abort();
    }
    v2_request_free(&r);

    /* The base64 decoder on its own, into a buffer of exactly the documented bound. */
    uint8_t *out = malloc(3 * (len / 4) + 2);
    if (!out) abort();
    long long n = v2_base64_decode((const char *)body, len, out);
    if (n < -1 || n > (long long)(3 * (len / 4) + 2)) abort();
    free(out);
    free(body);
    return 0;
}
