/* fuzz_grpc.c — libFuzzer target: gRPC request messages as the server decodes them (server/grpc_codec.h):
 * ModelInferRequest into a v2_request, and the small requests (model name/version, health, empty). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input layout: byte 0, bits 0..4 = max_images - 1; the rest is the message, copied to a buffer of
 * exactly its size so ASan sees any over-read. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t max_images = 1 + (data[0] & 31);
    size_t len = size - 1;
    uint8_t *msg = malloc(len ? len : 1);
    if (!msg) abort();
    memcpy(msg, data + 1, len);

    gcodec_infer_request r;
    char err[256];
    int rc = gcodec_decode_infer(msg, len, max_images, &r, err, sizeof err);
    if (rc == V2_OK) {
        const v2_request *q = &r.req;
        if (q->n_images < 1 || q->n_images > max_images || !q->images || !q->input_name || q->n_outputs < 1 ||
            q->n_outputs > V2_OUT_COUNT || !r.model_name || !r.model_version)
            abort();
        for (int i = 0; i < q->n_outputs; i++)
            if ((unsigned)q->outputs[i].kind >= V2_OUT_COUNT || q->outputs[i].classification < 0) abort();
        unsigned sum = 0; /* touch every byte each image claims */
        for (size_t i = 0; i < q->n_images; i++)
            for (size_t k = 0; k < q->images[i].len; k++) sum += q->images[i].data[k];
        (void)sum;
    } else if (rc != V2_EINVAL && rc != V2_ETOOMANY && rc != V2_ENOMEM) {
        abort();
    } else if (!memchr(err, '\0', sizeof err) || !err[0]) {
        abort(); /* every refusal carries a message for the client */
    }
    gcodec_infer_request_free(&r);

    char *name, *version, *service;
    if (gcodec_decode_model_ref(msg, len, &name, &version) == 0) {
        if (!name || !version) abort();
        free(name);
        free(version);
    }
    if (gcodec_decode_health(msg, len, &service) == 0) free(service);
    (void)gcodec_decode_empty(msg, len);
    free(msg);
    return 0;
}
